// SPDX-License-Identifier: MIT
#pragma once

#include "redissentinel_p.h"
#include "redisserverclient_p.h"

namespace DistributedPromiseRedis {

/*!
    The client for the master a set of sentinels monitors: a ServerClient steered by a
    SentinelWatcher. The sentinels are asked for the master before the first connect and again
    whenever a connection to the master is lost or a READONLY reply shows the server was
    demoted; the connections do not reconnect by themselves, they go where the answer says (the
    same server or the new master). +switch-master events move both connections at once.

    While the master is looked for, commands are held (up to the connect timeout) instead of
    failing; a command answered READONLY, or lost because the connection moved to the new
    master, is sent again there (up to 3 times; what it did on the old server is not the
    master's state any more).
*/
class SentinelClient : public Client
{
    Q_OBJECT
public:
    explicit SentinelClient(const Endpoint &endpoint, const ConnectionOptions &options = {},
        const QList<QByteArray> &scripts = {}, QObject *parent = nullptr);
    ~SentinelClient() override;

    void open() override;
    void close() override;
    bool isConnected() const override { return m_server.isConnected(); }
    using Client::command;
    void command(const QList<QByteArray> &args, Callback callback) override;
    void flush(std::chrono::milliseconds timeout) override { m_server.flush(timeout); }
    bool isSubscribed(const QByteArray &channel) const override
    {
        return m_server.isSubscribed(channel);
    }
    /*! The client for the master (before the first answer: for the first sentinel's host). */
    ServerClient &server() { return m_server; }

protected:
    void addChannel(const QByteArray &channel) override;
    void removeChannel(const QByteArray &channel) override;

private:
    void onMasterFound(const Endpoint::Address &address);
    /*! A connection to the master was lost; find out where it is now. */
    void onServerLost();
    void onSentinelFailed(const QString &reason);
    /*! Sends to the master; READONLY or a loss caused by a move sends again. */
    void sendToMaster(const QList<QByteArray> &args, Callback callback, int attempt);
    void releaseWaiting();
    void failWaiting(const QString &reason);

    // Before the parts: their callbacks, run while they are destroyed, read it.
    bool m_destroying = false;
    bool m_ready = false; // the master is known
    bool m_relocating = false; // the master is being looked for after a loss
    bool m_moving = false; // inside retarget(), whose disconnects are expected
    quint64 m_moves = 0;
    HeldCommands m_waiting;
    ServerClient m_server;
    SentinelWatcher m_watcher;
};

} // namespace DistributedPromiseRedis
