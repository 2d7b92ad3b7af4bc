// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QUrl>

namespace DistributedPromiseRedis {

/*!
    Where Redis is and how to log in, parsed from a URL:
    - redis://[[user]:password@]host[:port][/db]
    - rediss://...[?cacert=/ca.pem&cert=/client.pem&key=/client.key&sni=name] (when built with
      hiredis_ssl)
    - unix:///path/to/socket[?db=N&password=...]
    - redis+sentinel://[[user]:password@]sentinel[:port]/mastername[/db][?sentinel=host:port...]
    - redis+cluster://[[user]:password@]node[:port][?node=host:port...]

    For Sentinel and Cluster, host and port name the first seed (a sentinel, or a cluster node);
    seeds lists them all. The credentials are those of the Redis servers, not of the sentinels.
*/
struct Endpoint
{
    enum class Transport { Tcp, Unix };
    enum class Topology { Server, Sentinel, Cluster };
    struct Address
    {
        QString host;
        quint16 port = 0;
        bool operator==(const Address &other) const
        {
            return port == other.port && host == other.host;
        }
        QString toString() const;
    };

    Topology topology = Topology::Server;
    Transport transport = Transport::Tcp;
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 6379;
    QString socketPath;
    QByteArray user;
    QByteArray password;
    int db = 0;
    /*! rediss://: TLS, verified against caCertFile (or the system's CAs when empty); a client
        certificate when certFile and keyFile are set; serverName for SNI (default: host). */
    bool tls = false;
    QString caCertFile;
    QString certFile;
    QString keyFile;
    QString serverName;
    /*! Sentinel: the sentinels; Cluster: the nodes to read the slot map from. */
    QList<Address> seeds;
    /*! Sentinel: the name the sentinels monitor the master under. */
    QString masterName;

    /*! This endpoint's credentials and database on another server (a resolved master, a
        cluster node), as a plain Tcp server endpoint. */
    Endpoint server(const Address &address) const;

    /*! This build can speak TLS (rediss://). */
    static bool tlsSupported();

    /*! Parses \a url; on failure returns false and sets \a error to a sentence saying what to fix.
     */
    static bool parse(const QUrl &url, Endpoint *endpoint, QString *error);

    /*! host:port or the socket path (for Sentinel, "master <name> via host:port"); never the
        password. */
    QString displayName() const;
};

} // namespace DistributedPromiseRedis
