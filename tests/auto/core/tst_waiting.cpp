// SPDX-License-Identifier: MIT
// Waiting for a holder in another wrapper (another process, as far as Redis can tell): the
// published value, timeouts, errors, cancellation and takeover from a dead holder.

#include "coretest.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>

#include <stdexcept>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;
using namespace std::chrono_literals;

class tst_Waiting : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void waitersGetThePublishedValue();
    void waiterTimesOutWhileHolderFinishes();
    void holderErrorReachesWaiters();
    void cancellingOneCallerLeavesTheOthers();
    void cancellingAWaiterLeavesTheOthers();
    void lastWaiterLeavingUnsubscribes();
    void cancelledCallersDoNotStopTheWork();
    void takeoverFromDeadHolder();
    void onlyOneWaiterTakesOver();
    void longWorkKeepsItsLease();
    void callerLeavingDuringLockAttemptLeavesNoLock();
    void holderThatLostItsLeaseDoesNotOverwrite();
    void waiterWhoseSubscribeIsRefusedStillFinishes();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("waiting-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }

    RedisServer m_server;
};

void tst_Waiting::initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

void tst_Waiting::waitersGetThePublishedValue()
{
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int holderRuns = 0;
    int waiterRuns = 0;
    auto slow = holder.wrap(key(), [&holderRuns](const QString &s) {
        ++holderRuns;
        return valueLater(300ms, QString(s + QStringLiteral("!")));
    });
    auto same = waiter.wrap(key(), [&waiterRuns](const QString &s) {
        ++waiterRuns;
        return s + QStringLiteral("?");
    });
    const QFuture<QString> held = slow(QStringLiteral("v"));
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), R"(["v"])")));
    QList<QFuture<QString>> waiting;
    for (int i = 0; i < 5; ++i)
        waiting.append(same(QStringLiteral("v")));
    QVERIFY(!held.isFinished());
    QTRY_VERIFY(held.isFinished());
    QCOMPARE(held.result(), QStringLiteral("v!"));
    for (const QFuture<QString> &f : std::as_const(waiting)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), QStringLiteral("v!"));
    }
    QCOMPARE(holderRuns, 1);
    QCOMPARE(waiterRuns, 0);
    const DistributedPromiseStats stats = waiter.stats();
    QCOMPARE(stats.waited, quint64(1));
    QCOMPARE(stats.coalesced, quint64(4));
    QCOMPARE(stats.won, quint64(0));
    QCOMPARE(stats.hits, quint64(0));
    QCOMPARE(holder.stats().won, quint64(1));
}

void tst_Waiting::waiterTimesOutWhileHolderFinishes()
{
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    auto slow = holder.wrap(key(), [&runs] {
        ++runs;
        return valueLater(400ms, 7);
    });
    auto impatient = waiter.wrap(DistributedPromiseWrapOptions { key(), 100ms }, [&runs] {
        ++runs;
        return 8;
    });
    const QFuture<int> held = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    QElapsedTimer clock;
    clock.start();
    const QFuture<int> timedOut = impatient();
    QTRY_VERIFY_WITH_TIMEOUT(timedOut.isFinished(), 3000);
    const qint64 elapsed = clock.elapsed();
    QCOMPARE(codeOf(timedOut), QStringLiteral("Timeout"));
    QVERIFY2(messageOf(timedOut).contains(key()), qPrintable(messageOf(timedOut)));
    QVERIFY2(elapsed >= 90, QByteArray::number(elapsed));
    QVERIFY(!held.isFinished());
    QCOMPARE(waiter.stats().errors, quint64(1));

    // The holder is not disturbed: it finishes and caches; the waiter never ran the work.
    QTRY_VERIFY(held.isFinished());
    QCOMPARE(held.result(), 7);
    QCOMPARE(runs, 1);
    QVERIFY(keyExists(m_server, dataKey(key(), "[]")));
    const QFuture<int> later = impatient();
    QTRY_VERIFY(later.isFinished());
    QCOMPARE(codeOf(later), QStringLiteral("ok"));
    QCOMPARE(later.result(), 7);
    QCOMPARE(runs, 1);

    // A per-call timeout that is long enough does not fire.
    DistributedPromiseConfig patientConfig = config;
    patientConfig.timeout = 100ms; // the config default, overridden by the wrap options below
    DistributedPromiseWrapper patient(patientConfig);
    auto patientWork = patient.wrap(DistributedPromiseWrapOptions { key(QStringLiteral("-2")), 5s },
        [] { return valueLater(300ms, 1); });
    const QFuture<int> slowButFine = patientWork();
    QTRY_VERIFY(slowButFine.isFinished());
    QCOMPARE(codeOf(slowButFine), QStringLiteral("ok"));
    // ... while the config's timeout applies to wraps without their own. Here this process
    // holds the lock itself: its callers time out, the work is not started again for the
    // next caller, and its result is cached.
    int ownRuns = 0;
    auto defaulted = patient.wrap(key(QStringLiteral("-3")), [&ownRuns] {
        ++ownRuns;
        return valueLater(300ms, 3);
    });
    const QFuture<int> defaultTimeout = defaulted();
    QTRY_VERIFY_WITH_TIMEOUT(defaultTimeout.isFinished(), 1500);
    QCOMPARE(codeOf(defaultTimeout), QStringLiteral("Timeout"));
    const QFuture<int> joinsRunningWork = defaulted();
    QTRY_VERIFY_WITH_TIMEOUT(joinsRunningWork.isFinished(), 1500);
    QCOMPARE(codeOf(joinsRunningWork), QStringLiteral("Timeout"));
    QCOMPARE(patient.stats().coalesced, quint64(1));
    QTRY_VERIFY(keyExists(m_server, dataKey(key(QStringLiteral("-3")), "[]")));
    const QFuture<int> cached = defaulted();
    QTRY_VERIFY(cached.isFinished());
    QCOMPARE(cached.result(), 3);
    QCOMPARE(ownRuns, 1);
}

void tst_Waiting::holderErrorReachesWaiters()
{
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    auto failing = holder.wrap(key(), [&runs] {
        ++runs;
        return errorLater<int>(300ms, std::make_exception_ptr(std::runtime_error("holder broke")));
    });
    auto same = waiter.wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> held = failing();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<int> waited1 = same();
    const QFuture<int> waited2 = same();
    QTRY_VERIFY(held.isFinished() && waited1.isFinished() && waited2.isFinished());
    for (const QFuture<int> &f : { held, waited1, waited2 }) {
        QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
        QCOMPARE(messageOf(f), QStringLiteral("holder broke"));
    }
    QCOMPARE(runs, 1);
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
    QVERIFY(!keyExists(m_server, lockKey(key(), "[]")));
    QCOMPARE(waiter.stats().errors, quint64(2));
}

void tst_Waiting::cancellingOneCallerLeavesTheOthers()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto slow = wrapper.wrap(key(), [&runs] {
        ++runs;
        return valueLater(500ms, QStringLiteral("done"));
    });
    QFuture<QString> cancelled = slow();
    const QFuture<QString> kept = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    cancelled.cancel();
    // The cancelled caller is detached at once, long before the shared work ends.
    QTRY_VERIFY_WITH_TIMEOUT(cancelled.isFinished(), 400);
    QVERIFY(!kept.isFinished());
    QTRY_VERIFY(kept.isFinished());
    QCOMPARE(codeOf(kept), QStringLiteral("ok"));
    QCOMPARE(kept.result(), QStringLiteral("done"));
    QVERIFY(cancelled.isCanceled());
    QCOMPARE(cancelled.resultCount(), 0);
    QCOMPARE(runs, 1);
    // A caller that left is counted as cancelled, not as an error.
    QCOMPARE(wrapper.stats().cancelled, quint64(1));
    QCOMPARE(wrapper.stats().errors, quint64(0));
    QCOMPARE(wrapper.statistics().value(QStringLiteral("cancelled")).toULongLong(), quint64(1));
}

void tst_Waiting::cancellingAWaiterLeavesTheOthers()
{
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    auto slow = holder.wrap(key(), [&runs] {
        ++runs;
        return valueLater(500ms, 5);
    });
    auto same = waiter.wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> held = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    QFuture<int> cancelled = same();
    const QFuture<int> kept = same();
    // Cancel once the waiter is subscribed.
    QTRY_VERIFY(!m_server
                     .cli({ QStringLiteral("PUBSUB"), QStringLiteral("CHANNELS"),
                         QStringLiteral("*") + key() + QLatin1Char('*') })
                     .isEmpty());
    cancelled.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(cancelled.isFinished(), 400);
    QVERIFY(!kept.isFinished());
    QTRY_VERIFY(kept.isFinished() && held.isFinished());
    QCOMPARE(kept.result(), 5);
    QVERIFY(cancelled.isCanceled());
    QCOMPARE(runs, 1);
    QCOMPARE(waiter.stats().cancelled, quint64(1));
    QCOMPARE(waiter.stats().errors, quint64(0));
}

void tst_Waiting::lastWaiterLeavingUnsubscribes()
{
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    auto slow = holder.wrap(key(), [] { return valueLater(800ms, 5); });
    auto same = waiter.wrap(key(), [] { return 6; });
    const QFuture<int> held = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    QFuture<int> only = same();
    const auto channels = [&] {
        // The call's channel; the wrap key's generation channel stays.
        return m_server.cli({ QStringLiteral("PUBSUB"), QStringLiteral("CHANNELS"),
            QStringLiteral("*{") + key() + QStringLiteral(":*") });
    };
    QTRY_VERIFY(!channels().isEmpty());
    only.cancel();
    // The only local waiter left: the process stops listening while the holder still works.
    QTRY_VERIFY_WITH_TIMEOUT(channels().isEmpty(), 600);
    QVERIFY(only.isFinished());
    QVERIFY(!held.isFinished());
    QTRY_VERIFY(held.isFinished());
    QCOMPARE(held.result(), 5);
}

void tst_Waiting::cancelledCallersDoNotStopTheWork()
{
    // Every caller gives up; the work still finishes and caches for the next one.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    bool workFinished = false;
    auto slow = wrapper.wrap(key(), [&] {
        ++runs;
        return valueLater(400ms, 9).then([&workFinished](int v) {
            workFinished = true;
            return v;
        });
    });
    QFuture<int> a = slow();
    QFuture<int> b = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    a.cancel();
    b.cancel();
    QTRY_VERIFY(workFinished);
    QTRY_VERIFY(keyExists(m_server, dataKey(key(), "[]")));
    QTRY_VERIFY(a.isFinished() && b.isFinished());
    const QFuture<int> next = slow();
    QTRY_VERIFY(next.isFinished());
    QCOMPARE(next.result(), 9);
    QCOMPARE(runs, 1);
}

void tst_Waiting::takeoverFromDeadHolder()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.lockTimeout = 2s;
    const QString lock = lockKey(key(), "[3]");
    // A holder that died: its lock lives on for 500 ms, nobody will ever publish.
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), lock, QStringLiteral("dead-holder-token"),
                 QStringLiteral("PX"), QStringLiteral("500") }),
        QByteArray("OK"));
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return n * 100;
    });
    QElapsedTimer clock;
    clock.start();
    QList<QFuture<int>> futures { work(3), work(3), work(3) };
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 3000);
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), 300);
    }
    const qint64 elapsed = clock.elapsed();
    // Not before the lease ran out, and soon after it.
    QVERIFY2(elapsed >= 400 && elapsed < 1500, QByteArray::number(elapsed));
    QCOMPARE(runs, 1);
    const DistributedPromiseStats stats = wrapper.stats();
    QCOMPARE(stats.takeovers, quint64(1));
    QCOMPARE(stats.won, quint64(1));
    QCOMPARE(stats.waited, quint64(1));
    QVERIFY(keyExists(m_server, dataKey(key(), "[3]")));
    QVERIFY(!keyExists(m_server, lock));
}

void tst_Waiting::onlyOneWaiterTakesOver()
{
    // Two "processes" wait on a dead holder: the work runs again once, not once per waiter.
    DistributedPromiseConfig config = configFor(m_server);
    config.lockTimeout = 2s;
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), lockKey(key(), "[]"), QStringLiteral("dead"),
                 QStringLiteral("PX"), QStringLiteral("400") }),
        QByteArray("OK"));
    DistributedPromiseWrapper first(config);
    DistributedPromiseWrapper second(config);
    int runs = 0;
    auto work = [&runs] {
        ++runs;
        return valueLater(100ms, QStringLiteral("again"));
    };
    auto a = first.wrap(key(), work);
    auto b = second.wrap(key(), work);
    const QFuture<QString> fa = a();
    const QFuture<QString> fb = b();
    QTRY_VERIFY_WITH_TIMEOUT(fa.isFinished() && fb.isFinished(), 3000);
    QCOMPARE(fa.result(), QStringLiteral("again"));
    QCOMPARE(fb.result(), QStringLiteral("again"));
    QCOMPARE(runs, 1);
    QCOMPARE(first.stats().takeovers + second.stats().takeovers, quint64(1));
}

void tst_Waiting::longWorkKeepsItsLease()
{
    // Work more than three times longer than the lock's lease: the holder renews it, so a waiter in
    // another process never takes over and the work runs once.
    DistributedPromiseConfig config = configFor(m_server);
    config.lockTimeout = 240ms;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    auto slow = holder.wrap(key(), [&runs] {
        ++runs;
        return valueLater(800ms, 11);
    });
    auto same = waiter.wrap(key(), [&runs] { return valueLater(10ms, ++runs); });
    const QFuture<int> held = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<int> waited = same();
    QTRY_VERIFY(held.isFinished() && waited.isFinished());
    QCOMPARE(held.result(), 11);
    QCOMPARE(waited.result(), 11);
    QCOMPARE(runs, 1);
    QCOMPARE(waiter.stats().takeovers, quint64(0));
    QCOMPARE(holder.stats().lostLeases, quint64(0));
}

void tst_Waiting::callerLeavingDuringLockAttemptLeavesNoLock()
{
    // The only caller times out while its lock attempt is still on its way to Redis. If the
    // attempt then wins, the lock must not stay behind for the whole lease, making every other
    // process wait for a holder that does not exist.
    DistributedPromiseConfig config = configFor(m_server);
    config.ttl = 0ms; // no cache check: the first command is the lock attempt
    config.lockTimeout = 10s;
    DistributedPromiseWrapper impatient(config);
    QTRY_VERIFY(impatient.isConnected());
    int runs = 0;
    auto work = impatient.wrap(DistributedPromiseWrapOptions { key(), 100ms }, [&runs] {
        ++runs;
        return 1;
    });
    m_server.pause();
    // Resume even when a check below fails, so that the next tests find a running server.
    auto resume = qScopeGuard([this] { m_server.resume(); });
    const QFuture<int> gaveUp = work();
    QTRY_VERIFY_WITH_TIMEOUT(gaveUp.isFinished(), 2000);
    resume.dismiss();
    m_server.resume();
    QCOMPARE(codeOf(gaveUp), QStringLiteral("Timeout"));
    QTRY_VERIFY_WITH_TIMEOUT(!keyExists(m_server, lockKey(key(), "[]")), 2000);

    // Another process gets its answer without waiting out the 10 s lease.
    DistributedPromiseWrapper other(config);
    auto same = other.wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> answered = same();
    QTRY_VERIFY_WITH_TIMEOUT(answered.isFinished(), 2000);
    QCOMPARE(codeOf(answered), QStringLiteral("ok"));
    QCOMPARE(other.stats().takeovers, quint64(0));
}

void tst_Waiting::holderThatLostItsLeaseDoesNotOverwrite()
{
    // Another process took the lock over while this holder was still working (say, it was
    // frozen past its lease). The old holder's callers get its value, but it neither caches,
    // publishes nor unlocks: the newer holder's lock and result stand.
    DistributedPromiseConfig config = configFor(m_server);
    config.lockTimeout = 90ms; // renewed every 30 ms
    DistributedPromiseWrapper holder(config);
    int runs = 0;
    auto slow = holder.wrap(key(), [&runs] {
        ++runs;
        return valueLater(300ms, QStringLiteral("stale"));
    });
    const QString lock = lockKey(key(), "[]");
    const QFuture<QString> held = slow();
    QTRY_VERIFY(keyExists(m_server, lock));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("lost the lock of")));
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("after its lease was lost")));
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), lock, QStringLiteral("newer-holder"),
                 QStringLiteral("PX"), QStringLiteral("10000") }),
        QByteArray("OK"));
    QTRY_VERIFY(held.isFinished());
    QCOMPARE(codeOf(held), QStringLiteral("ok"));
    QCOMPARE(held.result(), QStringLiteral("stale"));
    QCOMPARE(runs, 1);
    QCOMPARE(holder.stats().lostLeases, quint64(1));
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), lock }), QByteArray("newer-holder"));
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
}

void tst_Waiting::waiterWhoseSubscribeIsRefusedStillFinishes()
{
    // The waiter's SUBSCRIBE is never confirmed (here: an ACL without channel permissions; the
    // same holds when the connection drops first). It must still look again when the holder's
    // lease runs out instead of waiting for a confirmation that never comes.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(server.cli({ QStringLiteral("ACL"), QStringLiteral("SETUSER"),
                 QStringLiteral("default"), QStringLiteral("resetchannels") }),
        QByteArray("OK"));
    DistributedPromiseConfig config = configFor(server);
    config.lockTimeout = 2s;
    QCOMPARE(server.cli({ QStringLiteral("SET"), lockKey(key(), "[]"), QStringLiteral("dead"),
                 QStringLiteral("PX"), QStringLiteral("300") }),
        QByteArray("OK"));
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> f = work();
    QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 3000);
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    QCOMPARE(f.result(), 1);
    QCOMPARE(wrapper.stats().takeovers, quint64(1));
}

QTEST_GUILESS_MAIN(tst_Waiting)
#include "tst_waiting.moc"
