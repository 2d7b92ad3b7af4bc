// SPDX-License-Identifier: MIT
// Redis in states an operator or another tool can leave it in: out of memory, paused while a
// finish is on its way, a lock without expiry, a data key of another type, a user without channel
// rights, an eviction policy that can evict locks. Every call must still run the work once and
// finish, each caller with the same outcome, and no lock may be left behind.

#include "faultstest.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>
#include <QtTest/QTest>

#include <chrono>

using namespace std::chrono_literals;
using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisServer;

class tst_ServerStates : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void outOfMemoryStillRunsOnceAndAnswersEveryone();
    void finishDelayedPastCommandTimeoutIsSentAgain();
    void lockWithoutExpiryGetsTheLease();
    void dataKeyOfAnotherTypeIsReplaced();
    void userWithoutChannelRightsIsToldAndWaitersPoll();
    void evictingPolicyIsReported();

private:
    static QString lockOf(const QString &key) { return lockKey(key, "[]"); }
    static QString dataOf(const QString &key) { return dataKey(key, "[]"); }
};

void tst_ServerStates::outOfMemoryStillRunsOnceAndAnswersEveryone()
{
    // maxmemory reached with noeviction: writes that grow memory are refused. The lock (a small
    // key with a lease) is still taken, the cache write fails, and unlock and publish happen.
    RedisServer server(RedisServer::Transport::Tcp,
        { QStringLiteral("--maxmemory-policy"), QStringLiteral("noeviction"),
            QStringLiteral("--enable-debug-command"), QStringLiteral("yes") });
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(server.cli({ QStringLiteral("DEBUG"), QStringLiteral("POPULATE"),
                 QStringLiteral("20000"), QStringLiteral("fill"), QStringLiteral("100") }),
        QByteArray("OK"));
    const QByteArray memory = server.cli({ QStringLiteral("INFO"), QStringLiteral("memory") });
    const qsizetype at = memory.indexOf("used_memory:");
    QVERIFY(at >= 0);
    const qint64 used = memory.mid(at + 12, memory.indexOf('\n', at) - at - 12).toLongLong();
    QVERIFY2(used > 1000000, memory.constData());
    QCOMPARE(server.cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"),
                 QStringLiteral("maxmemory"), QString::number(used / 2) }),
        QByteArray("OK"));
    QVERIFY(server.cli({ QStringLiteral("SET"), QStringLiteral("probe"), QStringLiteral("x") })
                .startsWith("OOM"));

    LogCapture log;
    const DistributedPromiseConfig config = configFor(server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    const QString key = QStringLiteral("oom");
    auto slow = holder.wrap(key, [&runs] {
        ++runs;
        return valueLater(300ms, QStringLiteral("computed"));
    });
    auto same = waiter.wrap(key, [&runs] { return QString::number(++runs); });
    const QFuture<QString> held = slow();
    QTRY_VERIFY(keyExists(server, lockOf(key)));
    const QFuture<QString> waited = same();
    QTRY_VERIFY_WITH_TIMEOUT(held.isFinished() && waited.isFinished(), 5000);
    QCOMPARE(codeOf(held), QStringLiteral("ok"));
    QCOMPARE(codeOf(waited), QStringLiteral("ok"));
    QCOMPARE(held.result(), QStringLiteral("computed"));
    QCOMPARE(waited.result(), QStringLiteral("computed"));
    QCOMPARE(runs, 1);
    QVERIFY(!keyExists(server, lockOf(key)));
    QVERIFY(!keyExists(server, dataOf(key)));
    QVERIFY2(log.count(QStringLiteral("could not cache the outcome")) == 1, qPrintable(log.dump()));
}

void tst_ServerStates::finishDelayedPastCommandTimeoutIsSentAgain()
{
    // Redis stops answering writes (CLIENT PAUSE) just as the work ends: the finish script times
    // out and its connection is dropped. The holder keeps its lease and sends the finish again,
    // so the waiter gets the holder's value instead of taking over and running the work twice.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    DistributedPromiseConfig config = configFor(server);
    config.commandTimeout = 300ms;
    config.lockTimeout = 3s;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    const QString key = QStringLiteral("paused-finish");
    auto slow = holder.wrap(key, [&] {
        ++runs;
        auto promise = std::make_shared<QPromise<QString>>();
        promise->start();
        QTimer::singleShot(200ms, [&server, promise] {
            // The finish goes out right after this: Redis holds it for 1.2 s.
            server.cli({ QStringLiteral("CLIENT"), QStringLiteral("PAUSE"), QStringLiteral("1200"),
                QStringLiteral("WRITE") });
            promise->addResult(QStringLiteral("holder's"));
            promise->finish();
        });
        return promise->future();
    });
    auto same = waiter.wrap(key, [&runs] { return QStringLiteral("waiter's %1").arg(++runs); });
    const QFuture<QString> held = slow();
    QTRY_VERIFY(keyExists(server, lockOf(key)));
    const QFuture<QString> waited = same();
    QTRY_VERIFY_WITH_TIMEOUT(held.isFinished() && waited.isFinished(), 8000);
    QCOMPARE(runs, 1);
    QCOMPARE(held.result(), QStringLiteral("holder's"));
    QCOMPARE(waited.result(), QStringLiteral("holder's"));
    QCOMPARE(waiter.stats().takeovers, quint64(0));
    QCOMPARE(server.cli({ QStringLiteral("GET"), dataOf(key) }),
        QByteArray("{\"v\":1,\"ok\":true,\"value\":\"holder's\"}"));
    QVERIFY(!keyExists(server, lockOf(key)));
}

void tst_ServerStates::lockWithoutExpiryGetsTheLease()
{
    // A lock key without expiry (left by an operator or another tool) would make every caller
    // wait forever: the lock script gives it the lease, and a waiter takes over when it ends.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    DistributedPromiseConfig config = configFor(server);
    config.lockTimeout = 300ms;
    const QString key = QStringLiteral("eternal-lock");
    QCOMPARE(server.cli({ QStringLiteral("SET"), lockOf(key), QStringLiteral("left-behind") }),
        QByteArray("OK"));
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key, [&runs] { return ++runs; });
    QElapsedTimer clock;
    clock.start();
    const QFuture<int> f = work();
    QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 3000);
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    QCOMPARE(f.result(), 1);
    QCOMPARE(wrapper.stats().takeovers, quint64(1));
    QVERIFY2(clock.elapsed() < 2000, qPrintable(QString::number(clock.elapsed())));
}

void tst_ServerStates::dataKeyOfAnotherTypeIsReplaced()
{
    // A hash where a value belongs is as unreadable as garbage: it is deleted, the work runs
    // once and its value is cached; it does not fail every call with WRONGTYPE forever.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const DistributedPromiseConfig config = configFor(server);
    for (const QString &key : { QStringLiteral("hash-at-data"), QStringLiteral("list-at-data") }) {
        const bool hash = key.startsWith(QLatin1String("hash"));
        QVERIFY(
            !server
                 .cli({ hash ? QStringLiteral("HSET") : QStringLiteral("RPUSH"), dataOf(key),
                     hash ? QStringLiteral("field") : QStringLiteral("item"), QStringLiteral("x") })
                 .startsWith("ERR"));
        LogCapture log;
        DistributedPromiseWrapper wrapper(config);
        int runs = 0;
        auto work = wrapper.wrap(key, [&runs] { return ++runs; });
        const QFuture<int> first = work();
        QTRY_VERIFY(first.isFinished());
        QCOMPARE(codeOf(first), QStringLiteral("ok"));
        QCOMPARE(first.result(), 1);
        QCOMPARE(server.cli({ QStringLiteral("GET"), dataOf(key) }),
            QByteArray(R"({"v":1,"ok":true,"value":1})"));
        const QFuture<int> second = work();
        QTRY_VERIFY(second.isFinished());
        QCOMPARE(second.result(), 1);
        QCOMPARE(runs, 1);
        QVERIFY2(log.count(QStringLiteral("deleted an unreadable cache entry")) >= 1,
            qPrintable(log.dump()));
    }
}

void tst_ServerStates::userWithoutChannelRightsIsToldAndWaitersPoll()
{
    // Redis 7 gives a new ACL user no channel rights: the holder cannot publish. The library says
    // so at connect, names the channels to grant, and waiters look again every 100 ms instead of
    // waiting a whole lease for a message that cannot come.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(server.cli({ QStringLiteral("ACL"), QStringLiteral("SETUSER"),
                 QStringLiteral("default"), QStringLiteral("resetchannels") }),
        QByteArray("OK"));
    LogCapture log;
    DistributedPromiseConfig config = configFor(server);
    config.lockTimeout = 10s;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    QTRY_VERIFY(log.count(QStringLiteral("may not publish on distributed-promise:notif:*")) == 2);
    int runs = 0;
    const QString key = QStringLiteral("no-channel-rights");
    auto slow = holder.wrap(key, [&runs] {
        ++runs;
        return valueLater(300ms, 7);
    });
    auto same = waiter.wrap(key, [&runs] { return ++runs; });
    const QFuture<int> held = slow();
    QTRY_VERIFY(keyExists(server, lockOf(key)));
    QElapsedTimer clock;
    clock.start();
    const QFuture<int> waited = same();
    QTRY_VERIFY_WITH_TIMEOUT(held.isFinished() && waited.isFinished(), 15000);
    QCOMPARE(waited.result(), 7);
    QCOMPARE(runs, 1);
    // Not a lease (10 s): the work's 300 ms and a poll or two.
    QVERIFY2(clock.elapsed() < 2000, qPrintable(QString::number(clock.elapsed())));
    QVERIFY(!keyExists(server, lockOf(key)));
}

void tst_ServerStates::evictingPolicyIsReported()
{
    // volatile-* and allkeys-* policies can evict a lock (it has an expiry) while its holder
    // works: said once per connect.
    RedisServer server(RedisServer::Transport::Tcp,
        { QStringLiteral("--maxmemory-policy"), QStringLiteral("volatile-lru") });
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    LogCapture log;
    DistributedPromiseWrapper wrapper(configFor(server));
    QTRY_COMPARE(log.count(QStringLiteral("has maxmemory-policy volatile-lru")), 1);
}

QTEST_GUILESS_MAIN(tst_ServerStates)
#include "tst_serverstates.moc"
