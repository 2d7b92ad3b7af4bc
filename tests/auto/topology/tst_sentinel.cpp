// SPDX-License-Identifier: MIT
// The library behind Redis Sentinel (redis+sentinel://): it finds the master through the
// sentinels, and carries on across a failover, forced (SENTINEL FAILOVER) or after the master
// was killed, with the guarantees it has across a Redis restart: every future finishes, every
// caller of one identity gets the same value, and the work is not redone needlessly. Also when
// the sentinels are not all right: one hung (SIGSTOP) at the failover, one stale (naming the
// replica), and while calls keep coming during the move.

#include "faultstest.h"
#include "redistopology.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QScopeGuard>
#include <QtTest/QtTest>

using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisSentinelSetup;
using DistributedPromiseTest::StaleSentinel;

namespace {
/*! The value cached for dpworker's call "slow"("x") under \a prefix on \a server, or empty. */
QByteArray cachedValue(DistributedPromiseTest::RedisServer &server, const QString &prefix)
{
    return server.cli(
        { QStringLiteral("GET"), dataKey(QStringLiteral("slow"), R"(["x"])", prefix) });
}

/*! The data key of Fleet's call tag(\a arg) under \a prefix. */
QString tagKey(const QString &arg, const QString &prefix)
{
    return dataKey(QStringLiteral("tag"), "[\"" + arg.toUtf8() + "\"]", prefix);
}

/*!
    One fleet of clients, played by one wrapper in this process: its work tag(arg) answers
    "<fleet>:<arg>" after 50 ms, so a value tells which fleet computed it, and counts its
    executions per argument.
*/
struct Fleet
{
    Fleet(const QUrl &url, const QString &prefix, const QString &fleetName)
        : name(fleetName)
        , wrapper(configFor(url, prefix))
        , tag(wrapper.wrap(QStringLiteral("tag"), [this](const QString &arg) {
            ++executions[arg];
            return valueLater(
                std::chrono::milliseconds(50), QString(name + QLatin1Char(':') + arg));
        }))
    { }
    static DistributedPromiseConfig configFor(const QUrl &url, const QString &prefix)
    {
        DistributedPromiseConfig config;
        config.redisUrl = url;
        config.keyPrefix = prefix;
        config.lockTimeout = std::chrono::seconds(6);
        return config;
    }
    int total() const
    {
        int sum = 0;
        for (int n : executions)
            sum += n;
        return sum;
    }
    /*! connectedChanged(true) came after the first \a after emissions in \a spy. */
    static bool reconnected(const QSignalSpy &spy, qsizetype after)
    {
        for (qsizetype i = after; i < spy.size(); ++i) {
            if (spy.at(i).value(0).toBool())
                return true;
        }
        return false;
    }

    QString name;
    QHash<QString, int> executions;
    DistributedPromiseWrapper wrapper;
    DistributedPromiseFunction<QString(QString)> tag;
};

/*! Calls through fleets, with how long the slowest caller waited. */
struct Calls
{
    Calls() { clock.start(); }
    void add(Fleet &fleet, const QString &arg)
    {
        const qint64 start = clock.elapsed();
        QFuture<QString> future = fleet.tag(arg);
        future.then(&context, [this, start](const QFuture<QString> &) {
            worstMs = std::max(worstMs, clock.elapsed() - start);
        });
        args.append(arg);
        futures.append(future);
    }
    bool allFinished() const
    {
        return std::all_of(futures.cbegin(), futures.cend(),
            [](const QFuture<QString> &future) { return future.isFinished(); });
    }
    qsizetype size() const { return futures.size(); }

    QElapsedTimer clock;
    qint64 worstMs = 0;
    QObject context;
    QStringList args;
    QList<QFuture<QString>> futures;
};
} // namespace

class tst_Sentinel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void findsTheMaster();
    void unknownMasterName();
    void staleSentinelFirst();
    void failoverUnderLoad();
    void hungSentinelAtFailover();
    void stampedeAcrossFailover_data();
    void stampedeAcrossFailover();

private:
    std::unique_ptr<RedisSentinelSetup> m_setup;
};

void tst_Sentinel::initTestCase()
{
    // Three sentinels: two of them are a majority, so one hung sentinel is survivable.
    m_setup = std::make_unique<RedisSentinelSetup>(3);
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

void tst_Sentinel::staleSentinelFirst()
{
    // A sentinel listed first that names the replica as the master: the replica says ROLE
    // slave, so the client believes the majority that names the master. Nothing runs locally.
    QVERIFY2(m_setup->waitForReplicaInSync(), qPrintable(m_setup->errorString()));
    StaleSentinel stale;
    QVERIFY(stale.listen(m_setup->replica().port()));
    QList<quint16> ports { stale.port() };
    for (int i = 0; i < m_setup->sentinelCount(); ++i)
        ports.append(m_setup->sentinel(i).port());
    const QString prefix = QStringLiteral("stale");
    Fleet fleet(m_setup->url(ports), prefix, QStringLiteral("S"));
    Calls calls;
    for (int i = 0; i < 20; ++i)
        calls.add(fleet, QStringLiteral("i%1").arg(i));
    QTRY_VERIFY_WITH_TIMEOUT(calls.allFinished(), 10000);
    for (qsizetype i = 0; i < calls.size(); ++i) {
        QCOMPARE(codeOf(calls.futures.at(i)), QStringLiteral("ok"));
        QCOMPARE(calls.futures.at(i).result(), QStringLiteral("S:") + calls.args.at(i));
        QCOMPARE(fleet.executions.value(calls.args.at(i)), 1);
        QVERIFY(keyExists(m_setup->master(), tagKey(calls.args.at(i), prefix)));
    }
    QCOMPARE(fleet.wrapper.stats().localRuns, quint64(0));
    QVERIFY(stale.answered() >= 1); // asked, and not believed
    qInfo("stale sentinel first: %d execution(s) for 20 identities, worst caller wait %lld ms, "
          "%llu local run(s)",
        fleet.total(), calls.worstMs, fleet.wrapper.stats().localRuns);
}

void tst_Sentinel::failoverUnderLoad()
{
    // Calls keep coming (one every 2 ms, 20 cached identities) while the master fails over:
    // the commands sent while the client moves to the new master wait for it instead of
    // failing, so no call runs the work locally and no cached identity runs again.
    QVERIFY2(m_setup->waitForReplicaInSync(), qPrintable(m_setup->errorString()));
    const QString prefix = QStringLiteral("load");
    const int identities = 20;
    Fleet fleet(m_setup->url(), prefix, QStringLiteral("L"));
    Calls warm;
    for (int i = 0; i < identities; ++i)
        warm.add(fleet, QStringLiteral("i%1").arg(i));
    QTRY_VERIFY_WITH_TIMEOUT(warm.allFinished(), 10000);
    QCOMPARE(fleet.total(), identities);
    for (int i = 0; i < identities; ++i) {
        QTRY_VERIFY_WITH_TIMEOUT(
            keyExists(m_setup->replica(), tagKey(QStringLiteral("i%1").arg(i), prefix)), 5000);
    }

    QSignalSpy connectedChanged(&fleet.wrapper, &DistributedPromiseWrapper::connectedChanged);
    // The failover itself blocks this thread; what counts is the calls made after it.
    Calls before;
    Calls after;
    Calls *load = &before;
    int made = 0;
    QTimer timer;
    timer.setInterval(2);
    connect(&timer, &QTimer::timeout, this,
        [&] { load->add(fleet, QStringLiteral("i%1").arg(made++ % identities)); });
    timer.start();
    QTRY_VERIFY_WITH_TIMEOUT(before.size() >= identities, 5000);
    QVERIFY2(m_setup->failover(), qPrintable(m_setup->errorString()));
    load = &after;
    QTRY_VERIFY_WITH_TIMEOUT(Fleet::reconnected(connectedChanged, 0), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(after.size() >= 60, 5000);
    timer.stop();
    for (Calls *calls : { &before, &after }) {
        QTRY_VERIFY_WITH_TIMEOUT(calls->allFinished(), 10000);
        for (qsizetype i = 0; i < calls->size(); ++i) {
            QCOMPARE(codeOf(calls->futures.at(i)), QStringLiteral("ok"));
            QCOMPARE(calls->futures.at(i).result(), QStringLiteral("L:") + calls->args.at(i));
        }
    }
    QCOMPARE(fleet.wrapper.stats().localRuns, quint64(0));
    QCOMPARE(fleet.total(), identities);
    qInfo("failover under load: %d calls, %d execution(s) of %d cached identities, worst wait "
          "of a call made after the failover %lld ms, %llu local run(s)",
        made, fleet.total() - identities, identities, after.worstMs,
        fleet.wrapper.stats().localRuns);
}

void tst_Sentinel::hungSentinelAtFailover()
{
    // The first sentinel of one fleet's list hangs (SIGSTOP) before the failover; the other
    // fleet lists the sentinels the other way round. Both follow the failover (events come
    // from every sentinel), so the old master, which still takes writes until the sentinels
    // reconfigure it some 10 s later, gets none: one execution per identity, one value.
    QVERIFY2(m_setup->waitForReplicaInSync(), qPrintable(m_setup->errorString()));
    const QString prefix = QStringLiteral("hung");
    QList<quint16> ports;
    for (int i = 0; i < m_setup->sentinelCount(); ++i)
        ports.append(m_setup->sentinel(i).port());
    QList<quint16> reversed(ports.crbegin(), ports.crend());
    Fleet first(m_setup->url(ports), prefix, QStringLiteral("A"));
    Fleet last(m_setup->url(reversed), prefix, QStringLiteral("B"));
    QTRY_VERIFY_WITH_TIMEOUT(first.wrapper.isConnected() && last.wrapper.isConnected(), 10000);
    QSignalSpy firstChanged(&first.wrapper, &DistributedPromiseWrapper::connectedChanged);
    QSignalSpy lastChanged(&last.wrapper, &DistributedPromiseWrapper::connectedChanged);
    DistributedPromiseTest::RedisServer &oldMaster = m_setup->master();

    m_setup->sentinel(0).pause();
    const auto resume = qScopeGuard([this] { m_setup->sentinel(0).resume(); });
    QVERIFY2(m_setup->failover(), qPrintable(m_setup->errorString()));
    QElapsedTimer clock;
    clock.start();
    QTRY_VERIFY_WITH_TIMEOUT(Fleet::reconnected(lastChanged, 0), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(Fleet::reconnected(firstChanged, 0), 5000);
    const qint64 moved = clock.elapsed();
    // A client starting now asks all sentinels at once: the hung one costs it nothing (one at
    // a time, it would wait connectTimeout, 3 s, for the first).
    clock.restart();
    Fleet late(m_setup->url(ports), prefix, QStringLiteral("C"));
    QTRY_VERIFY_WITH_TIMEOUT(late.wrapper.isConnected(), 1500);
    const qint64 lateConnected = clock.elapsed();

    Calls calls;
    for (int i = 0; i < 10; ++i) {
        const QString arg = QStringLiteral("i%1").arg(i);
        for (Fleet *fleet : { &first, &last, &late, &first, &last })
            calls.add(*fleet, arg);
    }
    QTRY_VERIFY_WITH_TIMEOUT(calls.allFinished(), 10000);
    QHash<QString, QString> valueOf;
    for (qsizetype i = 0; i < calls.size(); ++i) {
        const QString &arg = calls.args.at(i);
        QCOMPARE(codeOf(calls.futures.at(i)), QStringLiteral("ok"));
        const QString value = calls.futures.at(i).result();
        QCOMPARE(valueOf.value(arg, value), value); // one value per identity, in both fleets
        valueOf.insert(arg, value);
    }
    for (auto it = valueOf.cbegin(); it != valueOf.cend(); ++it) {
        QCOMPARE(first.executions.value(it.key()) + last.executions.value(it.key())
                + late.executions.value(it.key()),
            1);
        QCOMPARE(m_setup->master().cli({ QStringLiteral("GET"), tagKey(it.key(), prefix) }),
            QByteArray(R"({"v":1,"ok":true,"value":")") + it.value().toUtf8() + "\"}");
        QVERIFY(!keyExists(oldMaster, tagKey(it.key(), prefix)));
    }
    const quint64 localRuns = first.wrapper.stats().localRuns + last.wrapper.stats().localRuns
        + late.wrapper.stats().localRuns;
    QCOMPARE(localRuns, quint64(0));
    qInfo("hung first sentinel: both fleets on the new master %lld ms after the failover, a new "
          "client connected in %lld ms; %d execution(s) for 10 identities, worst caller wait "
          "%lld ms, %llu local run(s)",
        moved, lateConnected, first.total() + last.total() + late.total(), calls.worstMs,
        localRuns);
}

void tst_Sentinel::stampedeAcrossFailover_data()
{
    QTest::addColumn<bool>("killMaster");
    QTest::addColumn<bool>("hungFirst");
    QTest::newRow("SENTINEL FAILOVER") << false << false;
    QTest::newRow("SENTINEL FAILOVER, first sentinel hung") << false << true;
    QTest::newRow("master killed") << true << false;
}

void tst_Sentinel::stampedeAcrossFailover()
{
    QFETCH(bool, killMaster);
    QFETCH(bool, hungFirst);
    QVERIFY2(m_setup->waitForReplicaInSync(), qPrintable(m_setup->errorString()));
    const QString prefix = killMaster ? QStringLiteral("killed")
        : hungFirst                   ? QStringLiteral("hungfirst")
                                      : QStringLiteral("forced");
    const quint16 oldMaster = m_setup->masterPort();
    // Two fleets: the holder and one waiter list the sentinels in order, two waiters the other
    // way round.
    QList<quint16> ports;
    for (int i = 0; i < m_setup->sentinelCount(); ++i)
        ports.append(m_setup->sentinel(i).port());
    Workers workers(m_setup->url(ports), prefix);
    Workers others(m_setup->url(QList<quint16>(ports.crbegin(), ports.crend())), prefix);
    // The holder works through the failover; its lease (renewed every 2 s) outlives the time
    // the sentinels need to notice and promote, so nobody takes over.
    const QStringList common { QStringLiteral("--lock-ms"), QStringLiteral("6000"),
        QStringLiteral("--unavailable"), QStringLiteral("local"), QStringLiteral("--no-go"),
        QStringLiteral("--work-ms"), QStringLiteral("4000"), QStringLiteral("--calls"),
        QStringLiteral("5") };
    const int holder = workers.start(common);
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    workers.start(common);
    others.start(common);
    others.start(common);
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

    // The first sentinel of the holder's list hangs through the failover.
    if (hungFirst)
        m_setup->sentinel(0).pause();
    const auto resume = qScopeGuard([&] {
        if (hungFirst)
            m_setup->sentinel(0).resume();
    });
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

    QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT") && others.allPrinted("RESULT"), 20000);
    const qint64 finished = clock.elapsed();
    int executions = 0;
    int localRuns = 0;
    for (Workers *fleet : { &workers, &others }) {
        for (int i = 0; i < fleet->count(); ++i) {
            const QJsonObject result = fleet->result(i);
            QVERIFY2(errorCodesOf(result).isEmpty(), fleet->output(i).constData());
            const QStringList values = valuesOf(result);
            QCOMPARE(values.size(), 5);
            for (const QString &value : values)
                QCOMPARE(value, QStringLiteral("value-of-x"));
            executions += intOf(result, "executions");
            localRuns += intOf(result, "localRuns");
        }
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
          "done after %lld ms, %d execution(s), %d local run(s)",
        QTest::currentDataTag(), promoted, reconnected, (workers.count() + others.count()) * 5,
        finished, executions, localRuns);
}

QTEST_GUILESS_MAIN(tst_Sentinel)
#include "tst_sentinel.moc"
