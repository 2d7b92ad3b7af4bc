// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise_export.h"

#include <QtCore/QByteArray>
#include <QtCore/QString>
#include <QtCore/QUrl>

namespace DistributedPromiseRedis {

/*!
    Where a Redis server is and how to log in, parsed from a URL:
    redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket[?db=N&password=...].
*/
struct DISTRIBUTEDPROMISE_EXPORT Endpoint
{
    enum class Transport { Tcp, Unix };

    Transport transport = Transport::Tcp;
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 6379;
    QString socketPath;
    QByteArray user;
    QByteArray password;
    int db = 0;

    /*! Parses \a url; on failure returns false and sets \a error to a sentence saying what to fix.
     */
    static bool parse(const QUrl &url, Endpoint *endpoint, QString *error);

    /*! host:port or the socket path; never the password. */
    QString displayName() const;
};

} // namespace DistributedPromiseRedis
