// SPDX-License-Identifier: MIT
#pragma once

#include "redisconnection_p.h"

namespace DistributedPromiseRedis {

/*! A Lua script, called by SHA1 with EVALSHA and reloaded (EVAL) when Redis answers NOSCRIPT. */
struct Script
{
    explicit Script(const QByteArray &text);
    QByteArray source;
    QByteArray sha1; ///< lower-case hex, as Redis names scripts
};

class SentinelWatcher;

/*!
    A Redis client: one pipelined command connection and one subscriber connection, both
    reconnecting by themselves. Channels are reference counted: UNSUBSCRIBE goes out only when
    the last listener leaves, and every channel is subscribed again after a reconnect
    (subscribed() is emitted again, so listeners can re-check their state).

    Made by create() for the URL's topology:
    - a server: both connections go to it;
    - Sentinel: the sentinels are asked for the master (SentinelWatcher) before the first
      connect and again whenever a connection to the master is lost or a READONLY reply shows
      the server was demoted; the connections do not reconnect by themselves, they go where the
      answer says (the same server or the new master). +switch-master events move both
      connections at once. While the master is looked for, commands are held (up to the connect
      timeout) instead of failing; a command answered READONLY, or lost because the connection
      moved to the new master, is sent again there (up to 3 times; what it did on the old
      server is not the master's state any more);
    - Cluster: ClusterClient routes each command to the node serving its key's slot.

    Until the first server is known (Sentinel, Cluster), and behind Sentinel while the master is
    looked for again, commands wait, for at most the connect timeout; otherwise a command issued
    while disconnected fails at once, as Connection does.
*/
class Client : public QObject
{
    Q_OBJECT
public:
    /*! The client for \a endpoint's topology; not opened yet. */
    static std::unique_ptr<Client> create(
        const Endpoint &endpoint, const ConnectionOptions &options = {});

    Client(
        const Endpoint &endpoint, const ConnectionOptions &options = {}, QObject *parent = nullptr);
    ~Client() override;

    virtual void open();
    virtual void close();
    /*! Commands can be sent (for a cluster: the slot map is known and every node is up). */
    virtual bool isConnected() const;
    /*! Commands on \a key can be sent (for a cluster: the node serving its slot is up). */
    virtual bool isReadyFor(const QByteArray &key) const
    {
        Q_UNUSED(key)
        return isConnected();
    }
    /*! Where this client talks to, for messages; never the password. */
    QString displayName() const { return m_endpoint.displayName(); }
    /*! The connection commands go to (for a cluster: the one the slot map is read from). */
    Connection &commands() { return m_commands; }
    Connection &subscriber() { return m_subscriber; }

    /*! One command; one round trip (for a cluster, one more per MOVED/ASK redirection). */
    virtual void command(const QList<QByteArray> &args, Callback callback);
    /*! The same as a future; a transport failure fails the future with DistributedPromiseError. */
    QFuture<Reply> command(const QList<QByteArray> &args);

    /*! Writes the commands queued so far to Redis now, waiting up to \a timeout in all. */
    virtual void flush(std::chrono::milliseconds timeout) { m_commands.flush(timeout); }

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
    virtual bool isSubscribed(const QByteArray &channel) const
    {
        return m_subscriber.isSubscribed(channel);
    }
    int listenerCount(const QByteArray &channel) const { return m_listeners.value(channel); }

Q_SIGNALS:
    void message(const QByteArray &channel, const QByteArray &payload);
    void subscribed(const QByteArray &channel);
    /*! The command connection is (again) up. */
    void connected();
    void disconnected(const QString &reason);

protected:
    const Endpoint &endpoint() const { return m_endpoint; }
    const ConnectionOptions &options() const { return m_options; }
    /*! False while the first server is still being looked for (Sentinel, Cluster). */
    bool isReady() const { return m_ready; }
    /*! The server is known: sends the commands that waited for it. */
    void setReady();
    /*! Keeps the command until setReady() or failWaiting(); false when ready already. */
    bool waitForReady(const QList<QByteArray> &args, Callback &callback);
    /*! Fails the commands that wait for the first server. */
    void failWaiting(const QString &reason);
    /*! The first listener of \a channel came: subscribe (subscribed() follows). */
    virtual void addChannel(const QByteArray &channel)
    {
        // The subscriber connection opens with the first channel: a client that never waits
        // (or a lease keeper's) has one connection, not two. While a Sentinel lookup runs, the
        // lookup opens it where the master is.
        if (m_ready && !m_relocating)
            m_subscriber.open();
        m_subscriber.subscribe(channel);
    }
    /*! The last listener of \a channel left. */
    virtual void removeChannel(const QByteArray &channel) { m_subscriber.unsubscribe(channel); }

    /*! Set by the destructors: callbacks run from here on must not touch the client's state. */
    bool m_destroying = false;

private:
    struct Held
    {
        QList<QByteArray> args;
        Callback callback;
        int attempt = 0;
    };
    void onMasterFound(const Endpoint::Address &address);
    /*! Sentinel: a connection to the master was lost; find out where it is now. */
    void onServerLost();
    void onSentinelFailed(const QString &reason);
    /*! Sentinel: sends to the master; READONLY or a loss caused by a move sends again. */
    void sendToMaster(const QList<QByteArray> &args, Callback callback, int attempt);
    void hold(Held held);
    void releaseWaiting();

    const Endpoint m_endpoint;
    const ConnectionOptions m_options;
    Connection m_commands;
    Connection m_subscriber;
    QHash<QByteArray, int> m_listeners;
    std::unique_ptr<SentinelWatcher> m_sentinel;
    bool m_ready = true;
    bool m_relocating = false; // Sentinel: the master is being looked for after a loss
    bool m_moving = false; // Sentinel: inside retarget(), whose disconnects are expected
    quint64 m_moves = 0;
    QList<Held> m_waiting;
    QTimer m_waitTimer;
};

} // namespace DistributedPromiseRedis
