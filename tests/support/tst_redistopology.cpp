#include "redistopology.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QTest>
#include <QUrlQuery>

using DistributedPromiseTest::RedisClusterSetup;
using DistributedPromiseTest::RedisSentinelSetup;
using DistributedPromiseTest::RedisServer;

namespace {

QStringList words(std::initializer_list<QByteArray> list)
{
    QStringList result;
    for (const QByteArray &word : list)
        result << QString::fromUtf8(word);
    return result;
}

// A key that hashes to slot, built with a hash tag.
QByteArray keyInSlot(int slot, const QByteArray &name)
{
    for (int n = 0;; ++n) {
        const QByteArray tag = "{t" + QByteArray::number(n) + '}';
        if (RedisClusterSetup::slotOf(tag) == slot)
            return tag + name;
    }
}

} // namespace

class tst_RedisTopology : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sentinelFailoverAndBack();
    void clusterSlotOf();
    void clusterRedirectionsMigrationAndRestart();
    void clusterReplicaPromotion();
};

void tst_RedisTopology::sentinelFailoverAndBack()
{
    RedisSentinelSetup setup(2);
    QVERIFY2(setup.start(), qPrintable(setup.errorString()));
    QCOMPARE(setup.masterName(), QStringLiteral("mymaster"));
    QCOMPARE(setup.sentinelCount(), 2);

    const QUrl url = setup.url();
    QVERIFY2(url.isValid(), qPrintable(url.errorString()));
    QCOMPARE(url.scheme(), QStringLiteral("redis+sentinel"));
    QCOMPARE(url.host(), QStringLiteral("127.0.0.1"));
    QCOMPARE(url.port(), int(setup.sentinel(0).port()));
    QCOMPARE(url.path(), QStringLiteral("/mymaster"));
    QCOMPARE(QUrlQuery(url).allQueryItemValues(QStringLiteral("sentinel")),
        QStringList { QStringLiteral("127.0.0.1:%1").arg(setup.sentinel(1).port()) });
    QVERIFY(QFileInfo::exists(setup.sentinel(0).configFilePath()));
    QVERIFY(setup.sentinel(0).configFilePath().startsWith(setup.sentinel(0).dir()));

    const quint16 firstMaster = setup.masterPort();
    QCOMPARE(firstMaster, setup.master().port());
    QVERIFY(setup.replica().port() != firstMaster);
    QCOMPARE(setup.master().cli(words({ "ROLE" })).split('\n').value(0), QByteArray("master"));
    QCOMPARE(setup.replica().cli(words({ "ROLE" })).split('\n').value(0), QByteArray("slave"));

    QCOMPARE(setup.master().cli(words({ "SET", "dptest:k", "v1" })), QByteArray("OK"));
    QTRY_COMPARE(setup.replica().cli(words({ "GET", "dptest:k" })), QByteArray("v1"));

    QVERIFY2(setup.failover(), qPrintable(setup.errorString()));
    const quint16 secondMaster = setup.masterPort();
    QVERIFY(secondMaster != firstMaster);
    QCOMPARE(setup.master().port(), secondMaster);
    QCOMPARE(setup.master().cli(words({ "ROLE" })).split('\n').value(0), QByteArray("master"));
    QVERIFY2(setup.waitForMaster(secondMaster, 1000), qPrintable(setup.errorString()));

    QVERIFY2(setup.waitForReplicaInSync(), qPrintable(setup.errorString()));
    QCOMPARE(setup.replica().port(), firstMaster);
    QCOMPARE(setup.master().cli(words({ "SET", "dptest:k", "v2" })), QByteArray("OK"));
    QTRY_COMPARE(setup.replica().cli(words({ "GET", "dptest:k" })), QByteArray("v2"));

    QVERIFY2(setup.failover(), qPrintable(setup.errorString()));
    QCOMPARE(setup.masterPort(), firstMaster);
    QCOMPARE(setup.master().port(), firstMaster);
    QCOMPARE(setup.master().cli(words({ "GET", "dptest:k" })), QByteArray("v2"));
}

void tst_RedisTopology::clusterSlotOf()
{
    RedisServer redis(RedisServer::Transport::Tcp,
        { QStringLiteral("--cluster-enabled"), QStringLiteral("yes") });
    redis.setReserveClusterBusPort(true);
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QVERIFY(redis.port() <= 55535);

    const QByteArrayList keys { "", "a", "foo", "123456789", "dptest:call:42",
        "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap",
        "foo{bar}{zap}", "{}", "{}{x}", "a{b", "a}b{c}", "{{}}", "x{y}}", "\xc3\xa9t\xc3\xa9" };
    for (const QByteArray &key : keys) {
        const QByteArray expected = redis.cli(
            { QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), QString::fromUtf8(key) });
        QVERIFY2(!expected.isEmpty(), key.constData());
        QCOMPARE(QByteArray::number(RedisClusterSetup::slotOf(key)), expected);
    }
    QCOMPARE(RedisClusterSetup::slotOf("123456789"), 0x31C3 & 16383);
    QCOMPARE(
        RedisClusterSetup::slotOf("{user1000}.following"), RedisClusterSetup::slotOf("user1000"));
}

void tst_RedisTopology::clusterRedirectionsMigrationAndRestart()
{
    RedisClusterSetup cluster;
    QVERIFY2(cluster.start(), qPrintable(cluster.errorString()));
    QCOMPARE(cluster.size(), 3);

    const QUrl url = cluster.url();
    QVERIFY2(url.isValid(), qPrintable(url.errorString()));
    QCOMPARE(url.scheme(), QStringLiteral("redis+cluster"));
    QCOMPARE(url.port(), int(cluster.node(0).port()));
    QCOMPARE(QUrlQuery(url).allQueryItemValues(QStringLiteral("node")),
        (QStringList { QStringLiteral("127.0.0.1:%1").arg(cluster.node(1).port()),
            QStringLiteral("127.0.0.1:%1").arg(cluster.node(2).port()) }));

    // Every slot served, by all three nodes; ids differ.
    QSet<int> owners;
    for (int slot = 0; slot < 16384; slot += 1023)
        owners << cluster.nodeForSlot(slot);
    owners << cluster.nodeForSlot(16383);
    QCOMPARE(owners, (QSet<int> { 0, 1, 2 }));
    QVERIFY(
        cluster.node(0).cli(words({ "CLUSTER", "INFO" })).contains("cluster_slots_assigned:16384"));
    QCOMPARE(cluster.nodeId(0).size(), 40);
    QVERIFY(cluster.nodeId(0) != cluster.nodeId(1));
    for (int i = 0; i < cluster.size(); ++i)
        QVERIFY(QFileInfo::exists(cluster.node(i).dir() + QStringLiteral("/nodes.conf")));

    // The owner takes the key; another node redirects.
    const QByteArray key = "dptest:cluster:key";
    const int slot = RedisClusterSetup::slotOf(key);
    const int owner = cluster.nodeForSlot(slot);
    QVERIFY(owner >= 0);
    const int other = (owner + 1) % cluster.size();
    QCOMPARE(cluster.node(owner).cli(words({ "SET", key, "v" })), QByteArray("OK"));
    QCOMPARE(cluster.node(other).cli(words({ "GET", key })),
        "MOVED " + QByteArray::number(slot)
            + " 127.0.0.1:" + QByteArray::number(cluster.node(owner).port()));

    // Half-migrated: the source still has the key, but sends the client to the target for keys
    // it does not have.
    QVERIFY2(cluster.beginSlotMigration(slot, other), qPrintable(cluster.errorString()));
    QVERIFY(!cluster.beginSlotMigration(slot, other));
    QCOMPARE(cluster.node(owner).cli(words({ "GET", key })), QByteArray("v"));
    const QByteArray missing = keyInSlot(slot, ":missing");
    QCOMPARE(RedisClusterSetup::slotOf(missing), slot);
    QCOMPARE(cluster.node(owner).cli(words({ "GET", missing })),
        "ASK " + QByteArray::number(slot)
            + " 127.0.0.1:" + QByteArray::number(cluster.node(other).port()));

    QVERIFY2(cluster.finishSlotMigration(slot), qPrintable(cluster.errorString()));
    QCOMPARE(cluster.nodeForSlot(slot), other);
    QCOMPARE(cluster.node(other).cli(words({ "GET", key })), QByteArray("v"));
    QVERIFY(cluster.node(owner).cli(words({ "GET", key })).startsWith("MOVED "));
    QVERIFY(!cluster.finishSlotMigration(slot));

    // A node killed and started again keeps its identity and its slots; its data is gone.
    const QByteArray id = cluster.nodeId(other);
    const quint16 port = cluster.node(other).port();
    const qint64 pid = cluster.node(other).pid();
    QVERIFY2(cluster.restartNode(other), qPrintable(cluster.errorString()));
    QVERIFY(cluster.node(other).pid() != pid);
    QCOMPARE(cluster.node(other).port(), port);
    QCOMPARE(cluster.nodeId(other), id);
    QCOMPARE(cluster.nodeForSlot(slot), other);
    for (int i = 0; i < cluster.size(); ++i) {
        QVERIFY(cluster.node(i).cli(words({ "CLUSTER", "INFO" })).contains("cluster_state:ok"));
    }
    QCOMPARE(cluster.node(other).cli(words({ "GET", key })), QByteArray());
    QCOMPARE(cluster.node(other).cli(words({ "SET", key, "w" })), QByteArray("OK"));
}

void tst_RedisTopology::clusterReplicaPromotion()
{
    RedisClusterSetup cluster(3, true);
    QVERIFY2(cluster.start(), qPrintable(cluster.errorString()));
    QCOMPARE(cluster.size(), 6);
    QCOMPARE(cluster.masterCount(), 3);
    QCOMPARE(QUrlQuery(cluster.url()).allQueryItemValues(QStringLiteral("node")).size(), 5);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(cluster.replicaOf(i), 3 + i);
    QCOMPARE(cluster.replicaOf(3), -1);

    // A write the replica has acknowledged survives the master's death.
    const QByteArray key = keyInSlot(cluster.nodeForSlot(0) == 0 ? 0 : 16383, ":k");
    const int owner = cluster.nodeForSlot(RedisClusterSetup::slotOf(key));
    QCOMPARE(cluster.node(owner).cli(words({ "SET", key, "v" })), QByteArray("OK"));
    QVERIFY2(cluster.waitForReplication(owner), qPrintable(cluster.errorString()));
    QElapsedTimer clock;
    clock.start();
    const int promoted = cluster.killMaster(owner);
    QVERIFY2(promoted == owner + 3, qPrintable(cluster.errorString()));
    qInfo("replica promoted %lld ms after its master was killed", clock.elapsed());
    QVERIFY(!cluster.node(owner).isRunning());
    QCOMPARE(cluster.nodeForSlot(RedisClusterSetup::slotOf(key)), promoted);
    QCOMPARE(
        cluster.node(promoted).cli(words({ "ROLE" })).split('\n').value(0), QByteArray("master"));
    QCOMPARE(cluster.node(promoted).cli(words({ "GET", key })), QByteArray("v"));
    QCOMPARE(cluster.replicaOf(promoted), -1);
}

QTEST_GUILESS_MAIN(tst_RedisTopology)
#include "tst_redistopology.moc"
