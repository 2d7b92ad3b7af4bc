// SPDX-License-Identifier: MIT
#include "redisendpoint_p.h"

#include <QtCore/QUrlQuery>

namespace DistributedPromiseRedis {

namespace {
bool parseDb(const QString &text, int *db)
{
    bool ok = false;
    const int value = text.toInt(&ok);
    if (!ok || value < 0)
        return false;
    *db = value;
    return true;
}
} // namespace

bool Endpoint::parse(const QUrl &url, Endpoint *endpoint, QString *error)
{
    const auto fail = [&](const QString &why) {
        *error = QStringLiteral(
            "invalid Redis URL: %1; expected redis://[user:password@]host[:port][/db]"
            " or unix:///path/to/socket")
                     .arg(why);
        return false;
    };
    if (!url.isValid()) {
        // QUrl::errorString() quotes the whole URL after a ';', password included: keep only
        // the part before it.
        QString why = url.errorString();
        const qsizetype cut = why.indexOf(QLatin1Char(';'));
        if (cut >= 0)
            why.truncate(cut);
        return fail(QStringLiteral("it does not parse (%1)").arg(why));
    }

    Endpoint result;
    const QString scheme = url.scheme().toLower();
    const QUrlQuery query(url);
    if (scheme == QLatin1String("redis")) {
        if (url.host().isEmpty())
            return fail(QStringLiteral("the host is missing"));
        result.transport = Transport::Tcp;
        result.host = url.host();
        const int port = url.port(6379);
        if (port <= 0 || port > 65535)
            return fail(QStringLiteral("the port is out of range"));
        result.port = quint16(port);
        const QString path = url.path();
        if (!path.isEmpty() && path != QLatin1String("/") && !parseDb(path.mid(1), &result.db))
            return fail(QStringLiteral("the path must be a database number like /0"));
    } else if (scheme == QLatin1String("unix")) {
        if (url.path().isEmpty())
            return fail(QStringLiteral("the socket path is missing"));
        result.transport = Transport::Unix;
        result.socketPath = url.path();
    } else if (scheme == QLatin1String("rediss")) {
        *error = QStringLiteral("rediss:// (TLS) is not supported by this build; use redis:// on a "
                                "trusted network or unix://");
        return false;
    } else {
        return fail(QStringLiteral("unknown scheme '%1'").arg(url.scheme()));
    }

    result.user = url.userName(QUrl::FullyDecoded).toUtf8();
    result.password = url.password(QUrl::FullyDecoded).toUtf8();
    if (query.hasQueryItem(QStringLiteral("password")))
        result.password
            = query.queryItemValue(QStringLiteral("password"), QUrl::FullyDecoded).toUtf8();
    if (query.hasQueryItem(QStringLiteral("db"))
        && !parseDb(query.queryItemValue(QStringLiteral("db")), &result.db))
        return fail(QStringLiteral("db must be a non-negative number"));
    if (!result.user.isEmpty() && result.password.isEmpty())
        return fail(QStringLiteral("a user name needs a password"));

    *endpoint = result;
    return true;
}

QString Endpoint::displayName() const
{
    if (transport == Transport::Unix)
        return socketPath;
    return host + QLatin1Char(':') + QString::number(port);
}

} // namespace DistributedPromiseRedis
