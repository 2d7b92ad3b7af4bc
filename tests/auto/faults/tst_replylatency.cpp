// SPDX-License-Identifier: MIT
// Slow replies (a remote Redis, a busy network) must not change what a call does. The race this
// guards: a waiter's lock attempt finds the holder busy, but its reply is slow, and the holder
// finishes (an outcome that is not cached: ttl 0, or an error) before the waiter has subscribed
// or while its re-check is on its way. The waiter must still get the holder's outcome, without
// running the work a second time and without leaving a lock nobody works under (every later
// caller would wait a whole lease).

#include "faultproxy.h"
#include "faultstest.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QTest>

#include <chrono>
#include <stdexcept>

using namespace std::chrono_literals;
using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::FaultProxy;
using DistributedPromiseTest::RedisServer;

class tst_ReplyLatency : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void slowWaiterAfterAFailingHolder_data();
    void slowWaiterAfterAFailingHolder();
};

void tst_ReplyLatency::slowWaiterAfterAFailingHolder_data()
{
    // ttl 0, so the lock attempt is the waiter's first command: it runs while the holder works
    // (150 ms), and its reply, held back 250 ms, arrives after the holder finished.
    QTest::addColumn<bool>("fails");
    QTest::newRow("value") << false;
    QTest::newRow("error") << true;
}

void tst_ReplyLatency::slowWaiterAfterAFailingHolder()
{
    QFETCH(bool, fails);
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    FaultProxy proxy(server.port());
    QVERIFY2(proxy.start(), qPrintable(proxy.errorString()));
    proxy.setDelay(250, FaultProxy::Target::commands());

    DistributedPromiseConfig config = configFor(server);
    config.lockTimeout = 5s; // a lock left behind would hold every later caller for this long
    config.ttl = 0ms;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseConfig slowConfig = config;
    slowConfig.redisUrl = proxy.url();
    DistributedPromiseWrapper waiter(slowConfig);
    QTRY_VERIFY(waiter.isConnected());

    int runs = 0;
    auto failing = holder.wrap(QStringLiteral("latency"), [&runs, fails](int i) {
        ++runs;
        return fails ? errorLater<int>(
                   150ms, std::make_exception_ptr(std::runtime_error("the report broke")))
                     : valueLater(150ms, i);
    });
    auto same = waiter.wrap(QStringLiteral("latency"), [&runs](int i) {
        ++runs;
        return 1000 + i;
    });
    // The wrap key's generation is read once per process, on its first use: before the loop.
    const auto known = same.peek(-1);
    QTRY_VERIFY(known.isFinished());
    constexpr int tries = 4;
    for (int i = 0; i < tries; ++i) {
        const int before = runs;
        const QFuture<int> held = failing(i);
        const QByteArray args = '[' + QByteArray::number(i) + ']';
        QTRY_VERIFY(keyExists(server, lockKey(QStringLiteral("latency"), args)));
        const QFuture<int> waited = same(i);
        QTRY_VERIFY_WITH_TIMEOUT(held.isFinished() && waited.isFinished(), 10000);
        QCOMPARE(codeOf(waited), codeOf(held));
        if (fails)
            QCOMPARE(messageOf(waited), messageOf(held));
        else
            QCOMPARE(waited.result(), i);
        QCOMPARE(runs, before + 1); // one execution for both
        // No lock left for a lease: the next caller starts at once.
        QElapsedTimer clock;
        clock.start();
        const QFuture<int> next = failing(i);
        QTRY_VERIFY_WITH_TIMEOUT(next.isFinished(), 10000);
        QVERIFY2(clock.elapsed() < 2000, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(runs, before + 2);
    }
    QCOMPARE(waiter.stats().takeovers, quint64(0));
    QCOMPARE(waiter.stats().won, quint64(0));
}

QTEST_GUILESS_MAIN(tst_ReplyLatency)
#include "tst_replylatency.moc"
