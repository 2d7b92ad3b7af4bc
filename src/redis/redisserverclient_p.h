// SPDX-License-Identifier: MIT
#pragma once

#include "redisclient_p.h"
#include "redissubscriber_p.h"

namespace DistributedPromiseRedis {

/*!
    The client for one server: a pipelined command Connection and a Subscriber, both
    reconnecting by themselves (unless ConnectionOptions::reconnect is false). The subscriber
    connection opens with the first channel: a client that never waits (or a lease keeper's)
    has one connection, not two.
*/
class ServerClient : public Client
{
    Q_OBJECT
public:
    explicit ServerClient(const Endpoint &endpoint, const ConnectionOptions &options = {},
        const QList<QByteArray> &scripts = {}, QObject *parent = nullptr);
    ~ServerClient() override;

    void open() override;
    void close() override;
    bool isConnected() const override { return m_commands.isConnected(); }
    using Client::command;
    void command(const QList<QByteArray> &args, Callback callback) override
    {
        m_commands.command(args, std::move(callback));
    }
    void flush(std::chrono::milliseconds timeout) override { m_commands.flush(timeout); }
    bool isSubscribed(const QByteArray &channel) const override
    {
        return m_subscriber.isSubscribed(channel);
    }

    /*! Moves both connections to another server (see Connection::retarget()). */
    void retarget(const Endpoint &endpoint);
    Connection &commands() { return m_commands; }
    Subscriber &subscriber() { return m_subscriber; }

protected:
    void addChannel(const QByteArray &channel) override;
    void removeChannel(const QByteArray &channel) override { m_subscriber.unsubscribe(channel); }

private:
    Connection m_commands;
    Subscriber m_subscriber;
};

} // namespace DistributedPromiseRedis
