// SPDX-License-Identifier: MIT
// The library on a 3-master Redis Cluster (redis+cluster://): identities spread over every
// shard, a multi-process stampede per shard runs the work once, a slot moved during calls
// (ASK while it migrates, MOVED afterwards) changes nothing for callers, and a node restart
// costs only that node's shard for the time it is down.

#include "clustertest.h"
#include "faultstest.h"
#include "redisslots_p.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QPromise>
#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>

using namespace ClusterTest;
using namespace CoreTest;
using namespace FaultsTest;

namespace {
/*! Arguments "a0", "a1", ... until each node serves \a perNode identities of wrap key \a key. */
QList<QStringList> argsPerNode(const RedisClusterSetup &cluster, const QString &key, int perNode)
{
    QList<QStringList> result;
    for (int node = 0; node < cluster.size(); ++node)
        result.append(argsOn(cluster, key, node, perNode));
    return result;
}

/*! A wrapper on the cluster with one work, shout(text), that counts its executions. */
struct Shouter
{
    Shouter(const QUrl &url, const QString &prefix)
        : wrapper(configFor(url, prefix))
        , shout(wrapper.wrap(QStringLiteral("shout"), [this](const QString &text) {
            ++executions;
            return text.toUpper();
        }))
    { }
    static DistributedPromiseConfig configFor(const QUrl &url, const QString &prefix)
    {
        DistributedPromiseConfig config;
        config.redisUrl = url;
        config.keyPrefix = prefix;
        return config;
    }
    int executions = 0;
    DistributedPromiseWrapper wrapper;
    DistributedPromiseFunction<QString(QString)> shout;
};

/*! The value of \a call once it finished, or its error code and message. */
QString finishedValue(QFuture<QString> call)
{
    if (!QTest::qWaitFor([&] { return call.isFinished(); }, 10000))
        return QStringLiteral("<unfinished>");
    if (codeOf(call) == QLatin1String("ok"))
        return call.result();
    return codeOf(call) + QLatin1Char(' ') + messageOf(call);
}

/*! How many keys node \a node holds under \a prefix. */
int keysOn(DistributedPromiseTest::RedisServer &node, const QString &prefix)
{
    const QByteArray keys = node.cli({ QStringLiteral("KEYS"), prefix + QLatin1String(":*") });
    return keys.isEmpty() ? 0 : int(keys.split('\n').size());
}
} // namespace

class tst_Cluster : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void hashSlotsMatchTheServer();
    void identitiesOnEveryShard();
    void stampedePerShard();
    void slotMigratesDuringCalls();
    void channelFollowsItsSlot();
    void invalidateAllOnACluster(); // before the tests that stop nodes
    void nodeRestart();
    void deadMasterStrandsNoWaiter();

private:
    std::unique_ptr<RedisClusterSetup> m_cluster;
};

void tst_Cluster::initTestCase()
{
    m_cluster = std::make_unique<RedisClusterSetup>(3);
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->errorString()));
}

void tst_Cluster::hashSlotsMatchTheServer()
{
    QList<QByteArray> keys { "plain", "{user1000}.following", "a{}b", "{}{x}", "x{y}{z}",
        "{{nested}}", "p:{slow:[\"x\"]}", QByteArray("bin\0ary{tag}", 12), "", "{", "}{" };
    for (int i = 0; i < 40; ++i)
        keys.append(QByteArray::number(QRandomGenerator::global()->generate64(), 36));
    for (const QByteArray &key : keys) {
        if (key.contains('\0'))
            continue; // redis-cli takes its arguments as C strings
        const QByteArray server = m_cluster->node(0).cli(
            { QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), QString::fromUtf8(key) });
        QCOMPARE(DistributedPromiseRedis::ClusterSlots::slotOf(key), server.toInt());
    }
    // A hash tag means only the tag counts.
    QCOMPARE(DistributedPromiseRedis::ClusterSlots::slotOf(QByteArray("bin\0ary{tag}", 12)),
        DistributedPromiseRedis::ClusterSlots::slotOf("tag"));
}

void tst_Cluster::identitiesOnEveryShard()
{
    const QString prefix = QStringLiteral("spread");
    Shouter s(m_cluster->url(), prefix);
    const QList<QStringList> perNode = argsPerNode(*m_cluster, QStringLiteral("shout"), 3);
    QList<QFuture<QString>> calls;
    QStringList expected;
    for (int round = 0; round < 2; ++round) {
        for (const QStringList &args : perNode) {
            for (const QString &arg : args) {
                calls.append(s.shout(arg));
                expected.append(arg.toUpper());
            }
        }
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(calls.cbegin(), calls.cend(),
                                 [](const QFuture<QString> &f) { return f.isFinished(); }),
        10000);
    for (qsizetype i = 0; i < calls.size(); ++i) {
        QCOMPARE(codeOf(calls.at(i)), QStringLiteral("ok"));
        QCOMPARE(calls.at(i).result(), expected.at(i));
    }
    QCOMPARE(s.executions, 9); // the second round was coalesced with the first
    QCOMPARE(s.wrapper.stats().localRuns, quint64(0));
    QVERIFY(s.wrapper.isConnected());
    // Each node holds the values of its own three identities, and nothing else.
    for (int node = 0; node < m_cluster->size(); ++node)
        QCOMPARE(keysOn(m_cluster->node(node), prefix), 3);

    // Cached now: a new round is all hits, one GET each on the right node.
    QList<QFuture<QString>> again;
    for (const QStringList &args : perNode) {
        for (const QString &arg : args)
            again.append(s.shout(arg));
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(again.cbegin(), again.cend(),
                                 [](const QFuture<QString> &f) { return f.isFinished(); }),
        10000);
    QCOMPARE(s.executions, 9);
    QCOMPARE(s.wrapper.stats().hits, quint64(9));
}

void tst_Cluster::stampedePerShard()
{
    const QString prefix = QStringLiteral("stampede");
    const QList<QStringList> perNode = argsPerNode(*m_cluster, QStringLiteral("slow"), 1);
    Workers workers(m_cluster->url(), prefix);
    QList<QList<int>> byNode;
    for (const QStringList &args : perNode) {
        QList<int> indices;
        for (int i = 0; i < 3; ++i) {
            indices.append(workers.start(
                { QStringLiteral("--arg"), args.constFirst(), QStringLiteral("--calls"),
                    QStringLiteral("4"), QStringLiteral("--work-ms"), QStringLiteral("1000") }));
        }
        byNode.append(indices);
    }
    QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("READY"), 10000);
    workers.goAll();
    // While each shard's holder works, its two waiters listen on a shard channel of that
    // shard's master, not on a cluster-wide channel.
    for (int node = 0; node < byNode.size(); ++node) {
        const QString channel = channelOf(prefix, perNode.at(node).constFirst());
        QTRY_COMPARE_WITH_TIMEOUT(subscribersOn(m_cluster->node(node), channel, true), 2, 5000);
        QCOMPARE(subscribersOn(m_cluster->node(node), channel, false), 0);
    }
    QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), 15000);
    for (int node = 0; node < byNode.size(); ++node) {
        int executions = 0;
        for (int i : byNode.at(node)) {
            const QJsonObject result = workers.result(i);
            QVERIFY2(errorCodesOf(result).isEmpty(), workers.output(i).constData());
            const QStringList values = valuesOf(result);
            QCOMPARE(values.size(), 4);
            for (const QString &value : values)
                QCOMPARE(value, QStringLiteral("value-of-") + perNode.at(node).constFirst());
            executions += intOf(result, "executions");
        }
        QCOMPARE(executions, 1);
        QCOMPARE(keysOn(m_cluster->node(node), prefix), 1);
    }
}

void tst_Cluster::slotMigratesDuringCalls()
{
    const QString prefix = QStringLiteral("migrate");
    Shouter s(m_cluster->url(), prefix);

    const QString arg = QStringLiteral("moving");
    const int slot = RedisClusterSetup::slotOf(identityOf(QStringLiteral("shout"), arg));
    const int from = m_cluster->nodeForSlot(slot);
    const int to = (from + 1) % m_cluster->size();
    QCOMPARE(finishedValue(s.shout(arg)), QStringLiteral("MOVING"));
    QCOMPARE(s.executions, 1);
    // Another identity in the same slot, not cached anywhere yet.
    QString sibling;
    for (int i = 0; sibling.isEmpty(); ++i) {
        const QString candidate = QStringLiteral("s%1").arg(i);
        if (RedisClusterSetup::slotOf(identityOf(QStringLiteral("shout"), candidate)) == slot)
            sibling = candidate;
    }

    // Half migrated: the cached value still lives on the source, which answers the hit itself.
    QVERIFY2(m_cluster->beginSlotMigration(slot, to), qPrintable(m_cluster->errorString()));
    QCOMPARE(finishedValue(s.shout(arg)), QStringLiteral("MOVING"));
    QCOMPARE(s.executions, 1);
    // The sibling's keys exist on neither side: the source sends its lock script on with ASK,
    // and the target, which has only some of a script's keys, says TRYAGAIN until the slot is
    // done: the call waits for the migration (up to the command timeout), it does not fail.
    LogCapture log;
    QLoggingCategory::setFilterRules(QStringLiteral("distributedpromise.debug=true"));
    QFuture<QString> miss = s.shout(sibling);
    QTRY_VERIFY_WITH_TIMEOUT(log.count(QStringLiteral("cluster: ASK")) >= 2, 5000);
    QLoggingCategory::setFilterRules(QString());
    QVERIFY(!miss.isFinished());

    // Done: the client's map is stale, the old owner answers MOVED, the call follows it.
    QVERIFY2(m_cluster->finishSlotMigration(slot), qPrintable(m_cluster->errorString()));
    QCOMPARE(m_cluster->nodeForSlot(slot), to);
    QCOMPARE(finishedValue(miss), sibling.toUpper());
    QCOMPARE(s.executions, 2);
    QCOMPARE(finishedValue(s.shout(arg)), QStringLiteral("MOVING"));
    QCOMPARE(finishedValue(s.shout(sibling)), sibling.toUpper());
    QCOMPARE(s.executions, 2);
    QCOMPARE(s.wrapper.stats().hits, quint64(3));
    QCOMPARE(s.wrapper.stats().localRuns, quint64(0));
    QCOMPARE(keysOn(m_cluster->node(to), prefix), 2);
    QCOMPARE(keysOn(m_cluster->node(from), prefix), 0);
}

void tst_Cluster::channelFollowsItsSlot()
{
    // A waiter in another process listens on its shard channel when the slot moves: the old
    // owner drops the channel, the waiter subscribes on the new owner, and the holder's
    // SPUBLISH (sent there after MOVED) still reaches it, long before the lease would run out.
    const QString prefix = QStringLiteral("follow");
    const QString arg = QStringLiteral("follow");
    const int slot = RedisClusterSetup::slotOf(identityOf(QStringLiteral("slow"), arg));
    const int from = m_cluster->nodeForSlot(slot);
    const int to = (from + 1) % m_cluster->size();
    const QString channel = channelOf(prefix, arg);
    Workers workers(m_cluster->url(), prefix);
    const QStringList common { QStringLiteral("--arg"), arg, QStringLiteral("--no-go"),
        QStringLiteral("--lock-ms"), QStringLiteral("20000"), QStringLiteral("--calls"),
        QStringLiteral("2") };
    const int holder = workers.start(
        common + QStringList { QStringLiteral("--work-ms"), QStringLiteral("2500") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    const int waiter = workers.start(common);
    QTRY_COMPARE_WITH_TIMEOUT(subscribersOn(m_cluster->node(from), channel, true), 1, 10000);

    QVERIFY2(m_cluster->beginSlotMigration(slot, to), qPrintable(m_cluster->errorString()));
    QVERIFY2(m_cluster->finishSlotMigration(slot), qPrintable(m_cluster->errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(subscribersOn(m_cluster->node(to), channel, true), 1, 5000);
    QCOMPARE(subscribersOn(m_cluster->node(from), channel, true), 0);

    QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), 10000);
    for (int i : { holder, waiter }) {
        const QJsonObject result = workers.result(i);
        QVERIFY2(errorCodesOf(result).isEmpty(), workers.output(i).constData());
        QCOMPARE(valuesOf(result), QStringList(2, QStringLiteral("value-of-") + arg));
    }
    QCOMPARE(intOf(workers.result(holder), "executions"), 1);
    QCOMPARE(intOf(workers.result(waiter), "executions"), 0);
    QCOMPARE(intOf(workers.result(waiter), "takeovers"), 0);
    QCOMPARE(keysOn(m_cluster->node(to), prefix), 1);
}

void tst_Cluster::nodeRestart()
{
    const QString prefix = QStringLiteral("restart");
    Shouter s(m_cluster->url(), prefix);
    const QList<QStringList> perNode = argsPerNode(*m_cluster, QStringLiteral("shout"), 1);
    const int victim = 0;
    const QString lost = perNode.at(victim).constFirst();
    const QString kept = perNode.at(1).constFirst();
    QCOMPARE(finishedValue(s.shout(lost)), lost.toUpper());
    QCOMPARE(finishedValue(s.shout(kept)), kept.toUpper());
    QCOMPARE(s.executions, 2);

    m_cluster->node(victim).kill();
    // The other shards go on serving from their cache; the dead one runs the work locally
    // (whenRedisUnavailable = RunLocally), and nothing hangs.
    QCOMPARE(finishedValue(s.shout(kept)), kept.toUpper());
    QCOMPARE(s.executions, 2);
    QCOMPARE(finishedValue(s.shout(lost)), lost.toUpper());
    QCOMPARE(s.executions, 3);
    QVERIFY(s.wrapper.stats().localRuns >= 1);
    QTRY_VERIFY_WITH_TIMEOUT(!s.wrapper.isConnected(), 5000);

    QVERIFY2(m_cluster->restartNode(victim), qPrintable(m_cluster->errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(s.wrapper.isConnected(), 15000);
    // The restarted node lost its data: one more execution, cached on it again, then hits.
    QCOMPARE(finishedValue(s.shout(lost)), lost.toUpper());
    QCOMPARE(s.executions, 4);
    QCOMPARE(keysOn(m_cluster->node(victim), prefix), 1);
    const quint64 hits = s.wrapper.stats().hits;
    QCOMPARE(finishedValue(s.shout(lost)), lost.toUpper());
    QCOMPARE(s.executions, 4);
    QCOMPARE(s.wrapper.stats().hits, hits + 1);
}

void tst_Cluster::deadMasterStrandsNoWaiter()
{
    // A master without a replica dies for good; its slots stay assigned to it. A waiter on
    // another shard whose subscription drops and comes back misses the holder's SPUBLISH in
    // between: the re-check it makes once the subscription is confirmed again must not wait
    // for the dead node, or the waiter hangs until the lease runs out.
    const QString prefix = QStringLiteral("stranded");
    const int dead = 2;
    const QString arg = argsPerNode(*m_cluster, QStringLiteral("gate"), 1).at(0).constFirst();
    const int live = m_cluster->nodeForSlot(
        RedisClusterSetup::slotOf(identityOf(QStringLiteral("gate"), arg)));
    QCOMPARE(live, 0);
    // The holder's work finishes when the test says so.
    std::shared_ptr<QPromise<QString>> release;
    int executions = 0;
    DistributedPromiseConfig config = Shouter::configFor(m_cluster->url(), prefix);
    config.lockTimeout = std::chrono::seconds(10);
    DistributedPromiseWrapper holderWrapper(config);
    auto holderGate = holderWrapper.wrap(QStringLiteral("gate"), [&](const QString &) {
        ++executions;
        release = std::make_shared<QPromise<QString>>();
        release->start();
        return release->future();
    });
    DistributedPromiseWrapper waiterWrapper(config);
    auto waiterGate = waiterWrapper.wrap(QStringLiteral("gate"), [&](const QString &) {
        ++executions;
        return QStringLiteral("from the waiter");
    });
    QTRY_VERIFY_WITH_TIMEOUT(holderWrapper.isConnected() && waiterWrapper.isConnected(), 10000);

    m_cluster->node(dead).kill();
    QTRY_VERIFY_WITH_TIMEOUT(!waiterWrapper.isConnected(), 5000);
    QFuture<QString> held = holderGate(arg);
    QTRY_VERIFY_WITH_TIMEOUT(release, 5000);
    QFuture<QString> waiting = waiterGate(arg);
    const QString channel = prefix + QLatin1String(":notif:{")
        + QString::fromUtf8(identityOf(QStringLiteral("gate"), arg)) + QLatin1Char('}');
    QTRY_COMPARE_WITH_TIMEOUT(subscribersOn(m_cluster->node(live), channel, true), 1, 5000);

    // The subscription drops; the result is published while it is down.
    m_cluster->node(live).cli({ QStringLiteral("CLIENT"), QStringLiteral("KILL"),
        QStringLiteral("TYPE"), QStringLiteral("pubsub") });
    QElapsedTimer clock;
    clock.start();
    release->addResult(QStringLiteral("from the holder"));
    release->finish();
    QTRY_VERIFY_WITH_TIMEOUT(held.isFinished(), 5000);
    QCOMPARE(held.result(), QStringLiteral("from the holder"));
    QTRY_VERIFY_WITH_TIMEOUT(waiting.isFinished(), 3000); // the lease would be 10 s
    const qint64 waited = clock.elapsed();
    QCOMPARE(codeOf(waiting), QStringLiteral("ok"));
    QCOMPARE(waiting.result(), QStringLiteral("from the holder"));
    QCOMPARE(executions, 1);
    QCOMPARE(waiterWrapper.stats().localRuns + holderWrapper.stats().localRuns, quint64(0));
    QCOMPARE(waiterWrapper.stats().takeovers, quint64(0));
    QVERIFY(!waiterWrapper.isConnected()); // node 2 is still dead
    qInfo("dead master elsewhere: %d execution(s), the waiter done %lld ms after the result, "
          "%llu local run(s)",
        executions, waited, waiterWrapper.stats().localRuns + holderWrapper.stats().localRuns);
    // The last test: node 2 stays dead.
}

void tst_Cluster::invalidateAllOnACluster()
{
    // The generation key and its shard channel share a slot, so the script may SPUBLISH there:
    // invalidateAll() works on a cluster, and the next process uses the new generation.
    const QString prefix = QStringLiteral("generations");
    Workers first(m_cluster->url(), prefix);
    first.start({ QStringLiteral("--calls"), QStringLiteral("1"), QStringLiteral("--no-go") });
    QTRY_VERIFY_WITH_TIMEOUT(first.allPrinted("RESULT"), 10000);
    QVERIFY2(errorCodesOf(first.result(0)).isEmpty(), first.output(0).constData());
    QCOMPARE(valuesOf(first.result(0)), QStringList { QStringLiteral("value-of-x") });
    Workers removing(m_cluster->url(), prefix);
    removing.start({ QStringLiteral("--calls"), QStringLiteral("1"), QStringLiteral("--no-go"),
        QStringLiteral("--mode"), QStringLiteral("invalidate-all") });
    QTRY_VERIFY_WITH_TIMEOUT(removing.allPrinted("RESULT"), 10000);
    QVERIFY2(errorCodesOf(removing.result(0)).isEmpty(), removing.output(0).constData());
    QCOMPARE(valuesOf(removing.result(0)), QStringList { QStringLiteral("invalidated") });
    Workers next(m_cluster->url(), prefix);
    next.start({ QStringLiteral("--calls"), QStringLiteral("1"), QStringLiteral("--no-go") });
    QTRY_VERIFY_WITH_TIMEOUT(next.allPrinted("RESULT"), 10000);
    QCOMPARE(intOf(next.result(0), "executions"), 1);
}

QTEST_GUILESS_MAIN(tst_Cluster)
#include "tst_cluster.moc"
