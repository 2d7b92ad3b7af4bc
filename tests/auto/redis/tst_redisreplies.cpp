// SPDX-License-Identifier: MIT
#include "redisconnection_p.h"
#include "redisserver.h"
#include "redistest.h"

#include <QtCore/QUrlQuery>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using DistributedPromiseRedis::Connection;
using DistributedPromiseRedis::Endpoint;
using DistributedPromiseRedis::Reply;
using DistributedPromiseTest::RedisServer;
using RedisTest::call;
using RedisTest::describe;

class tst_RedisReplies : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void nil();
    void status();
    void errorIsAValue();
    void integer();
    void bulkString();
    void nestedArray();
    void binarySafe_data();
    void binarySafe();
    void pipelinedInOrder();
    void futureAndCallbackAgree();
    void authentication();
    void wrongPassword();
    void selectsDatabaseFromUrl();
    void unixSocket();

private:
    std::unique_ptr<RedisServer> m_server;
    std::unique_ptr<Connection> m_connection;
};

void tst_RedisReplies::initTestCase()
{
    m_server = std::make_unique<RedisServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    bool ok = false;
    const Endpoint endpoint = RedisTest::endpointOf(m_server->url(), &ok);
    QVERIFY(ok);
    m_connection = std::make_unique<Connection>(endpoint);
    m_connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(m_connection->isConnected(), 5000);
}

void tst_RedisReplies::cleanupTestCase()
{
    m_connection.reset();
    m_server.reset();
}

void tst_RedisReplies::nil()
{
    const Reply reply = call(*m_connection, { "GET", "dptest:missing" });
    QVERIFY2(reply.isNil(), describe(reply).constData());
    QVERIFY(!reply.isAnyError());
}

void tst_RedisReplies::status()
{
    Reply reply = call(*m_connection, { "SET", "dptest:status", "v" });
    QCOMPARE(reply.type, Reply::Type::Status);
    QCOMPARE(reply.string, QByteArrayLiteral("OK"));

    reply = call(*m_connection, { "PING" });
    QCOMPARE(reply.type, Reply::Type::Status);
    QCOMPARE(reply.string, QByteArrayLiteral("PONG"));
}

void tst_RedisReplies::errorIsAValue()
{
    // A server error reply finishes the future with a value, not with an exception.
    QFuture<Reply> future = m_connection->command({ "NOSUCHCOMMAND", "x" });
    QVERIFY(RedisTest::waitFor(future));
    QVERIFY(!future.isCanceled());
    QCOMPARE(future.resultCount(), 1);
    Reply reply = future.result();
    QCOMPARE(reply.type, Reply::Type::Error);
    QVERIFY(reply.isError());
    QVERIFY(reply.isAnyError());
    QVERIFY(!reply.isFailure());
    QVERIFY2(reply.string.startsWith("ERR unknown command"), reply.string.constData());
    QCOMPARE(reply.toError().code(), DistributedPromiseError::RedisError);

    // Wrong type on an existing key: an error reply too, and the connection stays usable.
    QCOMPARE(call(*m_connection, { "SET", "dptest:text", "abc" }).string, QByteArrayLiteral("OK"));
    reply = call(*m_connection, { "INCR", "dptest:text" });
    QVERIFY2(reply.isError(), describe(reply).constData());
    QVERIFY(m_connection->isConnected());
    QCOMPARE(call(*m_connection, { "PING" }).string, QByteArrayLiteral("PONG"));
}

void tst_RedisReplies::integer()
{
    call(*m_connection, { "DEL", "dptest:counter" });
    Reply reply = call(*m_connection, { "INCRBY", "dptest:counter", "41" });
    QCOMPARE(reply.type, Reply::Type::Integer);
    QCOMPARE(reply.integer, 41);
    reply = call(*m_connection, { "INCRBY", "dptest:counter", "-9223372036854775807" });
    QCOMPARE(reply.type, Reply::Type::Integer);
    QCOMPARE(reply.integer, Q_INT64_C(41) - Q_INT64_C(9223372036854775807));
}

void tst_RedisReplies::bulkString()
{
    const QByteArray big(300 * 1024, 'x'); // bigger than one read buffer
    QCOMPARE(call(*m_connection, { "SET", "dptest:big", big }).string, QByteArrayLiteral("OK"));
    const Reply reply = call(*m_connection, { "GET", "dptest:big" });
    QCOMPARE(reply.type, Reply::Type::String);
    QCOMPARE(reply.string.size(), big.size());
    QVERIFY(reply.string == big);

    QCOMPARE(call(*m_connection, { "SET", "dptest:empty", QByteArray() }).string,
        QByteArrayLiteral("OK"));
    const Reply empty = call(*m_connection, { "GET", "dptest:empty" });
    QCOMPARE(empty.type, Reply::Type::String); // an empty string is not nil
    QVERIFY(empty.string.isEmpty());
}

void tst_RedisReplies::nestedArray()
{
    const QByteArray script
        = QByteArrayLiteral("return {1, 'two', {3, {'four', redis.status_reply('FIVE')}}, "
                            "redis.error_reply('SIX'), {}}");
    const Reply reply = call(*m_connection, { "EVAL", script, "0" });
    QVERIFY2(reply.isArray(), describe(reply).constData());
    QCOMPARE(reply.elements.size(), 5);
    QCOMPARE(describe(reply.elements.at(0)), QByteArrayLiteral("integer 1"));
    QCOMPARE(describe(reply.elements.at(1)), QByteArrayLiteral("string two"));
    QCOMPARE(describe(reply.elements.at(2)),
        QByteArrayLiteral("[integer 3, [string four, status FIVE]]"));
    // Redis 7 puts "ERR " in front of an error without a code; older servers do not.
    QVERIFY2(reply.elements.at(3).isError() && reply.elements.at(3).string.endsWith("SIX"),
        describe(reply.elements.at(3)).constData());
    QCOMPARE(reply.elements.at(2).elements.at(1).elements.at(0).string, QByteArrayLiteral("four"));
    QVERIFY(reply.elements.at(4).isArray());
    QVERIFY(reply.elements.at(4).elements.isEmpty());

    // A nil inside an array, from MGET.
    call(*m_connection, { "SET", "dptest:a", "1" });
    const Reply mget = call(*m_connection, { "MGET", "dptest:a", "dptest:missing" });
    QCOMPARE(describe(mget), QByteArrayLiteral("[string 1, nil]"));
}

void tst_RedisReplies::binarySafe_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("value");

    QTest::newRow("nul bytes") << QByteArrayLiteral("dptest:bin:nul") << QByteArray("a\0b\0\0c", 6);
    QTest::newRow("not utf-8") << QByteArrayLiteral("dptest:bin:latin")
                               << QByteArray("\xff\xfe\xc3\x28\x80\x00\xf0\x9f", 8);
    QTest::newRow("crlf inside") << QByteArrayLiteral("dptest:bin:crlf")
                                 << QByteArrayLiteral("line\r\n$3\r\nfoo\r\n*1\r\n");
    QTest::newRow("binary key") << QByteArray("dptest:\0\xff\r\nkey", 13) << QByteArray("\0", 1);
    QByteArray all;
    for (int i = 0; i < 256; ++i)
        all.append(char(i));
    QTest::newRow("every byte") << QByteArrayLiteral("dptest:bin:all") << all;
}

void tst_RedisReplies::binarySafe()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, value);

    QCOMPARE(call(*m_connection, { "SET", key, value }).string, QByteArrayLiteral("OK"));
    const Reply reply = call(*m_connection, { "GET", key });
    QCOMPARE(reply.type, Reply::Type::String);
    QCOMPARE(reply.string.size(), value.size());
    QCOMPARE(reply.string, value);
    QCOMPARE(call(*m_connection, { "STRLEN", key }).integer, qint64(value.size()));
}

void tst_RedisReplies::pipelinedInOrder()
{
    constexpr int count = 10000;
    call(*m_connection, { "DEL", "dptest:pipeline" });

    int answered = 0;
    int outOfOrder = 0;
    int wrong = 0;
    for (int i = 0; i < count; ++i) {
        m_connection->command({ "INCR", "dptest:pipeline" }, [&, i](const Reply &reply) {
            if (answered != i)
                ++outOfOrder;
            if (!reply.isInteger() || reply.integer != i + 1)
                ++wrong;
            ++answered;
        });
    }
    QVERIFY(m_connection->pendingCount() >= count);
    QCOMPARE(answered, 0); // never called back from inside command()
    QTRY_COMPARE_WITH_TIMEOUT(answered, count, 10000);
    QCOMPARE(outOfOrder, 0);
    QCOMPARE(wrong, 0);
    QCOMPARE(m_connection->pendingCount(), 0);
    QCOMPARE(call(*m_connection, { "GET", "dptest:pipeline" }).string, QByteArray::number(count));
}

void tst_RedisReplies::futureAndCallbackAgree()
{
    // The same command through both APIs, interleaved, answered in order.
    QList<QFuture<Reply>> futures;
    QList<qint64> viaCallback;
    call(*m_connection, { "DEL", "dptest:mixed" });
    for (int i = 0; i < 100; ++i) {
        if (i % 2)
            futures.append(m_connection->command({ "INCR", "dptest:mixed" }));
        else
            m_connection->command({ "INCR", "dptest:mixed" },
                [&](const Reply &reply) { viaCallback.append(reply.integer); });
    }
    QTRY_COMPARE_WITH_TIMEOUT(viaCallback.size(), 50, 5000);
    QVERIFY(RedisTest::waitFor(futures.constLast()));
    for (int i = 0; i < 50; ++i) {
        QCOMPARE(viaCallback.at(i), qint64(2 * i + 1));
        QVERIFY(futures.at(i).isFinished());
        QCOMPARE(futures.at(i).result().integer, qint64(2 * i + 2));
    }
}

void tst_RedisReplies::authentication()
{
    RedisServer server(
        RedisServer::Transport::Tcp, { QStringLiteral("--requirepass"), QStringLiteral("secret") });
    QVERIFY2(server.start(), qPrintable(server.errorString()));

    QUrl url = server.url();
    url.setPassword(QStringLiteral("secret"));
    bool ok = false;
    Connection connection(RedisTest::endpointOf(url, &ok));
    QVERIFY(ok);
    connection.open();
    // Pipelined behind AUTH before the connection is even up.
    QFuture<Reply> early = connection.command({ "SET", "dptest:auth", "yes" });
    QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 5000);
    QVERIFY(RedisTest::waitFor(early));
    QCOMPARE(describe(RedisTest::replyOf(early)), QByteArrayLiteral("status OK"));
    QCOMPARE(describe(call(connection, { "GET", "dptest:auth" })), QByteArrayLiteral("string yes"));

    // Without a password the server refuses commands, with an error reply (a value).
    Connection anonymous(RedisTest::endpointOf(server.url()));
    anonymous.open();
    const Reply refused = call(anonymous, { "GET", "dptest:auth" });
    QVERIFY2(refused.isError(), describe(refused).constData());
    QVERIFY2(refused.string.startsWith("NOAUTH"), refused.string.constData());
}

void tst_RedisReplies::wrongPassword()
{
    RedisServer server(
        RedisServer::Transport::Tcp, { QStringLiteral("--requirepass"), QStringLiteral("secret") });
    QVERIFY2(server.start(), qPrintable(server.errorString()));

    QUrl url = server.url();
    url.setPassword(QStringLiteral("not-the-secret"));
    Connection connection(RedisTest::endpointOf(url));
    QSignalSpy disconnected(&connection, &Connection::disconnected);
    connection.open();

    // A command sent during the handshake fails with the authentication error.
    const Reply reply = call(connection, { "PING" });
    QVERIFY2(reply.isFailure(), describe(reply).constData());
    QCOMPARE(reply.failureCode, DistributedPromiseError::ConnectionFailed);
    QVERIFY2(reply.string.contains("authentication failed"), reply.string.constData());
    QVERIFY2(!reply.string.contains("not-the-secret"), reply.string.constData());
    QCOMPARE(reply.toError().code(), DistributedPromiseError::ConnectionFailed);

    QTRY_VERIFY_WITH_TIMEOUT(!disconnected.isEmpty(), 5000);
    const QString reason = disconnected.constFirst().constFirst().toString();
    QVERIFY2(reason.contains(QStringLiteral("authentication failed")), qPrintable(reason));
    QVERIFY(!reason.contains(QStringLiteral("not-the-secret")));
    QVERIFY(connection.lastError().contains(QStringLiteral("authentication failed")));
    QVERIFY(!connection.isConnected());

    // Later commands keep failing with the same clear error, not hanging.
    const Reply again = call(connection, { "PING" });
    QVERIFY2(again.isFailure(), describe(again).constData());
    QCOMPARE(again.failureCode, DistributedPromiseError::ConnectionFailed);
    QVERIFY2(again.string.contains("authentication failed"), again.string.constData());
}

void tst_RedisReplies::selectsDatabaseFromUrl()
{
    QUrl url = m_server->url();
    url.setPath(QStringLiteral("/3"));
    Connection connection(RedisTest::endpointOf(url));
    QCOMPARE(connection.endpoint().db, 3);
    connection.open();
    QCOMPARE(describe(call(connection, { "SET", "dptest:db", "three" })),
        QByteArrayLiteral("status OK"));

    QCOMPARE(m_server->cli({ QStringLiteral("-n"), QStringLiteral("3"), QStringLiteral("GET"),
                 QStringLiteral("dptest:db") }),
        QByteArrayLiteral("three"));
    QCOMPARE(m_server->cli({ QStringLiteral("-n"), QStringLiteral("0"), QStringLiteral("EXISTS"),
                 QStringLiteral("dptest:db") }),
        QByteArrayLiteral("0"));
    QCOMPARE(describe(call(*m_connection, { "GET", "dptest:db" })), QByteArrayLiteral("nil"));

    // A database that does not exist is a clear connection failure.
    url.setPath(QStringLiteral("/999"));
    Connection bad(RedisTest::endpointOf(url));
    bad.open();
    const Reply reply = call(bad, { "PING" });
    QVERIFY2(reply.isFailure(), describe(reply).constData());
    QVERIFY2(reply.string.contains("SELECT failed"), reply.string.constData());
}

void tst_RedisReplies::unixSocket()
{
    RedisServer server(RedisServer::Transport::Unix);
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QVERIFY(!server.socketPath().isEmpty());

    QUrl url = server.url();
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("db"), QStringLiteral("2"));
    url.setQuery(query);
    bool ok = false;
    const Endpoint endpoint = RedisTest::endpointOf(url, &ok);
    QVERIFY(ok);
    QCOMPARE(endpoint.transport, Endpoint::Transport::Unix);
    QCOMPARE(endpoint.socketPath, server.socketPath());
    QCOMPARE(endpoint.db, 2);

    Connection connection(endpoint);
    QSignalSpy connected(&connection, &Connection::connected);
    connection.open();
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, 5000);
    QCOMPARE(describe(call(connection, { "SET", "dptest:unix", QByteArray("u\0x", 3) })),
        QByteArrayLiteral("status OK"));
    QCOMPARE(call(connection, { "GET", "dptest:unix" }).string, QByteArray("u\0x", 3));
    QCOMPARE(server.cli({ QStringLiteral("-n"), QStringLiteral("2"), QStringLiteral("STRLEN"),
                 QStringLiteral("dptest:unix") }),
        QByteArrayLiteral("3"));
}

QTEST_GUILESS_MAIN(tst_RedisReplies)
#include "tst_redisreplies.moc"
