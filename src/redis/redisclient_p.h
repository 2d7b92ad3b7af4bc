// SPDX-License-Identifier: MIT
#pragma once

#include "redisconnection_p.h"

namespace DistributedPromiseRedis {

/*! A Lua script, called by SHA1 with EVALSHA and reloaded (EVAL) when Redis answers NOSCRIPT. */
struct DISTRIBUTEDPROMISE_EXPORT Script
{
    explicit Script(const QByteArray &text);
    QByteArray source;
    QByteArray sha1; ///< lower-case hex, as Redis names scripts
};

/*!
    A Redis client: one pipelined command connection and one subscriber connection to the same
    server, both reconnecting by themselves. Channels are reference counted: UNSUBSCRIBE goes
    out only when the last listener leaves, and every channel is subscribed again after a
    reconnect (subscribed() is emitted again, so listeners can re-check their state).
*/
class DISTRIBUTEDPROMISE_EXPORT Client : public QObject
{
    Q_OBJECT
public:
    Client(
        const Endpoint &endpoint, const ConnectionOptions &options = {}, QObject *parent = nullptr);
    ~Client() override;

    void open();
    void close();
    /*! The command connection is up. */
    bool isConnected() const { return m_commands.isConnected(); }
    Connection &commands() { return m_commands; }
    Connection &subscriber() { return m_subscriber; }

    /*! One command; one round trip. See Connection::command(). */
    void command(const QList<QByteArray> &args, Callback callback)
    {
        m_commands.command(args, std::move(callback));
    }
    QFuture<Reply> command(const QList<QByteArray> &args) { return m_commands.command(args); }

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
    bool isSubscribed(const QByteArray &channel) const
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

private:
    Connection m_commands;
    Connection m_subscriber;
    QHash<QByteArray, int> m_listeners;
};

} // namespace DistributedPromiseRedis
