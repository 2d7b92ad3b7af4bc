// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>

#include <charconv>
#include <cstring>

namespace DistributedPromiseRedis {

/*!
    Writes \a args into \a out (replacing its contents) as one RESP command, an array of bulk
    strings: binary-safe, and cheaper than hiredis's printf-style builder when \a out is reused.
    The size is summed first and the buffer resized once; resize() keeps the capacity a reused
    buffer has (clear() would free it in Qt 6), so a steady stream of commands allocates nothing.
*/
inline void writeCommand(QByteArray &out, const QList<QByteArray> &args)
{
    // A header is the kind, at most 20 digits, and CRLF.
    constexpr qsizetype maxHeader = 1 + 20 + 2;
    qsizetype bound = maxHeader;
    for (const QByteArray &arg : args)
        bound += maxHeader + arg.size() + 2;
    out.resize(bound);
    char *const begin = out.data();
    char *at = begin;
    const auto writeHeader = [&at](char kind, qsizetype count) {
        *at++ = kind;
        at = std::to_chars(at, at + 20, count).ptr;
        *at++ = '\r';
        *at++ = '\n';
    };
    writeHeader('*', args.size());
    for (const QByteArray &arg : args) {
        writeHeader('$', arg.size());
        if (!arg.isEmpty())
            std::memcpy(at, arg.constData(), size_t(arg.size()));
        at += arg.size();
        *at++ = '\r';
        *at++ = '\n';
    }
    out.truncate(at - begin);
}

} // namespace DistributedPromiseRedis
