// SPDX-License-Identifier: MIT
#pragma once

#include "redisendpoint_p.h"
#include "redispending_p.h"
#include "redisreply_p.h"
#include "redistls_p.h"

#include <QtCore/QFuture>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <chrono>
#include <memory>
#include <vector>

struct redisAsyncContext;
class QSocketNotifier;
class QHostInfo;

namespace DistributedPromiseRedis {

struct ConnectionOptions
{
    /*! DNS + TCP connect + AUTH/SELECT must finish within this. */
    std::chrono::milliseconds connectTimeout { 3000 };
    /*!
        The oldest unanswered command may wait this long before the connection is dropped; 0 =
        never. It also bounds how long a command is retried while Redis answers LOADING, BUSY or
        MASTERDOWN, and how long a subscriber may stay silent: see Connection and Subscriber.
    */
    std::chrono::milliseconds commandTimeout { 5000 };
    std::chrono::milliseconds reconnectMin { 50 };
    std::chrono::milliseconds reconnectMax { 2000 };
    bool reconnect = true;
    /*! Sent with CLIENT SETNAME on every connect (":subscriber" appended by a Subscriber), so
        that CLIENT LIST says whose connection it is; empty sends nothing. */
    QByteArray clientName;
};

/*!
    Takes the replies that a server sends on a Connection without being asked (pub/sub
    messages), and those that answer a command several times (one confirmation per channel).
    Installed by the owner of the connection (Subscriber); called on the connection's thread.
*/
class PushReader
{
public:
    /*!
        Whether \a reply is a push rather than the answer to the oldest command in flight
        (whose tag is \a oldestTag, 0 when none or a plain command). For a push, \a answers says
        whether it also counts as one of the replies that command waits for.
    */
    virtual bool isPush(const Reply &reply, quint8 oldestTag, bool *answers) const = 0;
    /*! A push, after the command it answered (if any) has got its reply. */
    virtual void onPush(const Reply &reply) = 0;

protected:
    ~PushReader() = default;
};

struct ContextLink;
struct HiredisHooks;

/*!
    The transport: one hiredis async connection driven by Qt's event loop through two
    long-lived QSocketNotifiers. It resolves the host, connects (TLS for rediss://), runs the
    handshake (AUTH, SELECT, CLIENT SETNAME, SCRIPT LOAD), pipelines any number of commands and
    reconnects with backoff. Lives in one thread.

    hiredis only connects and carries bytes: this class writes the commands (redisresp_p.h) and
    reads the replies itself, matching them to the commands in flight in order, so it owns every
    pending command whatever the replies are; a PushReader takes the replies that answer no
    command (pub/sub).

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
    fail with Timeout, a warning is logged) and a new one is made. TCP connections also use TCP
    keepalive.
*/
class Connection : public QObject
{
    Q_OBJECT
public:
    enum class State { Disconnected, Resolving, Connecting, Connected };
    Q_ENUM(State)

    explicit Connection(
        const Endpoint &endpoint, const ConnectionOptions &options = {}, QObject *parent = nullptr);
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
    /*!
        Lua scripts loaded with SCRIPT LOAD on every connect, ahead of any other command, so that
        EVALSHA finds them even on a fresh or restarted server. Takes effect at the next connect.
    */
    void setScripts(const QList<QByteArray> &scripts) { m_scripts = scripts; }
    /*! What the connection is for, in log messages ("command connection" by default). */
    void setRole(const QString &role) { m_role = role; }
    /*! Hands the replies that answer no command to \a reader (null: none expected). */
    void setPushReader(PushReader *reader) { m_pushReader = reader; }

    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    /*! A server connection exists (being set up, or up): a command sent now is written to it. */
    bool isAttached() const { return m_ctx != nullptr; }
    /*! Why the last connection attempt failed or was lost; empty while healthy. */
    QString lastError() const { return m_lastError; }
    const Endpoint &endpoint() const { return m_endpoint; }
    const ConnectionOptions &options() const { return m_options; }
    /*! Commands sent and not answered yet (those waiting to be retried included). */
    int pendingCount() const { return m_pending.size() + int(m_retries.size()); }

    /*! Sends one command (binary-safe arguments); \a callback gets the reply. */
    void command(const QList<QByteArray> &args, Callback callback);
    /*! The same as a future; a transport failure fails the future with DistributedPromiseError. */
    QFuture<Reply> command(const QList<QByteArray> &args);
    /*!
        Writes a command to the current server connection (isAttached() must be true), not
        retried on transient errors: \a replies replies answer it (see PushReader), the last one
        goes to \a callback, and \a tag tells the PushReader which command it is. Returns false
        when hiredis refused it (\a callback then gets a Failure from the event loop).
    */
    bool sendNow(const QList<QByteArray> &args, Callback callback, int replies, quint8 tag);

    /*!
        Writes the commands queued so far to the socket now, waiting up to \a timeout for it to
        take them (replies are not read). For the last words before a connection goes away.
    */
    void flush(std::chrono::milliseconds timeout);

Q_SIGNALS:
    /*! A new server connection was started: its handshake is queued, and commands written now
        follow it. */
    void attached();
    void connected();
    void disconnected(const QString &reason);

private:
    friend struct HiredisHooks;

    // Connecting and losing connections (redisconnection.cpp).
    void startConnect();
    void connectToAddress(const QString &address);
    void attach(redisAsyncContext *ctx);
    void onHostLookedUp(const QHostInfo &info);
    void handshake();
    void markReady();
    void handleConnectStatus(int status, const char *error);
    void contextLost(ContextLink *link, const QString &reason);
    /*! What to say about a lost context: \a reason, or what it means for a TLS session. */
    QString lossReason(const QString &reason, DistributedPromiseError::Code code) const;
    void dropContext(DistributedPromiseError::Code code, const QString &reason);
    void connectionFailed(DistributedPromiseError::Code code, const QString &reason);
    void scheduleReconnect();

    // Commands in flight (redisconnectioncommands.cpp).
    /*! A Pending for \a callback: a spare one when there is one (recycle()). */
    Pending *newPending(Callback callback);
    /*! Keeps \a pending, answered and with its callback taken, for a later command. */
    void recycle(std::unique_ptr<Pending> pending);
    bool send(const QList<QByteArray> &args, Pending *pending);
    void readReplies(const bool &deleted);
    void complete(const Reply &reply);
    void handleReply(std::unique_ptr<Pending> pending, const Reply &reply);
    /*! \a pending got \a reply, a transient error: true when it is queued to be sent again. */
    bool retryLater(Pending *pending, const Reply &reply);
    void onRetryTimer();
    /*! The Failure for a command given up while Redis answered \a error. */
    Reply unavailable(const QByteArray &error) const;
    /*! The Failure for a command issued while no server connection exists. */
    QString notConnected() const;
    void failLater(Pending *pending, const QString &reason,
        DistributedPromiseError::Code code = DistributedPromiseError::ConnectionFailed);
    void deliverFailures();
    void armCommandTimer();
    void onCommandTimer();
    void onSocketEvent(bool readable);

    Endpoint m_endpoint;
    const ConnectionOptions m_options;
    QList<QByteArray> m_scripts;
    QString m_role;
    PushReader *m_pushReader = nullptr;
    State m_state = State::Disconnected;
    bool m_wantOpen = false;
    redisAsyncContext *m_ctx = nullptr;
    TlsContext m_tls; // rediss://
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
    QTimer m_retryTimer;
    // Commands waiting to be sent again (Pending::deadline: when), with the transient error
    // that stopped them.
    QList<std::pair<Pending *, QByteArray>> m_retries;
    PendingQueue m_pending; // in flight, oldest first; owned
    // Commands issued while the host name is being resolved.
    QList<std::pair<QList<QByteArray>, Pending *>> m_deferred;
    // Commands that failed before reaching the server, called back from the event loop.
    QList<std::pair<Callback, Reply>> m_failures;
    QByteArray m_resp; // the command being sent, reused
    std::vector<std::unique_ptr<Pending>> m_sparePending; // answered, for the next commands
};

} // namespace DistributedPromiseRedis
