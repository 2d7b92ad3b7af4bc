// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise_export.h"
#include "redisendpoint_p.h"
#include "redisreply_p.h"

#include <QtCore/QFuture>
#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <chrono>
#include <functional>
#include <memory>

struct redisAsyncContext;
struct ssl_ctx_st;
class QSocketNotifier;
class QHostInfo;

namespace DistributedPromiseRedis {

/*! Receives exactly one reply (or Failure) per command, on the connection's thread. */
using Callback = std::function<void(const Reply &)>;

/*! A future of the reply that \a send's callback gets; a Failure fails it with the error. */
QFuture<Reply> replyFuture(const std::function<void(Callback)> &send);

struct ConnectionOptions
{
    /*! DNS + TCP connect + AUTH/SELECT must finish within this. */
    std::chrono::milliseconds connectTimeout { 3000 };
    /*!
        The oldest unanswered command may wait this long before the connection is dropped; 0 =
        never. It also bounds how long a command is retried while Redis answers LOADING, BUSY or
        MASTERDOWN, and how long a subscriber connection may stay silent: see Connection.
    */
    std::chrono::milliseconds commandTimeout { 5000 };
    std::chrono::milliseconds reconnectMin { 50 };
    std::chrono::milliseconds reconnectMax { 2000 };
    bool reconnect = true;
    /*! Subscriber mode: shard channels (SSUBSCRIBE, SUNSUBSCRIBE, smessage; Redis Cluster 7). */
    bool shardChannels = false;
    /*! Lua scripts loaded with SCRIPT LOAD on every connect, ahead of any other command, so that
        EVALSHA finds them even on a fresh or restarted server. Commands mode only. */
    QList<QByteArray> scripts;
    /*! Sent with CLIENT SETNAME on every connect (":subscriber" appended for a subscriber
        connection), so that CLIENT LIST says whose connection it is; empty sends nothing. */
    QByteArray clientName;
};

struct Pending;
struct ContextLink;
struct HiredisHooks;

/*!
    One hiredis async connection driven by Qt's event loop through two long-lived
    QSocketNotifiers. Commands mode pipelines any number of commands; Subscriber mode only
    (un)subscribes and delivers messages. Lives in one thread.

    In Subscriber mode hiredis only connects and carries bytes: this class writes the commands
    and reads the replies itself, because hiredis's async pub/sub bookkeeping knows no shard
    channels and drops the connection when Redis refuses a SUBSCRIBE.

    Every command's callback runs exactly once: with the reply, or with a Failure reply when the
    connection drops, times out, is closed or the object is destroyed. A command issued while no
    connection exists fails at once (delivered from the event loop, never re-entrantly).

    Transient unavailability: a command answered with LOADING (the server is loading its data),
    BUSY (a script or function runs too long) or MASTERDOWN (a replica without its master, with
    replica-serve-stale-data no) was not executed, so it is sent again, with a backoff from
    reconnectMin doubling up to reconnectMax, for up to commandTimeout after its first send (no
    limit when commandTimeout is 0). Each attempt is one round trip. If the condition outlasts
    that, the callback gets a ConnectionFailed Failure that names it, so callers treat it as
    Redis being unavailable; the connection itself stays up. A retried command may run after
    commands sent later than it.

    Dead connections: a command unanswered for commandTimeout drops the connection (its commands
    fail with Timeout) and a new one is made. A subscriber connection sends nothing by itself, so
    it sends PING every heartbeatInterval() while it has channels; a PING or an (un)subscribe left
    unanswered for commandTimeout counts as a dead connection the same way (a warning is logged,
    isConnected() turns false, and the reconnect subscribes everything again, each channel's
    subscribed() following). A black-holed subscriber connection is thus noticed within
    heartbeatInterval() + commandTimeout. TCP connections also use TCP keepalive.
*/
class Connection : public QObject
{
    Q_OBJECT
public:
    enum class Mode { Commands, Subscriber };
    enum class State { Disconnected, Resolving, Connecting, Connected };
    Q_ENUM(State)

    Connection(const Endpoint &endpoint, Mode mode, const ConnectionOptions &options = {},
        QObject *parent = nullptr);
    ~Connection() override;

    /*! Starts connecting, and keeps reconnecting with backoff after losses until close(). */
    void open();
    /*! Fails every pending command, disconnects and stops reconnecting. */
    void close();
    /*!
        Points the connection at another server (a Sentinel failover, a new cluster node). When
        the address differs, the current connection is dropped (its pending commands fail with
        ConnectionFailed) and, if open, a new one starts after the shortest backoff (never from
       inside this call).
    */
    void retarget(const Endpoint &endpoint);

    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    /*! Why the last connection attempt failed or was lost; empty while healthy. */
    QString lastError() const { return m_lastError; }
    const Endpoint &endpoint() const { return m_endpoint; }
    /*! Commands sent and not answered yet (those waiting to be retried included). */
    int pendingCount() const { return m_pendingCount + int(m_retries.size()); }
    /*!
        How often a subscriber connection sends PING: commandTimeout / 2, at most 1 s; 0 (never)
        when commandTimeout is 0. Half the timeout keeps detection within 1.5 commandTimeout for
        short timeouts; the 1 s cap keeps it within commandTimeout + 1 s for long ones, at the
        cost of one PING a second per process, which Redis answers from memory.
    */
    static std::chrono::milliseconds heartbeatInterval(const ConnectionOptions &options);

    /*! Sends one command (binary-safe arguments); \a callback gets the reply. Commands mode. */
    void command(const QList<QByteArray> &args, Callback callback);
    /*! The same as a future; a transport failure fails the future with DistributedPromiseError. */
    QFuture<Reply> command(const QList<QByteArray> &args);

    /*!
        Writes the commands queued so far to the socket now, waiting up to \a timeout for it to
        take them (replies are not read). For the last words before a connection goes away.
    */
    void flush(std::chrono::milliseconds timeout);

    /*! Subscriber mode: want \a channel; subscribed() follows when Redis confirms it. */
    void subscribe(const QByteArray &channel);
    /*! Subscriber mode: stop wanting \a channel. */
    void unsubscribe(const QByteArray &channel);
    /*! Subscriber mode: Redis has confirmed \a channel and no (un)subscribe for it is in flight. */
    bool isSubscribed(const QByteArray &channel) const;

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);
    void message(const QByteArray &channel, const QByteArray &payload);
    void subscribed(const QByteArray &channel);
    /*! Subscriber mode: the server dropped \a channel by itself (a shard channel whose slot
        moved to another node); it is no longer wanted here. */
    void subscriptionLost(const QByteArray &channel);
    /*!
        Subscriber mode: Redis refused to subscribe \a channel (\a error: its reply, e.g. NOPERM
        for an ACL user without channel rights). The channel stays wanted, unconfirmed: it is
        tried again on the next connection, or when unsubscribed and subscribed again. A
        transient refusal (BUSY, LOADING, MASTERDOWN) is not reported: it is retried with backoff.
    */
    void subscriptionRefused(const QByteArray &channel, const QString &error);

private:
    friend struct HiredisHooks;
    struct ChannelState
    {
        bool wanted = false;
        bool confirmed = false;
        int opsInFlight = 0;
    };

    void startConnect();
    void connectToAddress(const QString &address);
    /*! Starts TLS on \a ctx: the server's certificate must chain to cacert (or the system's
        CAs) and be issued for the host (sni= when given): its name, or its IP address. */
    bool startTls(redisAsyncContext *ctx, QString *error);
    /*! What to check when a TLS session fails. */
    QString tlsHint() const;
    void onHostLookedUp(const QHostInfo &info);
    void handshake();
    void markReady();
    void handleConnectStatus(int status, const char *error);
    void handleReply(Pending *pending, const Reply &reply);
    void handlePubSub(const Reply &reply);
    void contextLost(ContextLink *link, const QString &reason);
    /*! What to say about a lost context: \a reason, or what it means for a TLS session. */
    QString lossReason(const QString &reason, DistributedPromiseError::Code code) const;
    void dropContext(DistributedPromiseError::Code code, const QString &reason);
    void connectionFailed(DistributedPromiseError::Code code, const QString &reason);
    void scheduleReconnect();
    bool send(const QList<QByteArray> &args, Pending *pending);
    void sendSubscription(bool subscribe, const QList<QByteArray> &channels);
    /*! An error reply to an (un)subscribe of \a channels. */
    void handleRefusal(bool subscribe, const QList<QByteArray> &channels, const Reply &reply);
    /*! Subscribes the wanted channels that are neither confirmed nor in flight. */
    void resubscribe();
    bool confirms(const Reply &push, const Pending *pending) const;
    void sendHeartbeat();
    /*! \a pending got \a reply, a transient error: true when it is queued to be sent again. */
    bool retryLater(Pending *pending, const Reply &reply);
    void onRetryTimer();
    /*! The Failure for a command given up while Redis answered \a error. */
    Reply unavailable(const QByteArray &error) const;
    bool appendRaw(const QList<QByteArray> &args);
    /*! \a args as one RESP command in m_resp. */
    void formatCommand(const QList<QByteArray> &args);
    void readRaw(const bool &deleted);
    void failLater(Pending *pending, const QString &reason,
        DistributedPromiseError::Code code = DistributedPromiseError::ConnectionFailed);
    void deliverFailures();
    void link(Pending *pending);
    void unlink(Pending *pending);
    void armCommandTimer();
    void onCommandTimer();
    void onSocketEvent(bool readable);

    Endpoint m_endpoint;
    const Mode m_mode;
    const ConnectionOptions m_options;
    State m_state = State::Disconnected;
    bool m_wantOpen = false;
    redisAsyncContext *m_ctx = nullptr;
    ssl_ctx_st *m_tls = nullptr; // rediss:// (an SSL_CTX): made at the first connect, shared
    ContextLink *m_link = nullptr;
    QSocketNotifier *m_readNotifier = nullptr;
    QSocketNotifier *m_writeNotifier = nullptr;
    bool *m_deletedFlag = nullptr;
    int m_lookupId = -1;
    int m_handshakePending = 0;
    bool m_socketConnected = false;
    bool m_answered = false; // the current context has received a reply
    QString m_lastError;
    std::chrono::milliseconds m_backoff;
    QTimer m_connectTimer;
    QTimer m_reconnectTimer;
    QTimer m_commandTimer;
    QTimer m_heartbeatTimer; // Subscriber mode
    bool m_heartbeatInFlight = false;
    QTimer m_resubscribeTimer; // Subscriber mode: after a transient refusal
    std::chrono::milliseconds m_resubscribeBackoff;
    QTimer m_retryTimer;
    // Commands waiting to be sent again (Pending::deadline: when), with the transient error
    // that stopped them.
    QList<std::pair<Pending *, QByteArray>> m_retries;
    // In-flight commands, oldest first (an intrusive list: Pending is the node).
    Pending *m_head = nullptr;
    Pending *m_tail = nullptr;
    int m_pendingCount = 0;
    // Commands issued while the host name is being resolved.
    QList<std::pair<QList<QByteArray>, Pending *>> m_deferred;
    // Commands that failed before reaching hiredis, called back from the event loop.
    QList<std::pair<Callback, Reply>> m_failures;
    QHash<QByteArray, ChannelState> m_channels;
    QByteArray m_resp; // the command being sent, reused
};

} // namespace DistributedPromiseRedis
