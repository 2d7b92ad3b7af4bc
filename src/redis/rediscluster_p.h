// SPDX-License-Identifier: MIT
#pragma once

#include "redisclient_p.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QHash>
#include <QtCore/QTimer>

#include <memory>
#include <vector>

namespace DistributedPromiseRedis {

/*!
    A client for a Redis Cluster. It reads the slot map with CLUSTER SLOTS (from a seed node at
    first, later from any node it knows), keeps one command connection per master, and sends
    each command to the master serving its key's hash slot (the key is the first argument, or
    for EVAL/EVALSHA the first key). Redirections are followed: MOVED updates the map (and
    reads it again) and ASK sends ASKING and the command to the importing node, at most
    maxRedirections times in a row. TRYAGAIN (a multi-key command while its slot migrates, e.g.
    a script on keys that exist on neither side yet) and a slot no node serves are retried every
    20 ms until the command timeout. So are commands for a master that went down while the map
    lists a replica of it: the map is read every 100 ms until it shows the promoted replica,
    whose first connect is reported as a reconnect (connected()); a dead master that no longer
    serves any slot is not reconnected to. Giving up, CLUSTERDOWN and lost nodes are reported
    as transport failures (Reply::Failure), and the map is read again.

    Notifications use shard channels: each channel is subscribed (SSUBSCRIBE) on the master of
    its slot, through one subscriber connection per master, and moves with its slot when the map
    changes or the node drops it (the scripts publish with SPUBLISH on the same node).
*/
class ClusterClient : public Client
{
    Q_OBJECT
public:
    static constexpr int slotCount = 16384;
    static constexpr int maxRedirections = 8;

    ClusterClient(
        const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent = nullptr);
    ~ClusterClient() override;

    void open() override;
    void close() override;
    bool isConnected() const override;
    /*! The slot map is known and the master serving \a key's slot is up. */
    bool isReadyFor(const QByteArray &key) const override;
    using Client::command;
    void command(const QList<QByteArray> &args, Callback callback) override;
    bool isSubscribed(const QByteArray &channel) const override;
    void flush(std::chrono::milliseconds timeout) override;

    /*! The hash slot of \a key: CRC16 of its {hash tag}, or of the whole key, modulo 16384. */
    static int slotOf(const QByteArray &key);
    /*! host:port of the master serving \a slot, or empty while the map is unknown. */
    QString nodeFor(int slot) const;

protected:
    void addChannel(const QByteArray &channel) override;
    void removeChannel(const QByteArray &channel) override;

private:
    struct Node;
    /*! A command on its way: redirections count MOVED/ASK since the last retry. */
    struct Request
    {
        QList<QByteArray> args;
        Callback callback;
        int redirections = 0;
        bool retrying = false;
        QDeadlineTimer retryUntil;
    };
    Node *node(const Endpoint::Address &address);
    void route(Request request);
    void send(Node *target, Request request, bool asking);
    void onReply(Request &request, const Reply &reply);
    void refreshSlots();
    void onSlots(const Reply &reply);
    void retryLater(Request request, const QByteArray &why);
    void fail(Request &request, const QString &why);
    /*! Fails the requests waiting for a retry with \a code. */
    void failRetries(DistributedPromiseError::Code code, const QString &why);
    void runRetries();
    void moveControl();
    Connection *shardsOf(Node *node);
    /*! Subscribes \a channel on the master of its slot (and leaves the previous one). */
    void placeChannel(const QByteArray &channel);
    void placeChannels();
    QList<Endpoint::Address> knownAddresses() const;

    std::vector<std::unique_ptr<Node>> m_nodes;
    QHash<QString, Node *> m_byAddress;
    QHash<QByteArray, Node *> m_channels; // wanted channels and where they are subscribed
    std::vector<Node *> m_slots; // slotCount entries, null while unknown
    bool m_refreshing = false;
    bool m_refreshAgain = false;
    int m_nextAddress = 0;
    std::chrono::milliseconds m_refreshBackoff;
    QTimer m_refreshTimer;
    std::vector<Request> m_retries;
    QTimer m_retryTimer;
};

} // namespace DistributedPromiseRedis
