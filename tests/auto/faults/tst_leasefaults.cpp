// SPDX-License-Identifier: MIT
// A holder that loses its lease (frozen with SIGSTOP past it, or its lock deleted under it) must
// not overwrite the newer holder's result, and must still answer its own callers. A holder whose
// work blocks its event loop keeps its lease; one that quits cleanly hands the work over at once.

#include "faultstest.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QtTest>

#include <signal.h>

using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisServer;

class tst_LeaseFaults : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void pausedHolderDoesNotOverwriteTheNewerHolder();
    void lockDeletedUnderAWorkingHolder();
    void blockingWorkLongerThanTheLeaseRunsOnce();
    void holderQuittingCleanlyHandsOverAtOnce();

private:
    QString prefix() const
    {
        return QStringLiteral("lease-") + QString::fromLatin1(QTest::currentTestFunction());
    }
    QByteArray cached() const
    {
        return m_server.cli(
            { QStringLiteral("GET"), dataKey(QStringLiteral("slow"), R"(["x"])", prefix()) });
    }
    static QByteArray envelopeOf(const QString &value)
    {
        return QByteArrayLiteral(R"({"v":1,"ok":true,"value":")") + value.toUtf8() + "\"}";
    }
    static QString valueOf(qint64 pid) { return QStringLiteral("value-of-x-pid-%1").arg(pid); }

    RedisServer m_server;
};

void tst_LeaseFaults::pausedHolderDoesNotOverwriteTheNewerHolder()
{
    Workers workers(m_server.url(), prefix());
    // The holder works for 1.5 s under a 600 ms lease it renews every 200 ms...
    const int holder = workers.start({ QStringLiteral("--calls"), QStringLiteral("4"),
        QStringLiteral("--work-ms"), QStringLiteral("1500"), QStringLiteral("--lock-ms"),
        QStringLiteral("600"), QStringLiteral("--value-pid"), QStringLiteral("--no-go") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    const qint64 holderPid = workers.pid(holder);
    // ... until it is frozen: it can neither renew nor finish.
    QCOMPARE(::kill(pid_t(holderPid), SIGSTOP), 0);
    QTRY_VERIFY(isStopped(holderPid));
    auto resume = qScopeGuard([holderPid] { ::kill(pid_t(holderPid), SIGCONT); });

    // Two more processes arrive; one takes over once the lease ran out and finishes.
    const QStringList others { QStringLiteral("--calls"), QStringLiteral("3"),
        QStringLiteral("--work-ms"), QStringLiteral("200"), QStringLiteral("--lock-ms"),
        QStringLiteral("600"), QStringLiteral("--value-pid"), QStringLiteral("--no-go") };
    const int b = workers.start(others);
    const int c = workers.start(others);
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(b) && workers.hasResult(c), 10000);
    const QJsonObject rb = workers.result(b);
    const QJsonObject rc = workers.result(c);
    QCOMPARE(intOf(rb, "executions") + intOf(rc, "executions"), 1);
    QCOMPARE(intOf(rb, "takeovers") + intOf(rc, "takeovers"), 1);
    const qint64 newerPid = intOf(rb, "executions") == 1 ? workers.pid(b) : workers.pid(c);
    const QString newer = valueOf(newerPid);
    QCOMPARE(valuesOf(rb), QStringList(3, newer));
    QCOMPARE(valuesOf(rc), QStringList(3, newer));
    QCOMPARE(cached(), envelopeOf(newer));
    QVERIFY(!workers.hasResult(holder));

    // The old holder wakes up: it finds its lease lost, keeps its hands off the cache and the
    // channel, and still answers its own callers with its own value.
    resume.dismiss();
    QCOMPARE(::kill(pid_t(holderPid), SIGCONT), 0);
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(holder), 10000);
    const QJsonObject ra = workers.result(holder);
    QCOMPARE(intOf(ra, "executions"), 1);
    QCOMPARE(errorCodesOf(ra), QStringList());
    QCOMPARE(valuesOf(ra), QStringList(4, valueOf(holderPid)));
    QVERIFY2(intOf(ra, "lostLeases") >= 1, workers.output(holder).constData());
    QCOMPARE(cached(), envelopeOf(newer));
    QVERIFY(!keyExists(m_server, lockKey(QStringLiteral("slow"), R"(["x"])", prefix())));
    QTRY_COMPARE_WITH_TIMEOUT(workers.process(holder)->state(), QProcess::NotRunning, 5000);
    QCOMPARE(workers.process(holder)->exitStatus(), QProcess::NormalExit);
    QCOMPARE(workers.process(holder)->exitCode(), 0);
}

void tst_LeaseFaults::lockDeletedUnderAWorkingHolder()
{
    Workers workers(m_server.url(), prefix());
    const int holder = workers.start({ QStringLiteral("--calls"), QStringLiteral("3"),
        QStringLiteral("--work-ms"), QStringLiteral("1800"), QStringLiteral("--lock-ms"),
        QStringLiteral("3000"), QStringLiteral("--value-pid"), QStringLiteral("--no-go") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    // Someone (an operator, a FLUSHDB, an eviction) deletes the lock while the work runs.
    QCOMPARE(m_server.cli(
                 { QStringLiteral("DEL"), lockKey(QStringLiteral("slow"), R"(["x"])", prefix()) }),
        QByteArray("1"));

    // A newcomer finds neither value nor lock: it runs the work and caches its value.
    const int newcomer = workers.start(
        { QStringLiteral("--calls"), QStringLiteral("2"), QStringLiteral("--work-ms"),
            QStringLiteral("100"), QStringLiteral("--value-pid"), QStringLiteral("--no-go") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(newcomer), 10000);
    const QJsonObject rn = workers.result(newcomer);
    const QString newer = valueOf(workers.pid(newcomer));
    QCOMPARE(intOf(rn, "executions"), 1);
    QCOMPARE(valuesOf(rn), QStringList(2, newer));
    QCOMPARE(cached(), envelopeOf(newer));
    QVERIFY2(!workers.hasResult(holder), "the holder finished before the newcomer; work longer");

    // The first holder finishes: lost lease, the newer value stays.
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(holder), 10000);
    const QJsonObject rh = workers.result(holder);
    QCOMPARE(intOf(rh, "executions"), 1);
    QCOMPARE(valuesOf(rh), QStringList(3, valueOf(workers.pid(holder))));
    QCOMPARE(intOf(rh, "lostLeases"), 1);
    QCOMPARE(cached(), envelopeOf(newer));
}

void tst_LeaseFaults::blockingWorkLongerThanTheLeaseRunsOnce()
{
    // Synchronous work of 1.5 s under a 300 ms lease: the event loop stands still the whole time,
    // yet the lease is renewed (from the lease keeper's thread), so the other process waits for
    // the holder's value instead of taking over.
    Workers workers(m_server.url(), prefix());
    const QStringList common { QStringLiteral("--calls"), QStringLiteral("2"),
        QStringLiteral("--lock-ms"), QStringLiteral("300"), QStringLiteral("--value-pid"),
        QStringLiteral("--no-go") };
    const int holder = workers.start(common
        + QStringList {
            QStringLiteral("--sync-work"), QStringLiteral("--work-ms"), QStringLiteral("1500") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    const int other = workers.start(common);
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(holder) && workers.hasResult(other), 10000);
    const QJsonObject rh = workers.result(holder);
    const QJsonObject ro = workers.result(other);
    QCOMPARE(intOf(rh, "executions") + intOf(ro, "executions"), 1);
    const QString value = valueOf(workers.pid(holder));
    QCOMPARE(valuesOf(rh), QStringList(2, value));
    QCOMPARE(valuesOf(ro), QStringList(2, value));
    QCOMPARE(intOf(ro, "takeovers"), 0);
    QCOMPARE(intOf(rh, "lostLeases"), 0);
    QCOMPARE(cached(), envelopeOf(value));
}

void tst_LeaseFaults::holderQuittingCleanlyHandsOverAtOnce()
{
    // The holder's application quits 300 ms into 5 s of work (a window closed while it loads). It
    // gives its lock back and tells the waiters, so one of them takes over at once instead of
    // after the 20 s lease; its own callers get Cancelled before it exits normally.
    Workers workers(m_server.url(), prefix());
    const QStringList common { QStringLiteral("--calls"), QStringLiteral("2"),
        QStringLiteral("--lock-ms"), QStringLiteral("20000"), QStringLiteral("--value-pid"),
        QStringLiteral("--no-go") };
    const int holder = workers.start(common
        + QStringList { QStringLiteral("--work-ms"), QStringLiteral("5000"),
            QStringLiteral("--quit-after-ms"), QStringLiteral("300") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    const QStringList waiting
        = common + QStringList { QStringLiteral("--work-ms"), QStringLiteral("200") };
    const int b = workers.start(waiting);
    const int c = workers.start(waiting);
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "QUIT"), 10000);
    QElapsedTimer sinceQuit;
    sinceQuit.start();
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(b) && workers.hasResult(c), 10000);
    // The takeover's own 200 ms of work, plus process noise: far from the 20 s lease.
    qInfo("waiters done %lld ms after the holder quit (work 200 ms, lease 20 s)",
        qint64(sinceQuit.elapsed()));
    QVERIFY2(sinceQuit.elapsed() < 3000, qPrintable(QString::number(sinceQuit.elapsed())));
    const QJsonObject rb = workers.result(b);
    const QJsonObject rc = workers.result(c);
    QCOMPARE(intOf(rb, "executions") + intOf(rc, "executions"), 1);
    QCOMPARE(intOf(rb, "takeovers") + intOf(rc, "takeovers"), 1);
    const QString value = valueOf(intOf(rb, "executions") == 1 ? workers.pid(b) : workers.pid(c));
    QCOMPARE(valuesOf(rb), QStringList(2, value));
    QCOMPARE(valuesOf(rc), QStringList(2, value));

    QTRY_COMPARE_WITH_TIMEOUT(workers.process(holder)->state(), QProcess::NotRunning, 5000);
    QCOMPARE(workers.process(holder)->exitStatus(), QProcess::NormalExit);
    QCOMPARE(workers.process(holder)->exitCode(), 0);
    QCOMPARE(errorCodesOf(workers.result(holder)), QStringList(2, QStringLiteral("Cancelled")));
}

QTEST_GUILESS_MAIN(tst_LeaseFaults)
#include "tst_leasefaults.moc"
