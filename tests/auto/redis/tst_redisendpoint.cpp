// SPDX-License-Identifier: MIT
#include "redisendpoint_p.h"

#include <QtTest/QTest>

using DistributedPromiseRedis::Endpoint;

class tst_RedisEndpoint : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void valid_data();
    void valid();
    void invalid_data();
    void invalid();
    void rediss();
    void sentinel();
    void cluster();
    void topologyErrors_data();
    void topologyErrors();
    void displayNameHasNoPassword();
};

void tst_RedisEndpoint::valid_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("isUnix");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("socketPath");
    QTest::addColumn<QByteArray>("user");
    QTest::addColumn<QByteArray>("password");
    QTest::addColumn<int>("db");

    QTest::newRow("host only") << QStringLiteral("redis://example.org") << false
                               << QStringLiteral("example.org") << 6379 << QString() << QByteArray()
                               << QByteArray() << 0;
    QTest::newRow("host port db") << QStringLiteral("redis://10.1.2.3:7000/5") << false
                                  << QStringLiteral("10.1.2.3") << 7000 << QString() << QByteArray()
                                  << QByteArray() << 5;
    QTest::newRow("trailing slash")
        << QStringLiteral("redis://localhost:6380/") << false << QStringLiteral("localhost") << 6380
        << QString() << QByteArray() << QByteArray() << 0;
    QTest::newRow("password only") << QStringLiteral("redis://:s3cret@127.0.0.1:6379/1") << false
                                   << QStringLiteral("127.0.0.1") << 6379 << QString()
                                   << QByteArray() << QByteArrayLiteral("s3cret") << 1;
    QTest::newRow("user and password")
        << QStringLiteral("redis://alice:p%40ss%3Aword@cache.local:6390/15") << false
        << QStringLiteral("cache.local") << 6390 << QString() << QByteArrayLiteral("alice")
        << QByteArrayLiteral("p@ss:word") << 15;
    QTest::newRow("db as query") << QStringLiteral("redis://h:1/?db=3") << false
                                 << QStringLiteral("h") << 1 << QString() << QByteArray()
                                 << QByteArray() << 3;
    QTest::newRow("ipv6") << QStringLiteral("redis://[::1]:6379/2") << false
                          << QStringLiteral("::1") << 6379 << QString() << QByteArray()
                          << QByteArray() << 2;
    QTest::newRow("unix") << QStringLiteral("unix:///run/redis/redis.sock") << true
                          << QStringLiteral("127.0.0.1") << 6379
                          << QStringLiteral("/run/redis/redis.sock") << QByteArray() << QByteArray()
                          << 0;
    QTest::newRow("unix db") << QStringLiteral("unix:///tmp/r.sock?db=2") << true
                             << QStringLiteral("127.0.0.1") << 6379 << QStringLiteral("/tmp/r.sock")
                             << QByteArray() << QByteArray() << 2;
    QTest::newRow("unix password")
        << QStringLiteral("unix:///tmp/r.sock?db=4&password=pw%26x") << true
        << QStringLiteral("127.0.0.1") << 6379 << QStringLiteral("/tmp/r.sock") << QByteArray()
        << QByteArrayLiteral("pw&x") << 4;
    QTest::newRow("upper-case scheme")
        << QStringLiteral("REDIS://Example.org:1234") << false << QStringLiteral("example.org")
        << 1234 << QString() << QByteArray() << QByteArray() << 0;
}

void tst_RedisEndpoint::valid()
{
    QFETCH(QString, url);
    QFETCH(bool, isUnix);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, socketPath);
    QFETCH(QByteArray, user);
    QFETCH(QByteArray, password);
    QFETCH(int, db);

    Endpoint endpoint;
    QString error;
    QVERIFY2(Endpoint::parse(QUrl(url), &endpoint, &error), qPrintable(error));
    QVERIFY(error.isEmpty());
    QCOMPARE(endpoint.transport == Endpoint::Transport::Unix, isUnix);
    if (isUnix) {
        QCOMPARE(endpoint.socketPath, socketPath);
    } else {
        QCOMPARE(endpoint.host, host);
        QCOMPARE(int(endpoint.port), port);
    }
    QCOMPARE(endpoint.user, user);
    QCOMPARE(endpoint.password, password);
    QCOMPARE(endpoint.db, db);
}

void tst_RedisEndpoint::invalid_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("mentions"); // a word the error must contain

    QTest::newRow("bad scheme") << QStringLiteral("http://u:hunter2@host:6379/0")
                                << QStringLiteral("unknown scheme 'http'");
    QTest::newRow("no scheme") << QStringLiteral("localhost:6379") << QStringLiteral("scheme");
    QTest::newRow("missing host") << QStringLiteral("redis://:hunter2@:6379/0")
                                  << QStringLiteral("host is missing");
    QTest::newRow("missing host, path only")
        << QStringLiteral("redis:///0") << QStringLiteral("host is missing");
    QTest::newRow("db not a number")
        << QStringLiteral("redis://:hunter2@host:6379/abc") << QStringLiteral("database number");
    QTest::newRow("negative db") << QStringLiteral("redis://host/-1")
                                 << QStringLiteral("database number");
    QTest::newRow("db with extra path")
        << QStringLiteral("redis://host/1/2") << QStringLiteral("database number");
    QTest::newRow("bad db query") << QStringLiteral("redis://host:1/?db=x&password=hunter2")
                                  << QStringLiteral("db must be");
    QTest::newRow("unix bad db") << QStringLiteral("unix:///tmp/r.sock?db=two&password=hunter2")
                                 << QStringLiteral("db must be");
    QTest::newRow("unix no path") << QStringLiteral("unix://") << QStringLiteral("socket path");
    QTest::newRow("user without password")
        << QStringLiteral("redis://alice@host:6379") << QStringLiteral("needs a password");
    QTest::newRow("port out of range") << QStringLiteral("redis://bob:hunter2@host:99999/0")
                                       << QStringLiteral("invalid Redis URL");
    QTest::newRow("empty") << QString() << QStringLiteral("invalid Redis URL");
}

void tst_RedisEndpoint::invalid()
{
    QFETCH(QString, url);
    QFETCH(QString, mentions);

    Endpoint endpoint;
    endpoint.db = 42; // must stay untouched on failure
    QString error;
    QVERIFY(!Endpoint::parse(QUrl(url), &endpoint, &error));
    QVERIFY2(error.contains(mentions), qPrintable(error));
    QVERIFY2(error.startsWith(QStringLiteral("invalid Redis URL")), qPrintable(error));
    QVERIFY2(!error.contains(QStringLiteral("hunter2")), qPrintable(error));
    QCOMPARE(endpoint.db, 42);
}

void tst_RedisEndpoint::rediss()
{
    Endpoint endpoint;
    QString error;
    const QUrl url(QStringLiteral("rediss://:hunter2@host:6380/2?cacert=/etc/ca.pem&sni=cache"));
    if (!Endpoint::tlsSupported()) {
        // Built without hiredis_ssl: a clear error, never a silent plain-text connection.
        QVERIFY(!Endpoint::parse(url, &endpoint, &error));
        QVERIFY2(error.contains(QStringLiteral("TLS")), qPrintable(error));
        QVERIFY2(error.contains(QStringLiteral("not supported")), qPrintable(error));
        QVERIFY2(!error.contains(QStringLiteral("hunter2")), qPrintable(error));
        return;
    }
    QVERIFY2(Endpoint::parse(url, &endpoint, &error), qPrintable(error));
    QVERIFY(endpoint.tls);
    QCOMPARE(endpoint.caCertFile, QStringLiteral("/etc/ca.pem"));
    QCOMPARE(endpoint.serverName, QStringLiteral("cache"));
    QCOMPARE(endpoint.db, 2);
    QVERIFY(!Endpoint::parse(QUrl(QStringLiteral("rediss://host?cert=/c.pem")), &endpoint, &error));
    QVERIFY2(error.contains(QStringLiteral("cert and key go together")), qPrintable(error));
    QVERIFY(
        !Endpoint::parse(QUrl(QStringLiteral("redis://host?cacert=/ca.pem")), &endpoint, &error));
    QVERIFY2(error.contains(QStringLiteral("need rediss://")), qPrintable(error));
}

void tst_RedisEndpoint::sentinel()
{
    Endpoint endpoint;
    QString error;
    QVERIFY2(Endpoint::parse(QUrl(QStringLiteral("redis+sentinel://:hunter2@10.0.0.1/cache/2"
                                                 "?sentinel=10.0.0.2:26380&sentinel=[::1]")),
                 &endpoint, &error),
        qPrintable(error));
    QCOMPARE(endpoint.topology, Endpoint::Topology::Sentinel);
    QCOMPARE(endpoint.masterName, QStringLiteral("cache"));
    QCOMPARE(endpoint.db, 2);
    QCOMPARE(endpoint.password, QByteArrayLiteral("hunter2"));
    const QList<Endpoint::Address> seeds { { QStringLiteral("10.0.0.1"), 26379 },
        { QStringLiteral("10.0.0.2"), 26380 }, { QStringLiteral("::1"), 26379 } };
    QCOMPARE(endpoint.seeds, seeds);
    QCOMPARE(endpoint.displayName(), QStringLiteral("master 'cache' (Sentinel at 10.0.0.1:26379)"));

    // The resolved master keeps the credentials and the database, and is a plain server.
    const Endpoint master = endpoint.server({ QStringLiteral("10.0.0.9"), 6390 });
    QCOMPARE(master.topology, Endpoint::Topology::Server);
    QCOMPARE(master.password, QByteArrayLiteral("hunter2"));
    QCOMPARE(master.db, 2);
    QCOMPARE(master.displayName(), QStringLiteral("10.0.0.9:6390"));
}

void tst_RedisEndpoint::cluster()
{
    Endpoint endpoint;
    QString error;
    QVERIFY2(Endpoint::parse(QUrl(QStringLiteral("redis+cluster://bob:hunter2@node1:7000"
                                                 "?node=node2:7001&node=node3&node=node1:7000")),
                 &endpoint, &error),
        qPrintable(error));
    QCOMPARE(endpoint.topology, Endpoint::Topology::Cluster);
    const QList<Endpoint::Address> seeds { { QStringLiteral("node1"), 7000 },
        { QStringLiteral("node2"), 7001 }, { QStringLiteral("node3"), 6379 } };
    QCOMPARE(endpoint.seeds, seeds); // the duplicate is dropped
    QCOMPARE(endpoint.user, QByteArrayLiteral("bob"));
    QCOMPARE(endpoint.displayName(), QStringLiteral("cluster at node1:7000"));
}

void tst_RedisEndpoint::topologyErrors_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("mentions");

    QTest::newRow("sentinel without master name")
        << QStringLiteral("redis+sentinel://:hunter2@host:26379") << QStringLiteral("master name");
    QTest::newRow("sentinel bad db")
        << QStringLiteral("redis+sentinel://host/m/x") << QStringLiteral("database number");
    QTest::newRow("sentinel bad seed") << QStringLiteral("redis+sentinel://host/m?sentinel=a:b:c")
                                       << QStringLiteral("'sentinel=a:b:c' is not a host:port");
    QTest::newRow("cluster with db") << QStringLiteral("redis+cluster://:hunter2@host:7000/3")
                                     << QStringLiteral("no database number");
    QTest::newRow("cluster db query")
        << QStringLiteral("redis+cluster://host:7000?db=1") << QStringLiteral("only database 0");
    QTest::newRow("cluster seed with password")
        << QStringLiteral("redis+cluster://host?node=u:hunter2@h2:1")
        << QStringLiteral("'node=...@h2:1' holds credentials");
    QTest::newRow("cluster without host")
        << QStringLiteral("redis+cluster://:7000") << QStringLiteral("host is missing");
}

void tst_RedisEndpoint::topologyErrors()
{
    QFETCH(QString, url);
    QFETCH(QString, mentions);

    Endpoint endpoint;
    QString error;
    QVERIFY(!Endpoint::parse(QUrl(url), &endpoint, &error));
    QVERIFY2(error.contains(mentions), qPrintable(error));
    QVERIFY2(error.startsWith(QStringLiteral("invalid Redis URL")), qPrintable(error));
}

void tst_RedisEndpoint::displayNameHasNoPassword()
{
    Endpoint endpoint;
    QString error;
    QVERIFY2(Endpoint::parse(QUrl(QStringLiteral("redis://alice:hunter2@db.example:7001/3")),
                 &endpoint, &error),
        qPrintable(error));
    QCOMPARE(endpoint.displayName(), QStringLiteral("db.example:7001"));

    QVERIFY2(Endpoint::parse(
                 QUrl(QStringLiteral("unix:///tmp/x.sock?password=hunter2")), &endpoint, &error),
        qPrintable(error));
    QCOMPARE(endpoint.displayName(), QStringLiteral("/tmp/x.sock"));
}

QTEST_GUILESS_MAIN(tst_RedisEndpoint)
#include "tst_redisendpoint.moc"
