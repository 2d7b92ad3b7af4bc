// SPDX-License-Identifier: MIT
// The library behind Redis Sentinel (redis+sentinel://): it finds the master through the
// sentinels, and carries on across a failover, forced (SENTINEL FAILOVER) or after the master
// was killed, with the guarantees it has across a Redis restart: every future finishes, every
// caller of one identity gets the same value, and the work is not redone needlessly.

#include "faultstest.h"
#include "redistopology.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QtTest>

using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisSentinelSetup;

namespace {
/*! The value cached for dpworker's call "slow"("x") under \a prefix on \a server, or empty. */
QByteArray cachedValue(DistributedPromiseTest::RedisServer &server, const QString &prefix)
{
    return server.cli(
        { QStringLiteral("GET"), dataKey(QStringLiteral("slow"), R"(["x"])", prefix) });
}
} // namespace

class tst_Sentinel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void findsTheMaster();
    void unknownMasterName();
    void stampedeAcrossFailover_data();
    void stampedeAcrossFailover();

private:
    std::unique_ptr<RedisSentinelSetup> m_setup;
};

void tst_Sentinel::initTestCase()
{
    // Two sentinels: the URL names both, so losing the first one's answer is survivable.
    m_setup = std::make_unique<RedisSentinelSetup>(2);
    QVERIFY2(m_setup->start(), qPrintable(m_setup->errorString()));
}

void tst_Sentinel::findsTheMaster()
{
    DistributedPromiseConfig config;
    config.redisUrl = m_setup->url();
    config.keyPrefix = QStringLiteral("find");
    SquareWrapper s(config);
    QVERIFY2(s.wrapper.configurationError().isEmpty(), qPrintable(s.wrapper.configurationError()));
    QTRY_VERIFY_WITH_TIMEOUT(s.wrapper.isConnected(), 10000);
    QFuture<int> first = s.square(7);
    QTRY_VERIFY_WITH_TIMEOUT(first.isFinished(), 10000);
    QCOMPARE(first.result(), 49);
    // Written to the master (and replicated), never to a replica.
    const QString key = dataKey(QStringLiteral("square"), "[7]", config.keyPrefix);
    QVERIFY(keyExists(m_setup->master(), key));
    QTRY_VERIFY_WITH_TIMEOUT(keyExists(m_setup->replica(), key), 5000);
    QFuture<int> second = s.square(7);
    QTRY_VERIFY_WITH_TIMEOUT(second.isFinished(), 10000);
    QCOMPARE(second.result(), 49);
    QCOMPARE(s.executions, 1);
    QCOMPARE(s.wrapper.stats().hits, quint64(1));
}

void tst_Sentinel::unknownMasterName()
{
    DistributedPromiseConfig config;
    QUrl url = m_setup->url();
    url.setPath(QStringLiteral("/no-such-master"));
    config.redisUrl = url;
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    config.connectTimeout = std::chrono::milliseconds(2000);
    LogCapture log;
    SquareWrapper s(config);
    QFuture<int> call = s.square(3);
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 10000);
    QCOMPARE(codeOf(call), QStringLiteral("ConnectionFailed"));
    QVERIFY2(
        messageOf(call).contains(QStringLiteral("no-such-master")), qPrintable(messageOf(call)));
    QVERIFY2(log.count(QStringLiteral("no sentinel knows where master 'no-such-master' is")) >= 1,
        qPrintable(log.dump()));
    QVERIFY(!s.wrapper.isConnected());
}

void tst_Sentinel::stampedeAcrossFailover_data()
{
    QTest::addColumn<bool>("killMaster");
    QTest::newRow("SENTINEL FAILOVER") << false;
    QTest::newRow("master killed") << true;
}

void tst_Sentinel::stampedeAcrossFailover()
{
    QFETCH(bool, killMaster);
    QVERIFY2(m_setup->waitForReplicaInSync(), qPrintable(m_setup->errorString()));
    const QString prefix = killMaster ? QStringLiteral("killed") : QStringLiteral("forced");
    const quint16 oldMaster = m_setup->masterPort();
    Workers workers(m_setup->url(), prefix);
    // The holder works through the failover; its lease (renewed every 2 s) outlives the time
    // the sentinels need to notice and promote, so nobody takes over.
    const QStringList common { QStringLiteral("--lock-ms"), QStringLiteral("6000"),
        QStringLiteral("--unavailable"), QStringLiteral("local"), QStringLiteral("--no-go"),
        QStringLiteral("--work-ms"), QStringLiteral("4000"), QStringLiteral("--calls"),
        QStringLiteral("5") };
    const int holder = workers.start(common);
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    for (int i = 0; i < 3; ++i)
        workers.start(common);
    const QString channel = prefix + QLatin1String(":notif:{slow:[\"x\"]}");
    QTRY_COMPARE_WITH_TIMEOUT(
        m_setup->master()
            .cli({ QStringLiteral("PUBSUB"), QStringLiteral("NUMSUB"), channel })
            .split('\n')
            .value(1)
            .trimmed(),
        QByteArray("3"), 10000);

    // The test process is one more client: how long until it works through the new master.
    DistributedPromiseConfig config;
    config.redisUrl = m_setup->url();
    config.keyPrefix = QStringLiteral("probe-") + prefix;
    SquareWrapper probe(config);
    QTRY_VERIFY_WITH_TIMEOUT(probe.wrapper.isConnected(), 10000);

    // Replication is asynchronous: a failover loses what the replica had not received yet, and
    // a lost lock means one more execution (as after a Redis restart). That is Redis's side;
    // this test is about the library's, so it fails over once the replica has the lock.
    const QString lock = lockKey(QStringLiteral("slow"), R"(["x"])", prefix);
    QTRY_VERIFY_WITH_TIMEOUT(
        m_setup->replica().cli({ QStringLiteral("PTTL"), lock }).toLongLong() > 0, 5000);

    QElapsedTimer clock;
    clock.start();
    if (killMaster) {
        m_setup->master().kill();
        QVERIFY2(
            m_setup->waitForMaster(m_setup->replica().port()), qPrintable(m_setup->errorString()));
    } else {
        QVERIFY2(m_setup->failover(), qPrintable(m_setup->errorString()));
    }
    const qint64 promoted = clock.elapsed();
    const quint16 newMaster = m_setup->masterPort();
    QVERIFY(newMaster != oldMaster);
    QTRY_VERIFY_WITH_TIMEOUT(probe.wrapper.isConnected(), 15000);
    const qint64 reconnected = clock.elapsed();

    QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), 20000);
    const qint64 finished = clock.elapsed();
    int executions = 0;
    for (int i = 0; i < workers.count(); ++i) {
        const QJsonObject result = workers.result(i);
        QVERIFY2(errorCodesOf(result).isEmpty(), workers.output(i).constData());
        const QStringList values = valuesOf(result);
        QCOMPARE(values.size(), 5);
        for (const QString &value : values)
            QCOMPARE(value, QStringLiteral("value-of-x"));
        executions += intOf(result, "executions");
    }
    // The holder's lock was replicated before the failover and its lease outlived it, so it
    // finished on the new master and published there: one execution for everyone.
    QCOMPARE(executions, 1);
    QCOMPARE(cachedValue(m_setup->master(), prefix),
        QByteArray(R"({"v":1,"ok":true,"value":"value-of-x"})"));

    // And the probe's next call goes through the new master.
    QFuture<int> call = probe.square(12);
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 10000);
    QCOMPARE(call.result(), 144);
    QVERIFY(
        keyExists(m_setup->master(), dataKey(QStringLiteral("square"), "[12]", config.keyPrefix)));
    qInfo("%s: new master elected after %lld ms, clients on it after %lld ms, all %d callers "
          "done after %lld ms, %d execution(s)",
        QTest::currentDataTag(), promoted, reconnected, workers.count() * 5, finished, executions);
}

QTEST_GUILESS_MAIN(tst_Sentinel)
#include "tst_sentinel.moc"
