// SPDX-License-Identifier: MIT
#pragma once

#include "redisconnection_p.h"

#include <QtCore/QHash>

namespace DistributedPromiseRedis {

/*!
    A pub/sub connection: owns a Connection, the table of channels wanted and confirmed, the
    (S)SUBSCRIBE and (S)UNSUBSCRIBE commands, the heartbeat and the dispatch of messages. Lives
    in one thread.

    It reads the pub/sub replies itself (as the Connection's PushReader), because hiredis's async
    pub/sub bookkeeping knows no shard channels and drops the connection when Redis refuses a
    SUBSCRIBE. Every channel wanted is subscribed again on each new connection (subscribed()
    follows again).

    Dead connections: a subscriber connection sends nothing by itself, so it sends PING every
    heartbeatInterval() while it has channels; a PING or an (un)subscribe left unanswered for
    commandTimeout counts as a dead connection (a warning is logged, isConnected() turns false,
    and the reconnect subscribes everything again, each channel's subscribed() following). A
    black-holed subscriber connection is thus noticed within heartbeatInterval() +
    commandTimeout.
*/
class Subscriber : public QObject, private PushReader
{
    Q_OBJECT
public:
    /*! Classic channels (SUBSCRIBE), or shard channels (SSUBSCRIBE, SUNSUBSCRIBE, smessage;
        Redis Cluster 7). */
    enum class Channels { Classic, Shard };

    explicit Subscriber(const Endpoint &endpoint, const ConnectionOptions &options = {},
        Channels channels = Channels::Classic, QObject *parent = nullptr);
    ~Subscriber() override;

    void open() { m_connection.open(); }
    void close() { m_connection.close(); }
    /*! Moves to another server (see Connection::retarget()); the channels follow. */
    void retarget(const Endpoint &endpoint);
    bool isConnected() const { return m_connection.isConnected(); }
    Connection &connection() { return m_connection; }
    const Connection &connection() const { return m_connection; }

    /*!
        How often the connection sends PING: commandTimeout / 2, at most 1 s; 0 (never) when
        commandTimeout is 0. Half the timeout keeps detection within 1.5 commandTimeout for
        short timeouts; the 1 s cap keeps it within commandTimeout + 1 s for long ones, at the
        cost of one PING a second per process, which Redis answers from memory.
    */
    static std::chrono::milliseconds heartbeatInterval(const ConnectionOptions &options);

    /*! Want \a channel; subscribed() follows when Redis confirms it. */
    void subscribe(const QByteArray &channel);
    /*! Stop wanting \a channel. */
    void unsubscribe(const QByteArray &channel);
    /*! Redis has confirmed \a channel and no (un)subscribe for it is in flight. */
    bool isSubscribed(const QByteArray &channel) const;
    /*! Some channel is wanted. */
    bool hasChannels() const;

Q_SIGNALS:
    void message(const QByteArray &channel, const QByteArray &payload);
    void subscribed(const QByteArray &channel);
    /*! The server dropped \a channel by itself (a shard channel whose slot moved to another
        node); it is no longer wanted here. */
    void subscriptionLost(const QByteArray &channel);
    /*!
        Redis refused to subscribe \a channel (\a error: its reply, e.g. NOPERM for an ACL user
        without channel rights). The channel stays wanted, unconfirmed: it is tried again on the
        next connection, or when unsubscribed and subscribed again. A transient refusal (BUSY,
        LOADING, MASTERDOWN) is not reported: it is retried with backoff.
    */
    void subscriptionRefused(const QByteArray &channel, const QString &error);

private:
    struct ChannelState
    {
        bool wanted = false;
        bool confirmed = false;
        int opsInFlight = 0;
    };
    // Pending tags of our commands, for isPush().
    enum Tag : quint8 { PlainTag = 0, SubscribeTag, UnsubscribeTag };

    bool isPush(const Reply &reply, quint8 oldestTag, bool *answers) const override;
    void onPush(const Reply &reply) override;
    void onAttached();
    void onConnected();
    void onDisconnected();
    void sendSubscription(bool subscribe, const QList<QByteArray> &channels);
    /*! An error reply to an (un)subscribe of \a channels. */
    void handleRefusal(bool subscribe, const QList<QByteArray> &channels, const Reply &reply);
    /*! Subscribes the wanted channels that are neither confirmed nor in flight. */
    void resubscribe();
    void sendHeartbeat();

    const Channels m_kind;
    QHash<QByteArray, ChannelState> m_channels;
    QTimer m_heartbeatTimer;
    bool m_heartbeatInFlight = false;
    QTimer m_resubscribeTimer; // after a transient refusal
    std::chrono::milliseconds m_resubscribeBackoff;
    // Last: destroyed first, while the channel table its callbacks may read still exists.
    Connection m_connection;
};

} // namespace DistributedPromiseRedis
