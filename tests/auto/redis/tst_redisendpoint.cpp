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
    QVERIFY(
        !Endpoint::parse(QUrl(QStringLiteral("rediss://:hunter2@host:6380/0")), &endpoint, &error));
    QVERIFY2(error.contains(QStringLiteral("TLS")), qPrintable(error));
    QVERIFY2(error.contains(QStringLiteral("not supported")), qPrintable(error));
    QVERIFY2(!error.contains(QStringLiteral("hunter2")), qPrintable(error));
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
