// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>

#include <charconv>

namespace DistributedPromiseRedis {

/*!
    Writes \a args into \a out (cleared first) as one RESP command, an array of bulk strings:
    binary-safe, and cheaper than hiredis's printf-style builder when \a out is reused.
*/
inline void writeCommand(QByteArray &out, const QList<QByteArray> &args)
{
    const auto appendHeader = [&out](char kind, qsizetype count) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, count).ptr;
        out.append(kind).append(digits, end - digits).append("\r\n", 2);
    };
    out.clear();
    appendHeader('*', args.size());
    for (const QByteArray &arg : args) {
        appendHeader('$', arg.size());
        out.append(arg).append("\r\n", 2);
    }
}

} // namespace DistributedPromiseRedis
