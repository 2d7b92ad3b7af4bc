#pragma once

#include "redisserver.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QUrl>

#include <functional>
#include <memory>
#include <vector>

class QTcpServer;
class QTcpSocket;

namespace DistributedPromiseTest {

/*!
    A private Redis Sentinel set-up for one test: a master, one replica of it and N sentinels
    monitoring the pair under masterName(), all RedisServer instances (free loopback ports, own
    temporary directories, killed with the test process).

    All calls are synchronous and bounded; they do not need an event loop (they poll with short
    sleeps), and report failures through errorString(), which includes the tails of the relevant
    server logs. Use the object from the thread that created it.

    \code
    DistributedPromiseTest::RedisSentinelSetup sentinel(2);
    QVERIFY2(sentinel.start(), qPrintable(sentinel.errorString()));
    config.redisUrl = sentinel.url();
    QVERIFY2(sentinel.failover(), qPrintable(sentinel.errorString()));
    \endcode
*/
class RedisSentinelSetup
{
public:
    /*! \a sentinels sentinels (at least 1) that will monitor the master as \a masterName. */
    explicit RedisSentinelSetup(int sentinels = 1, QString masterName = QStringLiteral("mymaster"));
    /*! Kills every process (sentinels first) and removes the temporary directories. */
    ~RedisSentinelSetup();

    RedisSentinelSetup(const RedisSentinelSetup &) = delete;
    RedisSentinelSetup &operator=(const RedisSentinelSetup &) = delete;

    /*! Starts the master, a replica (REPLICAOF the master, waits until it is in sync) and the
        sentinels (quorum 1, down-after-milliseconds 1000, failover-timeout 3000,
        parallel-syncs 1). Returns once every sentinel reports the master and lists the replica
        without s_down/o_down/disconnected flags. Returns false, with errorString(), on failure.
        Starting a started set-up is a no-op. */
    bool start();
    /*! Why the last call failed; empty after a call that succeeded. */
    QString errorString() const;

    /*! The name the sentinels monitor the master under. */
    QString masterName() const;
    /*! redis+sentinel://127.0.0.1:<sentinel 0>/<masterName>[?sentinel=127.0.0.1:<sentinel i>...]
        (the first sentinel in the authority, the others as sentinel= query items, the form
        Endpoint::parse reads). Empty before start(). */
    QUrl url() const;
    /*! The same with the sentinels on \a sentinelPorts, in that order (e.g. the set-up's
        sentinels in another order, or a StaleSentinel first). */
    QUrl url(const QList<quint16> &sentinelPorts) const;

    /*! The server that is master now, as sentinel 0 reports it (SENTINEL
        GET-MASTER-ADDR-BY-NAME); the last known one if no sentinel answers. */
    RedisServer &master();
    /*! The other server (see master()). */
    RedisServer &replica();
    /*! Sentinel \a i, 0 <= i < the number passed to the constructor. */
    RedisServer &sentinel(int i);
    /*! The number of sentinels. */
    int sentinelCount() const;
    /*! The master's port as the first sentinel that is not paused reports it; 0 if it does not
        answer. A paused sentinel (RedisServer::pause()) is skipped by every call here, and
        failover() asks the first one that is not paused. */
    quint16 masterPort() const;

    /*! SENTINEL FAILOVER on sentinel 0 (retried while it answers -NOGOODSLAVE or -INPROG), then
        waits until every sentinel reports the other server as master and that server answers
        ROLE with "master". Returns false, with errorString(), on timeout. The old master may
        still claim to be a master afterwards; waitForReplicaInSync() makes it a replica. */
    bool failover(int timeoutMs = 15000);
    /*! Waits until every sentinel reports the server on \a port as the master. */
    bool waitForMaster(quint16 port, int timeoutMs = 15000);
    /*! Waits until replica() replicates master() with master_link_status:up and every sentinel
        lists it without s_down/o_down/disconnected flags, so that a further failover() can
        promote it. After a failover the old master turns into a replica only after about 10 s
        (the sentinels' INFO period); this sends it the REPLICAOF the sentinels would send, at
        once. */
    bool waitForReplicaInSync(int timeoutMs = 15000);

private:
    const RedisServer &liveSentinel() const;
    int indexOfPort(quint16 port) const;
    bool sentinelsAgreeOnMaster(quint16 port, QString *why) const;
    bool sentinelsKnowReplica(quint16 port, QString *why) const;
    bool replicaInSync(const RedisServer &server, quint16 masterPort, QString *why) const;
    void fail(const QString &what);

    int m_sentinelCount;
    QString m_masterName;
    QString m_error;
    bool m_started = false;
    int m_masterIndex = 0;
    std::unique_ptr<RedisServer> m_servers[2];
    std::vector<std::unique_ptr<RedisServer>> m_sentinels;
};

/*!
    A private Redis Cluster for one test: N cluster-enabled masters, optionally each with one
    replica, each node a RedisServer with its own free loopback port (at most 55535, the cluster
    bus on port + 10000) and temporary directory (which holds its nodes.conf), killed with the
    test process. Nodes 0..N-1 start as the masters; with replicas, node N + i replicates node i.

    Like RedisSentinelSetup, every call is synchronous, bounded and needs no event loop;
    failures are reported through errorString(), with the tails of the node logs.

    \code
    DistributedPromiseTest::RedisClusterSetup cluster;
    QVERIFY2(cluster.start(), qPrintable(cluster.errorString()));
    config.redisUrl = cluster.url();
    const int slot = RedisClusterSetup::slotOf("dp:key");
    QVERIFY2(cluster.beginSlotMigration(slot, (cluster.nodeForSlot(slot) + 1) % cluster.size()),
             qPrintable(cluster.errorString()));
    \endcode
*/
class RedisClusterSetup
{
public:
    /*! A cluster of \a masters masters (redis-cli needs at least 3), each with one replica if
        \a withReplicas. */
    explicit RedisClusterSetup(int masters = 3, bool withReplicas = false);
    /*! Kills every node and removes the temporary directories. */
    ~RedisClusterSetup();

    RedisClusterSetup(const RedisClusterSetup &) = delete;
    RedisClusterSetup &operator=(const RedisClusterSetup &) = delete;

    /*! Starts the nodes (cluster-node-timeout 1000, or 500 with replicas so that a failover
        takes about 1-2 s; cluster-require-full-coverage no, no persistence), joins the masters
        with `redis-cli --cluster create ... --cluster-replicas 0`, makes node N + i a replica of
        node i (CLUSTER MEET, CLUSTER REPLICATE), and waits until every node reports
        cluster_state:ok, knows every other node as connected and healthy, every replica's link
        is up, and all nodes agree on the slot map. Returns false, with errorString(), on
        failure. Starting a started cluster is a no-op. */
    bool start();
    /*! Why the last call failed; empty after a call that succeeded. */
    QString errorString() const;

    /*! redis+cluster://127.0.0.1:<node 0>[?node=127.0.0.1:<node i>...] (the first node in the
        authority, the others as node= query items, the form Endpoint::parse reads). Empty
        before start(). */
    QUrl url() const;
    /*! The number of nodes, masters and replicas. */
    int size() const;
    /*! The number of masters the cluster was created with. */
    int masterCount() const;
    /*! Node \a i, 0 <= i < size(). */
    RedisServer &node(int i);
    /*! The index of the node that serves \a slot according to CLUSTER SLOTS (asked of the first
        node that answers), or -1 if no node answers or the slot is not served. */
    int nodeForSlot(int slot) const;
    /*! The hash slot of \a key: CRC16-XMODEM of the key, or of its hash tag (the part between
        the first '{' and the first '}' after it, if that part is not empty), modulo 16384. */
    static int slotOf(const QByteArray &key);
    /*! The node id of node \a i (CLUSTER MYID); empty if it does not answer. */
    QByteArray nodeId(int i) const;
    /*! The index of the running node that replicates node \a master now (CLUSTER REPLICAS),
        or -1. */
    int replicaOf(int master) const;

    /*! Waits until the replica of node \a master has acknowledged every write the master took
        before this call (the replica's offset in the master's INFO replication reaches the
        master_repl_offset read at the call), so that a failover loses none of them. */
    bool waitForReplication(int master, int timeoutMs = 5000);
    /*! Kills master \a master (SIGKILL) and waits until its replica is promoted: it answers
        ROLE with master, every running node maps the dead master's slots to it and reports
        cluster_state:ok. Returns the index of the promoted node, or -1 with errorString(). */
    int killMaster(int master, int timeoutMs = 15000);
    /*! First half of moving \a slot from its owner to node \a to: CLUSTER SETSLOT IMPORTING on
        the target, then MIGRATING on the source. The keys stay where they are, so the source
        answers -ASK for keys it does not have. One migration at a time. */
    bool beginSlotMigration(int slot, int to);
    /*! Second half: MIGRATEs every key of \a slot to the target (CLUSTER GETKEYSINSLOT loop),
        then CLUSTER SETSLOT NODE on the target, the source and the other nodes, and waits until
        every node agrees on the new owner and the cluster is healthy. */
    bool finishSlotMigration(int slot);

    /*! Kills node \a i (SIGKILL) and starts it again on the same port and directory: its
        nodes.conf survives, its data does not. Waits until every node reports cluster_state:ok
        and sees every node healthy, and node \a i owns and answers for the slots it served
        before. */
    bool restartNode(int i, int timeoutMs = 20000);

private:
    struct Migration
    {
        int slot = -1;
        int from = -1;
        int to = -1;
    };

    int indexOfPort(quint16 port) const;
    bool clusterHealthy(QString *why) const;
    bool addReplicas();
    /*! The slots node \a i serves, as the first running node's CLUSTER SLOTS says. */
    QList<int> slotsOf(int i) const;
    /*! Node \a i answers for \a slot: it serves it in every running node's map, and a key
        of the slot gets an answer from it (no -CLUSTERDOWN, -MOVED or -TRYAGAIN). */
    bool servesSlot(int i, int slot, QString *why) const;
    bool waitUntilHealthy(int timeoutMs, const std::function<bool(QString *)> &extra = {});
    void fail(const QString &what, int node = -1);

    int m_size;
    int m_masters;
    QString m_error;
    bool m_started = false;
    Migration m_migration;
    std::vector<std::unique_ptr<RedisServer>> m_nodes;
};

/*!
    A sentinel that is wrong, for tests: a TCP server on a free loopback port that answers
    SENTINEL GET-MASTER-ADDR-BY-NAME (any name) with 127.0.0.1 and a fixed port (say, the
    replica's), SUBSCRIBE with confirmations (it never publishes), PING with PONG and anything
    else with an error. It is served by the event loop of the thread that called listen().
*/
class StaleSentinel
{
public:
    StaleSentinel();
    ~StaleSentinel();
    StaleSentinel(const StaleSentinel &) = delete;
    StaleSentinel &operator=(const StaleSentinel &) = delete;

    /*! Starts listening; it will name the server on \a masterPort as the master. */
    bool listen(quint16 masterPort);
    quint16 port() const;
    /*! How many GET-MASTER-ADDR-BY-NAME questions it answered. */
    int answered() const;

private:
    void serve(QTcpSocket *socket, QByteArray &buffer);

    std::unique_ptr<QTcpServer> m_server;
    quint16 m_masterPort = 0;
    int m_answered = 0;
};

} // namespace DistributedPromiseTest
