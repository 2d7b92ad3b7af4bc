// SPDX-License-Identifier: MIT
// Transport faults of the Redis layer: connections black-holed by a proxy (FaultProxy), Redis
// answering LOADING, BUSY or MASTERDOWN, a SUBSCRIBE refused by an ACL.
#include "faultproxy.h"
#include "redisconnection_p.h"
#include "redisserver.h"
#include "redisserverclient_p.h"
#include "redistest.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using namespace std::chrono_literals;
using DistributedPromiseRedis::Connection;
using DistributedPromiseRedis::ConnectionOptions;
using DistributedPromiseRedis::Endpoint;
using DistributedPromiseRedis::Reply;
using DistributedPromiseRedis::ServerClient;
using DistributedPromiseRedis::Subscriber;
using DistributedPromiseTest::FaultProxy;
using DistributedPromiseTest::RedisServer;
using RedisTest::describe;

namespace {

ConnectionOptions options(std::chrono::milliseconds commandTimeout)
{
    ConnectionOptions o;
    o.connectTimeout = 2000ms;
    o.commandTimeout = commandTimeout;
    o.reconnectMin = 20ms;
    o.reconnectMax = 200ms;
    return o;
}

quint16 unusedPort()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost, 0) ? probe.serverPort() : 0;
}

// The first line of the server's reply to \a command on a fresh plain socket ("+PONG",
// "-BUSY ..."), or empty when none came within 2 s.
QByteArray rawReply(quint16 port, const QByteArray &command)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(2000))
        return QByteArray();
    socket.write(command + "\r\n");
    QByteArray line;
    while (!line.contains('\n') && socket.waitForReadyRead(2000))
        line += socket.readAll();
    return line.left(line.indexOf('\r'));
}

// errorstat_<name> of INFO errorstats: how often the server answered with that error.
qint64 errorCount(const RedisServer &server, const QByteArray &name)
{
    const QByteArray info = server.cli({ QStringLiteral("INFO"), QStringLiteral("errorstats") });
    const QByteArray prefix = "errorstat_" + name + ":count=";
    for (const QByteArray &line : info.split('\n')) {
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).trimmed().toLongLong();
    }
    return 0;
}

} // namespace

class tst_RedisTransport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void deadSubscriberIsDetected_data();
    void deadSubscriberIsDetected();
    void deadCommandConnectionTimesOut();
    void transientErrorsAreRetried_data();
    void transientErrorsAreRetried();
    void retriedCommandsFinishOnCloseAndDestroy();
    void refusedSubscribeClearsPendingState();
    void busySubscriberIsAliveAndResubscribes();
};

void tst_RedisTransport::deadSubscriberIsDetected_data()
{
    QTest::addColumn<FaultProxy::Direction>("direction");
    QTest::addColumn<bool>("subscribeWhileDead");
    // Replies lost: the periodic PING goes unanswered.
    QTest::newRow("replies black-holed") << FaultProxy::Direction::Down << false;
    // Commands lost: a SUBSCRIBE sent into the hole is never confirmed.
    QTest::newRow("commands black-holed, new SUBSCRIBE") << FaultProxy::Direction::Up << true;
}

void tst_RedisTransport::deadSubscriberIsDetected()
{
    QFETCH(FaultProxy::Direction, direction);
    QFETCH(bool, subscribeWhileDead);
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    FaultProxy proxy(redis.port());
    QVERIFY2(proxy.start(), qPrintable(proxy.errorString()));

    // commandTimeout 500 ms: a PING every 250 ms, each answered within 500 ms.
    ServerClient client(RedisTest::endpointOf(proxy.url()), options(500ms));
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);
    QSignalSpy lost(&client.subscriber().connection(), &Connection::disconnected);
    client.open();
    client.subscribe("dptest:ch");
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(proxy.openCount(FaultProxy::Target::subscriber()), 1, 5000);

    QTest::ignoreMessage(QtWarningMsg,
        QRegularExpression(QStringLiteral("subscriber connection.*did not answer within 500 ms")));
    QElapsedTimer timer;
    qint64 detected = -1;
    bool wasConnected = true;
    connect(&client.subscriber().connection(), &Connection::disconnected, this, [&] {
        if (detected < 0) {
            detected = timer.elapsed();
            wasConnected = client.subscriber().isConnected();
        }
    });
    timer.start();
    proxy.setBlackhole(direction, FaultProxy::Target::subscriber());
    if (subscribeWhileDead)
        client.subscribe("dptest:other");
    // Dead at worst one PING interval plus commandTimeout after the fault, with some slack.
    QTRY_VERIFY_WITH_TIMEOUT(detected >= 0, 5000);
    qInfo("dead subscriber connection detected after %lld ms", detected);
    QVERIFY2(detected < 1250, qPrintable(QString::number(detected)));
    QVERIFY(!wasConnected);
    QVERIFY2(lost.constFirst().constFirst().toString().contains(QStringLiteral("500 ms")),
        qPrintable(lost.constFirst().constFirst().toString()));
    QVERIFY(client.isConnected()); // the command connection was never affected

    // Back: subscriptions restored, listeners told again, messages flow.
    proxy.clearFaults();
    QTRY_VERIFY_WITH_TIMEOUT(client.subscriber().isConnected(), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(client.isSubscribed("dptest:ch"), 5000);
    QVERIFY(subscribed.size() >= 2);
    const Reply published = RedisTest::call(client.commands(), { "PUBLISH", "dptest:ch", "hi" });
    QCOMPARE(describe(published), QByteArrayLiteral("integer 1"));
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
}

void tst_RedisTransport::deadCommandConnectionTimesOut()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    FaultProxy proxy(redis.port());
    QVERIFY2(proxy.start(), qPrintable(proxy.errorString()));
    ServerClient client(RedisTest::endpointOf(proxy.url()), options(400ms));
    client.open();
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), 5000);
    QCOMPARE(describe(RedisTest::call(client.commands(), { "SET", "dptest:k", "v" })),
        QByteArrayLiteral("status OK"));

    proxy.setBlackhole(FaultProxy::Direction::Down, FaultProxy::Target::commands());
    QElapsedTimer timer;
    timer.start();
    const Reply reply = RedisTest::call(client.commands(), { "GET", "dptest:k" });
    const qint64 elapsed = timer.elapsed();
    qInfo("black-holed command connection: the command failed after %lld ms", elapsed);
    QVERIFY2(reply.isFailure(), describe(reply).constData());
    QCOMPARE(reply.failureCode, DistributedPromiseError::Timeout);
    QVERIFY2(elapsed >= 390 && elapsed < 1500, qPrintable(QString::number(elapsed)));
    QVERIFY(!client.commands().isConnected() || client.commands().lastError().isEmpty());

    proxy.clearFaults();
    QTRY_VERIFY_WITH_TIMEOUT(
        describe(RedisTest::call(client.commands(), { "GET", "dptest:k" })) == "string v", 5000);
}

void tst_RedisTransport::transientErrorsAreRetried_data()
{
    QTest::addColumn<QByteArray>("condition");
    QTest::addColumn<QByteArrayList>("command");
    QTest::addColumn<QByteArray>("answer"); // once the condition is over
    const QByteArrayList incr { "INCR", "dptest:n" };
    QTest::newRow("BUSY (a long script)")
        << QByteArrayLiteral("BUSY") << incr << QByteArrayLiteral("integer 1");
    QTest::newRow("LOADING (DEBUG RELOAD)")
        << QByteArrayLiteral("LOADING") << incr << QByteArrayLiteral("integer 1");
    // A replica refuses writes with READONLY before it looks at its master: read.
    QTest::newRow("MASTERDOWN (replica without master)")
        << QByteArrayLiteral("MASTERDOWN") << QByteArrayList { "GET", "key:1" }
        << QByteArrayLiteral("nil");
}

void tst_RedisTransport::transientErrorsAreRetried()
{
    QFETCH(QByteArray, condition);
    QFETCH(QByteArrayList, command);
    QFETCH(QByteArray, answer);
    RedisServer redis(RedisServer::Transport::Tcp,
        { QStringLiteral("--enable-debug-command"), QStringLiteral("yes"),
            QStringLiteral("--busy-reply-threshold"), QStringLiteral("20"),
            QStringLiteral("--key-load-delay"), QStringLiteral("1000"),
            QStringLiteral("--loading-process-events-interval-bytes"), QStringLiteral("1024") });
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    const Endpoint endpoint = RedisTest::endpointOf(redis.url());
    Connection blocker(endpoint, options(0ms));
    blocker.open();
    QTRY_VERIFY_WITH_TIMEOUT(blocker.isConnected(), 5000);
    if (condition == "LOADING") // 1000 keys at 1 ms each: DEBUG RELOAD loads for about 1 s
        QCOMPARE(describe(RedisTest::call(blocker, { "DEBUG", "POPULATE", "1000" })),
            QByteArrayLiteral("status OK"));

    // Puts the server into the condition (each call: for about 1 s at least).
    const auto provoke = [&] {
        if (condition == "BUSY")
            blocker.command({ "EVAL", "while true do end", "0" }, [](const Reply &) {});
        else if (condition == "LOADING")
            blocker.command({ "DEBUG", "RELOAD" }, [](const Reply &) {});
        else if (redis.cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"),
                     QStringLiteral("replica-serve-stale-data"), QStringLiteral("no") })
            == "OK")
            redis.cli({ QStringLiteral("REPLICAOF"), QStringLiteral("127.0.0.1"),
                QString::number(unusedPort()) });
        return QTest::qWaitFor(
            [&] { return rawReply(redis.port(), "PING").startsWith(QByteArray("-" + condition)); },
            5000);
    };
    const auto release = [&] {
        if (condition == "BUSY")
            redis.cli({ QStringLiteral("SCRIPT"), QStringLiteral("KILL") });
        else if (condition == "MASTERDOWN")
            redis.cli({ QStringLiteral("REPLICAOF"), QStringLiteral("NO"), QStringLiteral("ONE") });
        // LOADING ends by itself.
        return QTest::qWaitFor([&] { return rawReply(redis.port(), "PING") == "+PONG"; }, 5000);
    };

    // 1. The condition outlasts commandTimeout: a transport failure that names it, after about
    //    commandTimeout, and the connection stays up.
    {
        Connection connection(endpoint, options(300ms));
        connection.open();
        QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 5000);
        QVERIFY(provoke());
        QElapsedTimer timer;
        timer.start();
        const Reply reply = RedisTest::call(connection, command);
        const qint64 elapsed = timer.elapsed();
        QVERIFY2(reply.isFailure(), describe(reply).constData());
        QCOMPARE(reply.failureCode, DistributedPromiseError::ConnectionFailed);
        QVERIFY2(reply.string.contains(condition), reply.string.constData());
        QVERIFY2(elapsed >= 290 && elapsed < 1500, qPrintable(QString::number(elapsed)));
        QVERIFY(connection.isConnected());
        QVERIFY(release());
    }

    // 2. The condition clears within commandTimeout: the command is answered, executed once.
    {
        Connection connection(endpoint, options(5000ms));
        connection.open();
        QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 5000);
        const qint64 errorsBefore = errorCount(redis, condition);
        QVERIFY(provoke());
        const QFuture<Reply> future = connection.command(command);
        // Held, not answered with the error.
        QVERIFY(!QTest::qWaitFor([&] { return future.isFinished(); }, 300));
        QVERIFY(release());
        QVERIFY(RedisTest::waitFor(future, 5000));
        QCOMPARE(describe(RedisTest::replyOf(future)), answer); // executed once
        QVERIFY2(errorCount(redis, condition) >= errorsBefore + 2,
            qPrintable(QString::number(errorCount(redis, condition))));
    }
}

void tst_RedisTransport::retriedCommandsFinishOnCloseAndDestroy()
{
    RedisServer redis(RedisServer::Transport::Tcp,
        { QStringLiteral("--busy-reply-threshold"), QStringLiteral("20") });
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    const Endpoint endpoint = RedisTest::endpointOf(redis.url());
    Connection blocker(endpoint, options(0ms));
    blocker.open();
    QTRY_VERIFY_WITH_TIMEOUT(blocker.isConnected(), 5000);
    blocker.command({ "EVAL", "while true do end", "0" }, [](const Reply &) {});
    QVERIFY(
        QTest::qWaitFor([&] { return rawReply(redis.port(), "PING").startsWith("-BUSY"); }, 5000));

    // Every callback runs once, Cancelled, whether the command waits for its next attempt or
    // is in flight when the connection is closed or destroyed.
    QList<Reply> replies;
    const auto record = [&](const Reply &reply) { replies.append(reply); };
    auto connection = std::make_unique<Connection>(endpoint, options(5000ms));
    connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(connection->isConnected(), 5000);
    connection->command({ "GET", "a" }, record);
    connection->command({ "GET", "b" }, record);
    QVERIFY(!QTest::qWaitFor([&] { return !replies.isEmpty(); }, 200)); // retried meanwhile
    QCOMPARE(connection->pendingCount(), 2);
    connection->close();
    QTRY_COMPARE_WITH_TIMEOUT(replies.size(), 2, 5000);
    QCOMPARE(describe(replies.at(0)).left(17), QByteArrayLiteral("failure Cancelled"));
    QCOMPARE(describe(replies.at(1)).left(17), QByteArrayLiteral("failure Cancelled"));
    QCOMPARE(connection->pendingCount(), 0);

    connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(connection->isConnected(), 5000);
    connection->command({ "GET", "c" }, record);
    QVERIFY(!QTest::qWaitFor([&] { return replies.size() > 2; }, 200)); // retried meanwhile
    connection.reset();
    QCOMPARE(replies.size(), 3);
    QCOMPARE(describe(replies.at(2)).left(17), QByteArrayLiteral("failure Cancelled"));
    QCOMPARE(redis.cli({ QStringLiteral("SCRIPT"), QStringLiteral("KILL") }), QByteArray("OK"));
}

void tst_RedisTransport::refusedSubscribeClearsPendingState()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    // Redis 7's default for a new user: no channel rights.
    QCOMPARE(redis.cli({ QStringLiteral("ACL"), QStringLiteral("SETUSER"), QStringLiteral("dp"),
                 QStringLiteral("on"), QStringLiteral(">pw"), QStringLiteral("~*"),
                 QStringLiteral("+@all"), QStringLiteral("resetchannels") }),
        QByteArrayLiteral("OK"));
    QUrl url = redis.url();
    url.setUserName(QStringLiteral("dp"));
    url.setPassword(QStringLiteral("pw"));
    Subscriber subscriber(RedisTest::endpointOf(url), options(5000ms));
    QSignalSpy subscribed(&subscriber, &Subscriber::subscribed);
    QSignalSpy refused(&subscriber, &Subscriber::subscriptionRefused);
    QSignalSpy lost(&subscriber.connection(), &Connection::disconnected);
    subscriber.open();
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.isConnected(), 5000);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("refused.*NOPERM")));
    subscriber.subscribe("dptest:ch");
    QTRY_COMPARE_WITH_TIMEOUT(refused.size(), 1, 5000);
    QCOMPARE(refused.constFirst().at(0).toByteArray(), QByteArrayLiteral("dptest:ch"));
    QVERIFY2(refused.constFirst().at(1).toString().startsWith(QLatin1String("NOPERM")),
        qPrintable(refused.constFirst().at(1).toString()));
    QVERIFY(!subscriber.isSubscribed("dptest:ch"));

    // Granted now: a new subscription of the same channel is confirmed.
    QCOMPARE(redis.cli({ QStringLiteral("ACL"), QStringLiteral("SETUSER"), QStringLiteral("dp"),
                 QStringLiteral("allchannels") }),
        QByteArrayLiteral("OK"));
    subscriber.unsubscribe("dptest:ch");
    subscriber.subscribe("dptest:ch");
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QVERIFY(subscriber.isSubscribed("dptest:ch"));
    QCOMPARE(refused.size(), 1);
    QVERIFY(lost.isEmpty()); // a refusal is an answer, not a dead connection
}

void tst_RedisTransport::busySubscriberIsAliveAndResubscribes()
{
    RedisServer redis(RedisServer::Transport::Tcp,
        { QStringLiteral("--busy-reply-threshold"), QStringLiteral("20") });
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    const Endpoint endpoint = RedisTest::endpointOf(redis.url());
    Connection blocker(endpoint, options(0ms));
    Subscriber subscriber(endpoint, options(400ms));
    QSignalSpy subscribed(&subscriber, &Subscriber::subscribed);
    QSignalSpy refused(&subscriber, &Subscriber::subscriptionRefused);
    QSignalSpy lost(&subscriber.connection(), &Connection::disconnected);
    blocker.open();
    subscriber.open();
    QTRY_VERIFY_WITH_TIMEOUT(blocker.isConnected() && subscriber.isConnected(), 5000);

    blocker.command({ "EVAL", "while true do end", "0" }, [](const Reply &) {});
    QVERIFY(
        QTest::qWaitFor([&] { return rawReply(redis.port(), "PING").startsWith("-BUSY"); }, 5000));
    subscriber.subscribe("dptest:ch");
    // A busy server answers the PINGs (with BUSY): alive, for longer than commandTimeout. The
    // SUBSCRIBE it refuses with BUSY is tried again, not reported.
    QVERIFY(!QTest::qWaitFor([&] { return !lost.isEmpty() || !subscribed.isEmpty(); }, 1000));
    QVERIFY(subscriber.isConnected());
    QVERIFY(refused.isEmpty());

    QCOMPARE(redis.cli({ QStringLiteral("SCRIPT"), QStringLiteral("KILL") }), QByteArray("OK"));
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QVERIFY(subscriber.isSubscribed("dptest:ch"));
    QVERIFY(lost.isEmpty());
    QVERIFY(refused.isEmpty());
}

QTEST_MAIN(tst_RedisTransport)
#include "tst_redistransport.moc"
