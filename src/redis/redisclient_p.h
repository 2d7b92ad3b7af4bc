// SPDX-License-Identifier: MIT
#pragma once

#include "redisconnection_p.h"

#include <QtCore/QHash>

#include <memory>

namespace DistributedPromiseRedis {

/*! A Lua script, called by SHA1 with EVALSHA and reloaded (EVAL) when Redis answers NOSCRIPT. */
struct Script
{
    explicit Script(const QByteArray &text);
    QByteArray source;
    QByteArray sha1; ///< lower-case hex, as Redis names scripts
};

/*!
    A Redis client, whatever the topology: pipelined commands, and channels to listen to. The
    connections reconnect by themselves. Channels are reference counted: UNSUBSCRIBE goes out
    only when the last listener leaves, and every channel is subscribed again after a reconnect
    (subscribed() is emitted again, so listeners can re-check their state).

    create() makes the implementation for the URL's topology: ServerClient (one server),
    SentinelClient (the server a set of sentinels names as the master) or ClusterClient (a
    Redis Cluster). A command issued while disconnected fails (never re-entrantly); until the
    first server is known (Sentinel, Cluster), and behind Sentinel while the master is looked
    for again, commands wait instead, for at most the connect timeout.
*/
class Client : public QObject
{
    Q_OBJECT
public:
    /*!
        The client for \a endpoint's topology; not opened yet. Every command connection loads
        \a scripts (their sources) with SCRIPT LOAD on every connect, ahead of any other
        command, so that EVALSHA finds them even on a fresh or restarted server.
    */
    static std::unique_ptr<Client> create(const Endpoint &endpoint,
        const ConnectionOptions &options = {}, const QList<QByteArray> &scripts = {});

    ~Client() override;

    virtual void open() = 0;
    virtual void close() = 0;
    /*! Commands can be sent (for a cluster: the slot map is known and every node is up). */
    virtual bool isConnected() const = 0;
    /*! Commands on \a key can be sent (for a cluster: the node serving its slot is up). */
    virtual bool isReadyFor(const QByteArray &key) const
    {
        Q_UNUSED(key)
        return isConnected();
    }
    /*! Where this client talks to, for messages; never the password. */
    QString displayName() const { return m_endpoint.displayName(); }

    /*! One command; one round trip (for a cluster, one more per MOVED/ASK redirection). */
    virtual void command(const QList<QByteArray> &args, Callback callback) = 0;
    /*! The same as a future; a transport failure fails the future with DistributedPromiseError. */
    QFuture<Reply> command(const QList<QByteArray> &args);

    /*! Writes the commands queued so far to Redis now, waiting up to \a timeout in all. */
    virtual void flush(std::chrono::milliseconds timeout) = 0;

    /*!
        Runs \a script with \a keys and \a args: one round trip (EVALSHA), two when Redis did not
        know the script yet (NOSCRIPT, then EVAL, which also caches it).
    */
    void eval(const Script &script, const QList<QByteArray> &keys, const QList<QByteArray> &args,
        Callback callback);

    /*!
        Adds a listener to \a channel. Returns true when the subscription is already confirmed;
        otherwise subscribed(channel) follows once Redis has confirmed it.
    */
    bool subscribe(const QByteArray &channel);
    /*! Removes a listener; the last one to leave sends UNSUBSCRIBE. */
    void unsubscribe(const QByteArray &channel);
    /*! Redis has confirmed \a channel. */
    virtual bool isSubscribed(const QByteArray &channel) const = 0;
    int listenerCount(const QByteArray &channel) const { return m_listeners.value(channel); }

Q_SIGNALS:
    void message(const QByteArray &channel, const QByteArray &payload);
    void subscribed(const QByteArray &channel);
    /*! The command connection is (again) up. */
    void connected();
    void disconnected(const QString &reason);

protected:
    explicit Client(const Endpoint &endpoint, QObject *parent = nullptr);
    const Endpoint &endpoint() const { return m_endpoint; }
    /*! The first listener of \a channel came: subscribe (subscribed() follows). */
    virtual void addChannel(const QByteArray &channel) = 0;
    /*! The last listener of \a channel left. */
    virtual void removeChannel(const QByteArray &channel) = 0;

private:
    const Endpoint m_endpoint;
    QHash<QByteArray, int> m_listeners;
};

/*!
    Commands that wait for a server to be known (a Sentinel lookup, a Cluster's slot map). A
    batch waits for at most the connect timeout from its first command; then it fails with
    ConnectionFailed.
*/
class HeldCommands
{
public:
    struct Held
    {
        QList<QByteArray> args;
        Callback callback;
        int attempt = 0; // sends so far, for a client that sends a command again
    };

    /*! \a where names the client in failures. */
    HeldCommands(const QString &where, std::chrono::milliseconds timeout);

    void hold(Held held);
    /*! Takes every command held, oldest first. */
    QList<Held> release();
    /*! Fails every command held with \a code: "Redis at <where>: \a reason". */
    void fail(DistributedPromiseError::Code code, const QString &reason);

private:
    const QString m_where;
    const std::chrono::milliseconds m_timeout;
    QList<Held> m_held;
    QTimer m_timer;
};

} // namespace DistributedPromiseRedis
