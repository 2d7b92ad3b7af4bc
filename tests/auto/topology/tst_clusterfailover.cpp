// SPDX-License-Identifier: MIT
// The library on a Redis Cluster of 3 masters with one replica each, when a master is killed
// (SIGKILL) while work of one of its slots is in flight in another process and its replica
// takes over. Holder and waiters are dpworker processes. The lock is replicated before the kill
// (replication is asynchronous: a lock the replica never got is Redis's loss, not the
// library's), so the promoted replica holds the lock with the holder's token and the work must
// run exactly once: no extra run, every caller gets the holder's value, no lock is left.

#include "clustertest.h"
#include "faultstest.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QtTest>

using namespace ClusterTest;
using namespace CoreTest;
using namespace FaultsTest;

class tst_ClusterFailover : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void masterKilledWhileWorking();
    void failoverDuringLeaseRenewal();

private:
    /*! Holder and two waiters (3 calls each) of slow(arg) on master \a master; kills the master
        once they are all in, after a lease renewal if \a afterRenewal, and checks the outcome. */
    void killMasterDuringCall(
        const QString &prefix, int master, int lockMs, int workMs, bool afterRenewal);

    std::unique_ptr<RedisClusterSetup> m_cluster;
};

void tst_ClusterFailover::initTestCase()
{
    m_cluster = std::make_unique<RedisClusterSetup>(3, true);
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->errorString()));
}

void tst_ClusterFailover::killMasterDuringCall(
    const QString &prefix, int master, int lockMs, int workMs, bool afterRenewal)
{
    const QString arg = argsOn(*m_cluster, QStringLiteral("slow"), master, 1).constFirst();
    const QByteArray argsJson = "[\"" + arg.toUtf8() + "\"]";
    const QString lock = lockKey(QStringLiteral("slow"), argsJson, prefix);
    const QString channel = channelOf(prefix, arg);
    const int calls = 3;
    Workers workers(m_cluster->url(), prefix);
    const QStringList common { QStringLiteral("--arg"), arg, QStringLiteral("--no-go"),
        QStringLiteral("--value-pid"), QStringLiteral("--unavailable"), QStringLiteral("local"),
        QStringLiteral("--lock-ms"), QString::number(lockMs), QStringLiteral("--work-ms"),
        QString::number(workMs), QStringLiteral("--calls"), QString::number(calls) };
    const int holder = workers.start(common);
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    QElapsedTimer working;
    working.start();
    workers.start(common);
    workers.start(common);
    QTRY_COMPARE_WITH_TIMEOUT(subscribersOn(m_cluster->node(master), channel, true), 2, 5000);

    // The test process is one more client, idle through the failover.
    DistributedPromiseConfig config;
    config.redisUrl = m_cluster->url();
    config.keyPrefix = QStringLiteral("probe-") + prefix;
    SquareWrapper probe(config);
    QTRY_VERIFY_WITH_TIMEOUT(probe.wrapper.isConnected(), 10000);
    QElapsedTimer clock;
    qint64 reconnectedMs = -1;
    connect(&probe.wrapper, &DistributedPromiseWrapper::connectedChanged, this,
        [&](bool connected) { reconnectedMs = connected ? clock.elapsed() : -1; });

    const auto pttl = [&] {
        return m_cluster->node(master).cli({ QStringLiteral("PTTL"), lock }).toLongLong();
    };
    if (afterRenewal) {
        // 300 ms into a fresh lease: the failover then spans the renewal due at a third of the
        // lease and at least one retry of it, and the lease runs out lockTimeout after the
        // renewal.
        const qint64 before = pttl();
        QTRY_VERIFY_WITH_TIMEOUT(pttl() > before, lockMs);
        QTRY_VERIFY_WITH_TIMEOUT(pttl() < lockMs - 300, lockMs);
    }
    QVERIFY2(m_cluster->waitForReplication(master), qPrintable(m_cluster->errorString()));
    const qint64 leaseAge = lockMs - pttl();
    QVERIFY(leaseAge < lockMs);
    const qint64 killedAfter = working.elapsed();

    clock.start();
    const int promoted = m_cluster->killMaster(master);
    QVERIFY2(promoted >= 0, qPrintable(m_cluster->errorString()));
    const qint64 failoverMs = clock.elapsed();
    // The renewal due at a third of the lease and its retry a tenth of the lease later (the
    // keeper's tick) fell into the failover.
    if (afterRenewal)
        QVERIFY2(leaseAge + failoverMs > lockMs / 3 + lockMs / 10,
            qPrintable(
                QStringLiteral("lease age %1 ms, failover %2 ms").arg(leaseAge).arg(failoverMs)));
    QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), lockMs + workMs + 10000);
    const qint64 doneMs = clock.elapsed();

    const QString value = QStringLiteral("value-of-%1-pid-%2").arg(arg).arg(workers.pid(holder));
    int executions = 0;
    int localRuns = 0;
    double worstWaitMs = 0;
    for (int i = 0; i < workers.count(); ++i) {
        const QJsonObject result = workers.result(i);
        QVERIFY2(errorCodesOf(result).isEmpty(), workers.output(i).constData());
        QCOMPARE(valuesOf(result), QStringList(calls, value));
        QCOMPARE(intOf(result, "takeovers"), 0);
        QCOMPARE(intOf(result, "lostLeases"), 0);
        executions += intOf(result, "executions");
        localRuns += intOf(result, "localRuns");
        for (const QJsonValue wait : result.value(QStringLiteral("waitsMs")).toArray())
            worstWaitMs = std::max(worstWaitMs, wait.toDouble());
    }
    QCOMPARE(intOf(workers.result(holder), "executions"), 1);
    QCOMPARE(executions, 1);
    QCOMPARE(localRuns, 0);
    // Every caller had the outcome within a second of the moment both the work and the
    // failover were done.
    const qint64 available = std::max<qint64>(workMs, killedAfter + failoverMs);
    QVERIFY2(worstWaitMs < double(available + 1000),
        qPrintable(QStringLiteral("%1 ms, available after %2 ms").arg(worstWaitMs).arg(available)));
    // The outcome is cached on the promoted replica, and no lock is left.
    DistributedPromiseTest::RedisServer &owner = m_cluster->node(promoted);
    QCOMPARE(
        owner.cli({ QStringLiteral("GET"), dataKey(QStringLiteral("slow"), argsJson, prefix) }),
        QByteArray(R"({"v":1,"ok":true,"value":")") + value.toUtf8() + "\"}");
    QVERIFY(!keyExists(owner, lock));
    // The idle client is connected again, and said so: connectedChanged(true) is what a UI
    // goes by, and what makes the library's own waiters look again. (It shares this thread,
    // which killMaster() blocks until the promotion.)
    QTRY_VERIFY_WITH_TIMEOUT(probe.wrapper.isConnected() && reconnectedMs >= 0, 2000);
    qInfo("killed the master %lld ms into the work (%lld ms into the lease): replica promoted "
          "after %lld ms, an idle client (in this thread) connected to it after %lld ms, all %d "
          "callers done after %lld ms, %d execution(s), worst caller wait %.0f ms, %d local "
          "run(s)",
        killedAfter, leaseAge, failoverMs, reconnectedMs, workers.count() * calls, doneMs,
        executions, worstWaitMs, localRuns);
}

void tst_ClusterFailover::masterKilledWhileWorking()
{
    // A long lease (no renewal due before the work ends): the holder's finish and the waiters'
    // subscriptions have to find the promoted replica.
    killMasterDuringCall(QStringLiteral("killed"), 0, 10000, 2000, false);
}

void tst_ClusterFailover::failoverDuringLeaseRenewal()
{
    // Lease 3 s (renewed when a third old, retried every 300 ms), work 4 s, the failover
    // (about 1.5-2 s) starting 300 ms after a renewal: the renewal due at 1 s and its retries
    // fail until the replica is promoted, and one must get through to it before the lease
    // runs out at 3 s.
    killMasterDuringCall(QStringLiteral("renewal"), 1, 3000, 4000, true);
}

QTEST_GUILESS_MAIN(tst_ClusterFailover)
#include "tst_clusterfailover.moc"
