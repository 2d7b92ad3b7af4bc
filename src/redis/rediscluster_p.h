// SPDX-License-Identifier: MIT
#pragma once

#include "redisclient_p.h"

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
    reads it again), ASK sends ASKING and the command to the importing node, TRYAGAIN retries
    shortly, at most maxRedirections times in all. CLUSTERDOWN and lost nodes are reported as
    transport failures, and the map is read again.

    Notifications use the inherited subscriber connection, on one node: the cluster bus carries
    every PUBLISH to all nodes. The connection moves to another node when its node goes away.
*/
class DISTRIBUTEDPROMISE_EXPORT ClusterClient : public Client
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
    using Client::command;
    void command(const QList<QByteArray> &args, Callback callback) override;

    /*! The hash slot of \a key: CRC16 of its {hash tag}, or of the whole key, modulo 16384. */
    static int slotOf(const QByteArray &key);
    /*! host:port of the master serving \a slot, or empty while the map is unknown. */
    QString nodeFor(int slot) const;

private:
    struct Node;
    Node *node(const Endpoint::Address &address);
    void route(const QList<QByteArray> &args, Callback callback, int redirections);
    void send(Node *target, const QList<QByteArray> &args, Callback callback, int redirections,
        bool asking);
    void refreshSlots();
    void onSlots(const Reply &reply);
    void retryLater(const QList<QByteArray> &args, Callback callback, int redirections);
    void runRetries();
    void moveControl();
    void moveSubscriber();
    QList<Endpoint::Address> knownAddresses() const;

    std::vector<std::unique_ptr<Node>> m_nodes;
    QHash<QString, Node *> m_byAddress;
    std::vector<Node *> m_slots; // slotCount entries, null while unknown
    bool m_refreshing = false;
    bool m_refreshAgain = false;
    bool m_destroying = false;
    int m_nextAddress = 0;
    std::chrono::milliseconds m_refreshBackoff;
    QTimer m_refreshTimer;
    struct Retry
    {
        QList<QByteArray> args;
        Callback callback;
        int redirections = 0;
    };
    std::vector<Retry> m_retries;
    QTimer m_retryTimer;
};

} // namespace DistributedPromiseRedis
