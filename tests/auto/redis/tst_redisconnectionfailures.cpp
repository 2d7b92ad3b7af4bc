// SPDX-License-Identifier: MIT
#include "redisconnection_p.h"
#include "redisserver.h"
#include "redisserverclient_p.h"
#include "redistest.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QTimer>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpServer>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using namespace std::chrono_literals;
using DistributedPromiseRedis::Connection;
using DistributedPromiseRedis::ConnectionOptions;
using DistributedPromiseRedis::Endpoint;
using DistributedPromiseRedis::Reply;
using DistributedPromiseRedis::ServerClient;
using DistributedPromiseTest::RedisServer;
using RedisTest::call;
using RedisTest::describe;

namespace {

// Fast reconnects so that tests about reconnecting stay short.
ConnectionOptions fastOptions()
{
    ConnectionOptions options;
    options.connectTimeout = 2000ms;
    options.commandTimeout = 30000ms; // only the timeout test relies on it
    options.reconnectMin = 20ms;
    options.reconnectMax = 200ms;
    return options;
}

quint16 unusedPort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort(); // closed again when probe goes away
}

// Counts, per command, how often and with what its callback ran.
struct Tally
{
    QList<int> calls;
    QList<Reply> replies;

    explicit Tally(int count)
        : calls(count, 0)
        , replies(count)
    { }
    DistributedPromiseRedis::Callback callbackFor(int i)
    {
        return [this, i](const Reply &reply) {
            ++calls[i];
            replies[i] = reply;
        };
    }
    int answered() const
    {
        int n = 0;
        for (int c : calls)
            n += c > 0 ? 1 : 0;
        return n;
    }
    bool eachExactlyOnce() const
    {
        return std::all_of(calls.cbegin(), calls.cend(), [](int c) { return c == 1; });
    }
    int failuresWith(DistributedPromiseError::Code code) const
    {
        return int(std::count_if(replies.cbegin(), replies.cend(),
            [code](const Reply &r) { return r.isFailure() && r.failureCode == code; }));
    }
};

bool pingWorks(Connection &connection)
{
    const Reply reply = call(connection, { "PING" }, 2000);
    return reply.type == Reply::Type::Status && reply.string == "PONG";
}

} // namespace

class tst_RedisConnectionFailures : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void commandWhileClosedFailsLater();
    void connectionRefused();
    void refusedThenServerComesUp();
    void unresolvableHost();
    void serverKilledWithCommandsInFlight();
    void serverKilledMidStream();
    void commandTimeout();
    void closeCancelsPending();
    void destroyWithCommandsInFlight_data();
    void destroyWithCommandsInFlight();
    void destroyWhileDisconnected();
    void destroyClientWithCommandsInFlight();
    void destroyFromOwnReplyCallback();
    void destroyFromFailureCallback_data();
    void destroyFromFailureCallback();
    void eventLoopStaysResponsive();
};

void tst_RedisConnectionFailures::commandWhileClosedFailsLater()
{
    Endpoint endpoint;
    endpoint.port = unusedPort();
    Connection connection(endpoint, fastOptions());
    Tally tally(1);
    connection.command({ "PING" }, tally.callbackFor(0));
    QCOMPARE(tally.calls.at(0), 0); // never re-entrantly from inside command()
    QTRY_COMPARE_WITH_TIMEOUT(tally.calls.at(0), 1, 2000);
    QCOMPARE(tally.replies.at(0).failureCode, DistributedPromiseError::ConnectionFailed);
    QVERIFY2(tally.replies.at(0).string.contains("not connected"),
        tally.replies.at(0).string.constData());
}

void tst_RedisConnectionFailures::connectionRefused()
{
    Endpoint endpoint;
    endpoint.port = unusedPort();
    QVERIFY(endpoint.port != 0);
    ServerClient client(endpoint, fastOptions());
    QSignalSpy disconnected(&client, &ServerClient::disconnected);

    QElapsedTimer timer;
    timer.start();
    client.open();
    const QFuture<Reply> future = client.command({ "PING" });
    QVERIFY(RedisTest::waitFor(future, 2000));
    QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
    try {
        future.result();
        QFAIL("the future should have failed");
    } catch (const DistributedPromiseError &error) {
        QCOMPARE(error.code(), DistributedPromiseError::ConnectionFailed);
        QVERIFY2(error.message().contains(QStringLiteral("refused")), error.what());
        QVERIFY2(error.message().contains(endpoint.displayName()), error.what());
    }

    // It keeps trying (with backoff) and each attempt fails quickly.
    QTRY_VERIFY_WITH_TIMEOUT(disconnected.size() >= 3, 5000);
    QVERIFY(!client.isConnected());
    QVERIFY2(client.commands().lastError().contains(QStringLiteral("refused")),
        qPrintable(client.commands().lastError()));
    timer.restart();
    const Reply reply = call(client.commands(), { "PING" }, 2000);
    QVERIFY2(reply.isFailure(), describe(reply).constData());
    QCOMPARE(reply.failureCode, DistributedPromiseError::ConnectionFailed);
    QVERIFY(timer.elapsed() < 2000);
}

void tst_RedisConnectionFailures::refusedThenServerComesUp()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const Endpoint endpoint = RedisTest::endpointOf(server.url());
    server.stop();

    Connection connection(endpoint, fastOptions());
    QSignalSpy connected(&connection, &Connection::connected);
    QSignalSpy disconnected(&connection, &Connection::disconnected);
    connection.open();
    QTRY_VERIFY_WITH_TIMEOUT(disconnected.size() >= 2, 5000);
    QCOMPARE(connected.size(), 0);

    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, 5000);
    QVERIFY(connection.lastError().isEmpty());
    QVERIFY(pingWorks(connection));
}

void tst_RedisConnectionFailures::unresolvableHost()
{
    Endpoint endpoint;
    QString error;
    QVERIFY2(Endpoint::parse(
                 QUrl(QStringLiteral("redis://nonexistent.invalid:6379")), &endpoint, &error),
        qPrintable(error));
    ConnectionOptions options = fastOptions();
    options.connectTimeout = 3000ms;
    Connection connection(endpoint, options);
    QSignalSpy disconnected(&connection, &Connection::disconnected);

    QElapsedTimer timer;
    timer.start();
    connection.open();
    Tally tally(3);
    for (int i = 0; i < 3; ++i)
        connection.command({ "PING" }, tally.callbackFor(i));
    QTRY_COMPARE_WITH_TIMEOUT(tally.answered(), 3, 5000);
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(tally.eachExactlyOnce());
    QCOMPARE(tally.failuresWith(DistributedPromiseError::ConnectionFailed), 3);
    const QByteArray message = tally.replies.at(0).string;
    QVERIFY2(message.contains("nonexistent.invalid"), message.constData());
    QTRY_VERIFY_WITH_TIMEOUT(!disconnected.isEmpty(), 1000);
    QVERIFY(!connection.isConnected());
    QVERIFY2(connection.lastError().contains(QStringLiteral("nonexistent.invalid")),
        qPrintable(connection.lastError()));
}

void tst_RedisConnectionFailures::serverKilledWithCommandsInFlight()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    Connection connection(RedisTest::endpointOf(server.url()), fastOptions());
    QSignalSpy connected(&connection, &Connection::connected);
    QSignalSpy disconnected(&connection, &Connection::disconnected);
    connection.open();
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, 5000);

    // Stopped, the server reads nothing: every command below is surely in flight at the kill.
    server.pause();
    constexpr int count = 2000;
    Tally tally(count);
    for (int i = 0; i < count; ++i)
        connection.command({ "INCR", "dptest:killed" }, tally.callbackFor(i));
    QList<QFuture<Reply>> futures;
    for (int i = 0; i < 10; ++i)
        futures.append(connection.command({ "GET", "dptest:killed" }));
    QCOMPARE(connection.pendingCount(), count + 10);
    server.kill();

    QTRY_COMPARE_WITH_TIMEOUT(tally.answered(), count, 5000);
    QVERIFY(tally.eachExactlyOnce());
    QCOMPARE(tally.failuresWith(DistributedPromiseError::ConnectionFailed), count);
    for (const QFuture<Reply> &future : std::as_const(futures)) {
        QVERIFY(RedisTest::waitFor(future, 1000));
        const Reply reply = RedisTest::replyOf(future);
        QCOMPARE(reply.failureCode, DistributedPromiseError::ConnectionFailed);
        QVERIFY(reply.isFailure());
    }
    QCOMPARE(connection.pendingCount(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(!disconnected.isEmpty(), 1000);
    QVERIFY(!connection.isConnected());

    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 2, 5000);
    QVERIFY(pingWorks(connection));
    QCOMPARE(describe(call(connection, { "INCR", "dptest:killed" })),
        QByteArrayLiteral("integer 1")); // a fresh server
}

void tst_RedisConnectionFailures::serverKilledMidStream()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    Connection connection(RedisTest::endpointOf(server.url()), fastOptions());
    connection.open();
    QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 5000);

    // Replies are streaming in when the server dies: every callback still runs exactly once,
    // the answered ones in order and all failures after the last answer.
    constexpr int count = 50000;
    Tally tally(count);
    for (int i = 0; i < count; ++i)
        connection.command({ "INCR", "dptest:stream" }, tally.callbackFor(i));
    QTRY_VERIFY_WITH_TIMEOUT(tally.answered() >= 100, 5000);
    server.kill();
    QTRY_COMPARE_WITH_TIMEOUT(tally.answered(), count, 5000);
    QVERIFY(tally.eachExactlyOnce());
    int i = 0;
    for (; i < count && !tally.replies.at(i).isFailure(); ++i)
        QCOMPARE(tally.replies.at(i).integer, qint64(i + 1));
    QVERIFY(i >= 100);
    for (; i < count; ++i)
        QCOMPARE(tally.replies.at(i).failureCode, DistributedPromiseError::ConnectionFailed);

    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(pingWorks(connection), 5000);
}

void tst_RedisConnectionFailures::commandTimeout()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    ConnectionOptions options = fastOptions();
    options.commandTimeout = 300ms;
    Connection connection(RedisTest::endpointOf(server.url()), options);
    QSignalSpy disconnected(&connection, &Connection::disconnected);
    connection.open();
    QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 5000);

    server.pause();
    constexpr int count = 20;
    Tally tally(count);
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < count; ++i)
        connection.command({ "PING" }, tally.callbackFor(i));
    const QFuture<Reply> future = connection.command({ "PING" });
    QTRY_COMPARE_WITH_TIMEOUT(tally.answered(), count, 3000);
    const qint64 elapsed = timer.elapsed();
    QVERIFY2(elapsed >= 250 && elapsed < 2000, qPrintable(QString::number(elapsed)));
    QVERIFY(tally.eachExactlyOnce());
    QCOMPARE(tally.failuresWith(DistributedPromiseError::Timeout), count);
    QVERIFY2(tally.replies.at(0).string.contains("300 ms"), tally.replies.at(0).string.constData());
    QVERIFY(RedisTest::waitFor(future, 1000));
    QCOMPARE(RedisTest::replyOf(future).failureCode, DistributedPromiseError::Timeout);
    QVERIFY(!disconnected.isEmpty());
    QVERIFY2(disconnected.constFirst().constFirst().toString().contains(QStringLiteral("300 ms")),
        qPrintable(disconnected.constFirst().constFirst().toString()));

    server.resume();
    QTRY_VERIFY_WITH_TIMEOUT(pingWorks(connection), 5000);
    QVERIFY(connection.isConnected());
}

void tst_RedisConnectionFailures::closeCancelsPending()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    Connection connection(RedisTest::endpointOf(server.url()), fastOptions());
    QSignalSpy connected(&connection, &Connection::connected);
    connection.open();
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, 5000);

    server.pause();
    Tally tally(100);
    for (int i = 0; i < 100; ++i)
        connection.command({ "PING" }, tally.callbackFor(i));
    connection.close();
    QTRY_COMPARE_WITH_TIMEOUT(tally.answered(), 100, 1000);
    QVERIFY(tally.eachExactlyOnce());
    QCOMPARE(tally.failuresWith(DistributedPromiseError::Cancelled), 100);
    QCOMPARE(connection.state(), Connection::State::Disconnected);
    server.resume();

    // Closed means closed: no reconnect until open() again.
    QVERIFY(!QTest::qWaitFor([&] { return connected.size() > 1; }, 300));
    connection.open();
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 2, 5000);
    QVERIFY(pingWorks(connection));
}

void tst_RedisConnectionFailures::destroyWithCommandsInFlight_data()
{
    QTest::addColumn<bool>("paused");
    QTest::newRow("server paused") << true; // nothing is answered before the destruction
    QTest::newRow("server answering") << false; // replies may be waiting in the socket
}

void tst_RedisConnectionFailures::destroyWithCommandsInFlight()
{
    QFETCH(bool, paused);
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto connection
        = std::make_unique<Connection>(RedisTest::endpointOf(server.url()), fastOptions());
    connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(connection->isConnected(), 5000);
    if (paused)
        server.pause();

    constexpr int count = 1000;
    Tally tally(count);
    QList<QFuture<Reply>> futures;
    for (int i = 0; i < count; ++i) {
        connection->command({ "PING" }, tally.callbackFor(i));
        futures.append(connection->command({ "PING" }));
    }
    if (!paused) // let some replies arrive first
        QTRY_VERIFY_WITH_TIMEOUT(tally.answered() > 0, 5000);
    connection.reset();

    // Everything finished synchronously in the destructor, exactly once.
    QCOMPARE(tally.answered(), count);
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QVERIFY(tally.eachExactlyOnce());
    int cancelled = 0;
    for (int i = 0; i < count; ++i) {
        const Reply &reply = tally.replies.at(i);
        if (reply.isFailure()) {
            QCOMPARE(reply.failureCode, DistributedPromiseError::Cancelled);
            QVERIFY2(reply.string.contains("destroyed"), reply.string.constData());
            ++cancelled;
        } else {
            QCOMPARE(reply.string, QByteArrayLiteral("PONG"));
        }
        QVERIFY(futures.at(i).isFinished());
        const Reply viaFuture = RedisTest::replyOf(futures.at(i));
        QVERIFY2(viaFuture.string == "PONG"
                || (viaFuture.isFailure()
                    && viaFuture.failureCode == DistributedPromiseError::Cancelled),
            describe(viaFuture).constData());
    }
    if (paused)
        QCOMPARE(cancelled, count);
    else
        QVERIFY(cancelled < count);
    server.resume();
}

void tst_RedisConnectionFailures::destroyWhileDisconnected()
{
    // Commands that failed while no connection existed are reported from the event loop; the
    // destruction must not lose them.
    Endpoint endpoint;
    endpoint.port = unusedPort();
    auto connection = std::make_unique<Connection>(endpoint, fastOptions());
    QSignalSpy disconnected(connection.get(), &Connection::disconnected);
    connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(!disconnected.isEmpty(), 2000);
    QVERIFY(connection->state() != Connection::State::Connected);

    constexpr int count = 10;
    Tally tally(count);
    QList<QFuture<Reply>> futures;
    for (int i = 0; i < count; ++i) {
        connection->command({ "PING" }, tally.callbackFor(i));
        futures.append(connection->command({ "PING" }));
    }
    connection.reset();
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QCOMPARE(tally.answered(), count);
    QVERIFY(tally.eachExactlyOnce());
    for (int i = 0; i < count; ++i) {
        QVERIFY(tally.replies.at(i).isFailure());
        QVERIFY(futures.at(i).isFinished());
        // Failed with a DistributedPromiseError, not abandoned without one.
        const Reply viaFuture = RedisTest::replyOf(futures.at(i));
        QVERIFY(viaFuture.isFailure());
        QVERIFY2(!viaFuture.string.contains("has no result"), viaFuture.string.constData());
    }
}

void tst_RedisConnectionFailures::destroyClientWithCommandsInFlight()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto client
        = std::make_unique<ServerClient>(RedisTest::endpointOf(server.url()), fastOptions());
    QSignalSpy subscribed(client.get(), &ServerClient::subscribed);
    client->open();
    client->subscribe("dptest:channel");
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    server.pause();

    constexpr int count = 500;
    Tally tally(count);
    QList<QFuture<Reply>> futures;
    const DistributedPromiseRedis::Script script("return 1");
    for (int i = 0; i < count; ++i) {
        if (i % 2)
            client->command({ "PING" }, tally.callbackFor(i));
        else
            client->eval(script, {}, {}, tally.callbackFor(i));
        futures.append(client->command({ "PING" }));
    }
    client.reset();
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QCOMPARE(tally.answered(), count);
    QVERIFY(tally.eachExactlyOnce());
    QCOMPARE(tally.failuresWith(DistributedPromiseError::Cancelled), count);
    for (const QFuture<Reply> &future : std::as_const(futures)) {
        QVERIFY(future.isFinished());
        QCOMPARE(RedisTest::replyOf(future).failureCode, DistributedPromiseError::Cancelled);
    }
    server.resume();
}

void tst_RedisConnectionFailures::destroyFromOwnReplyCallback()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    auto *connection = new Connection(RedisTest::endpointOf(server.url()), fastOptions());
    QPointer<Connection> guard(connection);
    connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(connection->isConnected(), 5000);

    constexpr int count = 200;
    Tally tally(count);
    Reply first;
    connection->command({ "PING" }, [&](const Reply &reply) {
        first = reply;
        delete connection; // from inside its own callback, with more replies in the buffer
        connection = nullptr;
    });
    for (int i = 0; i < count; ++i)
        connection->command({ "PING" }, tally.callbackFor(i));
    QTRY_VERIFY_WITH_TIMEOUT(guard.isNull(), 5000);
    QCOMPARE(first.string, QByteArrayLiteral("PONG"));
    QCOMPARE(tally.answered(), count);
    QVERIFY(tally.eachExactlyOnce());
    QCOMPARE(tally.failuresWith(DistributedPromiseError::Cancelled), count);
    // The event loop carries on (the notifiers of the dead connection are gone safely).
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QCoreApplication::processEvents();
    QVERIFY(tally.eachExactlyOnce());
}

void tst_RedisConnectionFailures::destroyFromFailureCallback_data()
{
    QTest::addColumn<bool>("byTimeout");
    QTest::newRow("server killed") << false;
    QTest::newRow("command timeout") << true;
}

void tst_RedisConnectionFailures::destroyFromFailureCallback()
{
    QFETCH(bool, byTimeout);
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    ConnectionOptions options = fastOptions();
    options.commandTimeout = 200ms;
    auto *connection = new Connection(RedisTest::endpointOf(server.url()), options);
    QPointer<Connection> guard(connection);
    connection->open();
    QTRY_VERIFY_WITH_TIMEOUT(connection->isConnected(), 5000);
    server.pause();

    constexpr int count = 100;
    Tally tally(count);
    Reply first;
    connection->command({ "PING" }, [&](const Reply &reply) {
        first = reply;
        delete connection;
        connection = nullptr;
    });
    for (int i = 0; i < count; ++i)
        connection->command({ "PING" }, tally.callbackFor(i));
    if (!byTimeout)
        server.kill();
    QTRY_VERIFY_WITH_TIMEOUT(guard.isNull(), 5000);
    QVERIFY(first.isFailure());
    QCOMPARE(first.failureCode,
        byTimeout ? DistributedPromiseError::Timeout : DistributedPromiseError::ConnectionFailed);
    QCOMPARE(tally.answered(), count);
    QVERIFY(tally.eachExactlyOnce());
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QCoreApplication::processEvents();
    QVERIFY(tally.eachExactlyOnce());
    server.resume();
}

void tst_RedisConnectionFailures::eventLoopStaysResponsive()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    Connection connection(RedisTest::endpointOf(server.url()), fastOptions());
    connection.open();
    QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 5000);
    QCOMPARE(describe(call(connection, { "SET", "dptest:value", QByteArray(1024, 'v') })),
        QByteArrayLiteral("status OK"));

    int ticks = 0;
    int ticksWhileBusy = 0;
    qint64 longestGapMs = 0;
    QElapsedTimer sinceTick;
    QTimer timer;
    timer.setInterval(0);
    connect(&timer, &QTimer::timeout, this, [&] {
        ++ticks;
        if (connection.pendingCount() > 0) {
            ++ticksWhileBusy;
            longestGapMs = std::max(longestGapMs, sinceTick.elapsed());
        }
        sinceTick.restart();
    });

    constexpr int count = 10000;
    int answered = 0;
    int wrong = 0;
    for (int i = 0; i < count; ++i) {
        connection.command({ "GET", "dptest:value" }, [&](const Reply &reply) {
            ++answered;
            if (reply.string.size() != 1024)
                ++wrong;
        });
    }
    sinceTick.start();
    timer.start();
    QTRY_COMPARE_WITH_TIMEOUT(answered, count, 10000);
    timer.stop();
    QCOMPARE(wrong, 0);
    qDebug("%d timer ticks while %d commands were in flight, longest gap %lld ms", ticksWhileBusy,
        count, longestGapMs);
    QVERIFY2(ticksWhileBusy >= 5, qPrintable(QString::number(ticksWhileBusy)));
    QVERIFY2(longestGapMs < 500, qPrintable(QString::number(longestGapMs)));
}

QTEST_GUILESS_MAIN(tst_RedisConnectionFailures)
#include "tst_redisconnectionfailures.moc"
