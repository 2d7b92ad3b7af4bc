// SPDX-License-Identifier: MIT
#include "redissentinelclient_p.h"

#include "logging_p.h"

namespace DistributedPromiseRedis {

namespace {
// A lost master is not reconnected to blindly: it may have been demoted (and still accept
// writes for a while); the client reopens where the sentinels say.
ConnectionOptions steered(ConnectionOptions options)
{
    options.reconnect = false;
    return options;
}

// READONLY answers and moves survived by one command.
constexpr int maxResends = 3;
} // namespace

SentinelClient::SentinelClient(const Endpoint &endpoint, const ConnectionOptions &options,
    const QList<QByteArray> &scripts, QObject *parent)
    : Client(endpoint, parent)
    , m_waiting(endpoint.displayName(), options.connectTimeout)
    // Only a placeholder until the master is known: not opened before.
    , m_server(endpoint.server(endpoint.seeds.constFirst()), steered(options), scripts)
    , m_watcher(endpoint, options)
{
    connect(&m_server, &Client::message, this, &Client::message);
    connect(&m_server, &Client::subscribed, this, &Client::subscribed);
    connect(&m_server, &Client::connected, this, &Client::connected);
    connect(&m_server, &Client::disconnected, this, &Client::disconnected);
    connect(&m_watcher, &SentinelWatcher::masterFound, this, &SentinelClient::onMasterFound);
    connect(&m_watcher, &SentinelWatcher::failed, this, &SentinelClient::onSentinelFailed);
    // A lost master may have failed over: ask before reconnecting.
    connect(&m_server.commands(), &Connection::disconnected, this, &SentinelClient::onServerLost);
    connect(&m_server.subscriber().connection(), &Connection::disconnected, this,
        &SentinelClient::onServerLost);
}

SentinelClient::~SentinelClient()
{
    m_destroying = true;
    failWaiting(QStringLiteral("the Redis client was destroyed"));
}

void SentinelClient::open()
{
    m_watcher.start();
    if (m_ready)
        m_server.open(); // otherwise when the master is known
}

void SentinelClient::close()
{
    m_watcher.stop();
    m_relocating = false;
    m_server.close();
    failWaiting(QStringLiteral("the connection was closed"));
}

void SentinelClient::command(const QList<QByteArray> &args, Callback callback)
{
    if (!m_ready || m_relocating) {
        m_waiting.hold({ args, std::move(callback), 0 });
        return;
    }
    sendToMaster(args, std::move(callback), 0);
}

void SentinelClient::sendToMaster(const QList<QByteArray> &args, Callback callback, int attempt)
{
    m_server.commands().command(args,
        [this, args, attempt, moves = m_moves, callback = std::move(callback)](const Reply &reply) {
            if (m_destroying) {
                callback(reply);
                return;
            }
            // A master demoted by a failover answers writes with READONLY (until Sentinel
            // disconnects its clients); a command lost because the connection moved to the new
            // master never reached it. Neither took effect there: send it again once the master
            // is known.
            const bool readOnly = reply.isError() && reply.string.startsWith("READONLY");
            const bool moved = reply.isFailure() && moves != m_moves;
            if (!readOnly && !moved) {
                callback(reply);
                return;
            }
            if (attempt >= maxResends) {
                callback(readOnly ? Reply::failure(DistributedPromiseError::ConnectionFailed,
                             QStringLiteral("Redis at %1 is a replica (%2)")
                                 .arg(m_server.commands().endpoint().displayName(),
                                     QString::fromUtf8(reply.string)))
                                  : reply);
                return;
            }
            if (readOnly && !m_relocating) {
                qCInfo(lcDistributedPromise).noquote()
                    << "Sentinel:" << m_server.commands().endpoint().displayName()
                    << "is not the master any more; asking the sentinels";
                m_relocating = true;
                m_watcher.ask();
            }
            // Not from here: a failure may come while the old connection is being freed.
            m_waiting.hold({ args, callback, attempt + 1 });
            if (!m_relocating)
                QMetaObject::invokeMethod(
                    this,
                    [this] {
                        if (m_ready && !m_relocating)
                            releaseWaiting();
                    },
                    Qt::QueuedConnection);
        });
}

void SentinelClient::onMasterFound(const Endpoint::Address &address)
{
    const Endpoint server = endpoint().server(address);
    const Endpoint &current = m_server.commands().endpoint();
    const bool moved = current.host != server.host || current.port != server.port;
    if (m_ready && moved)
        qCInfo(lcDistributedPromise).noquote()
            << "Sentinel: master" << endpoint().masterName << "moved from" << current.displayName()
            << "to" << address.toString();
    else if (!m_ready)
        qCDebug(lcDistributedPromise).noquote()
            << "Sentinel: master" << endpoint().masterName << "is at" << address.toString();
    if (moved) {
        ++m_moves;
        m_moving = true;
        m_server.retarget(server);
        m_moving = false;
    }
    // The connections do not reconnect by themselves: (re)open them where the master is now.
    // At once: commands sent meanwhile wait in the connection until it is up.
    m_server.open();
    m_relocating = false;
    m_ready = true;
    releaseWaiting();
}

void SentinelClient::onServerLost()
{
    if (m_moving || m_destroying || !m_watcher.isRunning())
        return;
    // Until the sentinels answer, commands wait instead of failing (up to the connect timeout).
    m_relocating = true;
    m_watcher.ask();
}

void SentinelClient::onSentinelFailed(const QString &reason)
{
    // No master to go to: what waits fails now, and so does what comes until one is found.
    m_relocating = false;
    failWaiting(reason);
}

void SentinelClient::releaseWaiting()
{
    for (const HeldCommands::Held &held : m_waiting.release()) {
        if (held.attempt > 0)
            sendToMaster(held.args, held.callback, held.attempt);
        else
            command(held.args, held.callback);
    }
}

void SentinelClient::failWaiting(const QString &reason)
{
    m_waiting.fail(m_destroying ? DistributedPromiseError::Cancelled
                                : DistributedPromiseError::ConnectionFailed,
        reason);
}

void SentinelClient::addChannel(const QByteArray &channel)
{
    // While the master is looked for, the lookup opens the subscriber where the master is.
    if (m_ready && !m_relocating)
        m_server.subscriber().open();
    m_server.subscriber().subscribe(channel);
}

void SentinelClient::removeChannel(const QByteArray &channel)
{
    m_server.subscriber().unsubscribe(channel);
}

} // namespace DistributedPromiseRedis
