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

bool parseAddress(const QString &host, int port, Endpoint::Address *address, QString *why)
{
    if (host.isEmpty()) {
        *why = QStringLiteral("the host is missing");
        return false;
    }
    if (port <= 0 || port > 65535) {
        *why = QStringLiteral("the port is out of range");
        return false;
    }
    address->host = host;
    address->port = quint16(port);
    return true;
}
} // namespace

bool Endpoint::parse(const QUrl &url, Endpoint *endpoint, QString *error)
{
    const auto fail = [&](const QString &why) {
        *error = QStringLiteral(
            "invalid Redis URL: %1; expected redis[s]://[user:password@]host[:port][/db],"
            " unix:///path/to/socket, redis+sentinel://host[:port]/mastername[/db]"
            "[?sentinel=host:port] or redis+cluster://host[:port][?node=host:port]")
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
    // The first seed is the URL's authority; more come as repeated query items.
    const auto readSeeds = [&](const QString &item, quint16 defaultPort, QString *why) {
        Address first;
        if (!parseAddress(url.host(), url.port(defaultPort), &first, why))
            return false;
        result.seeds.append(first);
        const QStringList more = query.allQueryItemValues(item, QUrl::FullyDecoded);
        for (const QString &text : more) {
            QUrl seed(QStringLiteral("redis://") + text);
            Address address;
            if (!seed.isValid() || !seed.userInfo().isEmpty() || !seed.path().isEmpty()
                || !parseAddress(seed.host(), seed.port(defaultPort), &address, why)) {
                // Never echo credentials put where they do not belong.
                const qsizetype at = text.lastIndexOf(QLatin1Char('@'));
                *why = at < 0 ? QStringLiteral("'%1=%2' is not a host:port").arg(item, text)
                              : QStringLiteral("'%1=...@%2' holds credentials; only host:port "
                                               "goes there (the URL's own user and password "
                                               "serve every node)")
                                    .arg(item, text.mid(at + 1));
                return false;
            }
            if (!result.seeds.contains(address))
                result.seeds.append(address);
        }
        result.host = first.host;
        result.port = first.port;
        return true;
    };
    QString why;
    const QString path = url.path();
    if (scheme == QLatin1String("redis") || (scheme == QLatin1String("rediss") && tlsSupported())) {
        if (!readSeeds(QString(), 6379, &why))
            return fail(why);
        result.seeds.clear();
        if (!path.isEmpty() && path != QLatin1String("/") && !parseDb(path.mid(1), &result.db))
            return fail(QStringLiteral("the path must be a database number like /0"));
        result.tls = scheme == QLatin1String("rediss");
        const auto file = [&](const char *item) {
            return query.queryItemValue(QLatin1String(item), QUrl::FullyDecoded);
        };
        result.caCertFile = file("cacert");
        result.certFile = file("cert");
        result.keyFile = file("key");
        result.serverName = file("sni");
        if (result.certFile.isEmpty() != result.keyFile.isEmpty())
            return fail(
                QStringLiteral("cert and key go together (a client certificate and its key)"));
        if (!result.tls && (!result.caCertFile.isEmpty() || !result.certFile.isEmpty()))
            return fail(QStringLiteral("cacert, cert and key need rediss://"));
    } else if (scheme == QLatin1String("redis+sentinel")) {
        result.topology = Topology::Sentinel;
        if (!readSeeds(QStringLiteral("sentinel"), 26379, &why))
            return fail(why);
        const QStringList parts = path.mid(1).split(QLatin1Char('/'));
        result.masterName = parts.value(0);
        if (result.masterName.isEmpty())
            return fail(QStringLiteral("the master name is missing (redis+sentinel://host/name)"));
        if (parts.size() > 2 || (parts.size() == 2 && !parseDb(parts.at(1), &result.db)))
            return fail(QStringLiteral("after the master name only a database number may follow"));
    } else if (scheme == QLatin1String("redis+cluster")) {
        result.topology = Topology::Cluster;
        if (!readSeeds(QStringLiteral("node"), 6379, &why))
            return fail(why);
        if (!path.isEmpty() && path != QLatin1String("/"))
            return fail(QStringLiteral("a cluster has no database number or path"));
    } else if (scheme == QLatin1String("unix")) {
        if (path.isEmpty())
            return fail(QStringLiteral("the socket path is missing"));
        result.transport = Transport::Unix;
        result.socketPath = path;
    } else if (scheme == QLatin1String("rediss")) { // and no TLS in this build
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
    if (result.topology == Topology::Cluster && result.db != 0)
        return fail(QStringLiteral("a cluster has only database 0"));
    if (!result.user.isEmpty() && result.password.isEmpty())
        return fail(QStringLiteral("a user name needs a password"));

    *endpoint = result;
    return true;
}

bool Endpoint::tlsSupported()
{
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
    return true;
#else
    return false;
#endif
}

Endpoint Endpoint::server(const Address &address) const
{
    Endpoint result;
    result.tls = tls;
    result.caCertFile = caCertFile;
    result.certFile = certFile;
    result.keyFile = keyFile;
    result.serverName = serverName;
    result.host = address.host;
    result.port = address.port;
    result.user = user;
    result.password = password;
    result.db = db;
    return result;
}

QString Endpoint::Address::toString() const
{
    if (host.contains(QLatin1Char(':')))
        return QStringLiteral("[%1]:%2").arg(host).arg(port);
    return host + QLatin1Char(':') + QString::number(port);
}

QString Endpoint::displayName() const
{
    switch (topology) {
    case Topology::Sentinel:
        return QStringLiteral("master '%1' (Sentinel at %2)")
            .arg(masterName, seeds.value(0).toString());
    case Topology::Cluster:
        return QStringLiteral("cluster at %1").arg(seeds.value(0).toString());
    case Topology::Server:
        break;
    }
    if (transport == Transport::Unix)
        return socketPath;
    return Address { host, port }.toString();
}

} // namespace DistributedPromiseRedis
