// SPDX-License-Identifier: MIT
#include "redisclient_p.h"

#include "logging_p.h"
#include "rediscluster_p.h"
#include "redissentinel_p.h"

#include <QtCore/QCryptographicHash>

namespace DistributedPromiseRedis {

Script::Script(const QByteArray &text)
    : source(text)
    , sha1(QCryptographicHash::hash(text, QCryptographicHash::Sha1).toHex())
{ }

namespace {
// The server the connections start with; for Sentinel only a placeholder until the master is
// known (they are not opened before).
Endpoint firstServer(const Endpoint &endpoint)
{
    if (endpoint.topology == Endpoint::Topology::Server)
        return endpoint;
    return endpoint.server(endpoint.seeds.constFirst());
}

// Behind Sentinel, a lost master is not reconnected to blindly: it may have been demoted (and
// still accept writes for a while); the client reopens where the sentinels say.
ConnectionOptions serverOptions(const Endpoint &endpoint, ConnectionOptions options)
{
    if (endpoint.topology == Endpoint::Topology::Sentinel)
        options.reconnect = false;
    return options;
}

// READONLY answers and moves survived by one command.
constexpr int maxResends = 3;
} // namespace

std::unique_ptr<Client> Client::create(const Endpoint &endpoint, const ConnectionOptions &options)
{
    if (endpoint.topology == Endpoint::Topology::Cluster)
        return std::make_unique<ClusterClient>(endpoint, options);
    return std::make_unique<Client>(endpoint, options);
}

Client::Client(const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent)
    : QObject(parent)
    , m_endpoint(endpoint)
    , m_options(options)
    , m_commands(
          firstServer(endpoint), Connection::Mode::Commands, serverOptions(endpoint, options))
    , m_subscriber(
          firstServer(endpoint), Connection::Mode::Subscriber, serverOptions(endpoint, options))
{
    connect(&m_subscriber, &Connection::message, this, &Client::message);
    connect(&m_subscriber, &Connection::subscribed, this, &Client::subscribed);
    m_waitTimer.setSingleShot(true);
    connect(&m_waitTimer, &QTimer::timeout, this, [this] {
        failWaiting(
            QStringLiteral("no server found within %1 ms").arg(m_options.connectTimeout.count()));
    });
    if (endpoint.topology == Endpoint::Topology::Cluster) {
        m_ready = false; // until the slot map is read
        return; // ClusterClient reports its own state
    }
    connect(&m_commands, &Connection::connected, this, &Client::connected);
    connect(&m_commands, &Connection::disconnected, this, &Client::disconnected);
    if (endpoint.topology != Endpoint::Topology::Sentinel)
        return;
    m_ready = false;
    m_sentinel = std::make_unique<SentinelWatcher>(endpoint, options);
    connect(m_sentinel.get(), &SentinelWatcher::masterFound, this, &Client::onMasterFound);
    connect(m_sentinel.get(), &SentinelWatcher::failed, this, &Client::onSentinelFailed);
    // A lost master may have failed over: ask before reconnecting.
    connect(&m_commands, &Connection::disconnected, this, &Client::onServerLost);
    connect(&m_subscriber, &Connection::disconnected, this, &Client::onServerLost);
}

Client::~Client()
{
    m_destroying = true;
    failWaiting(QStringLiteral("the Redis client was destroyed"));
}

void Client::open()
{
    if (m_sentinel) {
        m_sentinel->start();
        if (!m_ready)
            return; // the connections open when the master is known
    }
    m_commands.open();
    if (!m_listeners.isEmpty())
        m_subscriber.open(); // otherwise with the first channel
}

void Client::close()
{
    if (m_sentinel)
        m_sentinel->stop();
    m_relocating = false;
    m_commands.close();
    m_subscriber.close();
    failWaiting(QStringLiteral("the connection was closed"));
}

bool Client::isConnected() const { return m_commands.isConnected(); }

void Client::command(const QList<QByteArray> &args, Callback callback)
{
    if (waitForReady(args, callback))
        return;
    if (!m_sentinel) {
        m_commands.command(args, std::move(callback));
        return;
    }
    sendToMaster(args, std::move(callback), 0);
}

void Client::sendToMaster(const QList<QByteArray> &args, Callback callback, int attempt)
{
    m_commands.command(args,
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
                                 .arg(m_commands.endpoint().displayName(),
                                     QString::fromUtf8(reply.string)))
                                  : reply);
                return;
            }
            if (readOnly && !m_relocating) {
                qCInfo(lcDistributedPromise).noquote()
                    << "Sentinel:" << m_commands.endpoint().displayName()
                    << "is not the master any more; asking the sentinels";
                m_relocating = true;
                m_sentinel->ask();
            }
            // Not from here: a failure may come while the old connection is being freed.
            hold({ args, callback, attempt + 1 });
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

QFuture<Reply> Client::command(const QList<QByteArray> &args)
{
    return replyFuture([&](Callback callback) { command(args, std::move(callback)); });
}

void Client::onMasterFound(const Endpoint::Address &address)
{
    const Endpoint server = m_endpoint.server(address);
    const bool moved
        = m_commands.endpoint().host != server.host || m_commands.endpoint().port != server.port;
    if (m_ready && moved)
        qCInfo(lcDistributedPromise).noquote()
            << "Sentinel: master" << m_endpoint.masterName << "moved from"
            << m_commands.endpoint().displayName() << "to" << address.toString();
    else if (!m_ready)
        qCDebug(lcDistributedPromise).noquote()
            << "Sentinel: master" << m_endpoint.masterName << "is at" << address.toString();
    if (moved) {
        ++m_moves;
        m_moving = true;
        m_commands.retarget(server);
        m_subscriber.retarget(server);
        m_moving = false;
    }
    // The connections do not reconnect by themselves: (re)open them where the master is now.
    // At once: commands sent meanwhile wait in the connection until it is up.
    m_commands.open();
    if (!m_listeners.isEmpty())
        m_subscriber.open(); // otherwise with the first channel
    m_relocating = false;
    if (!m_ready)
        setReady();
    else
        releaseWaiting();
}

void Client::onServerLost()
{
    if (m_moving || m_destroying || !m_sentinel->isRunning())
        return;
    // Until the sentinels answer, commands wait instead of failing (up to the connect timeout).
    m_relocating = true;
    m_sentinel->ask();
}

void Client::onSentinelFailed(const QString &reason)
{
    // No master to go to: what waits fails now, and so does what comes until one is found.
    m_relocating = false;
    failWaiting(reason);
}

void Client::setReady()
{
    m_ready = true;
    releaseWaiting();
}

void Client::releaseWaiting()
{
    m_waitTimer.stop();
    const auto waiting = std::exchange(m_waiting, {});
    for (const Held &held : waiting) {
        if (m_sentinel && held.attempt > 0)
            sendToMaster(held.args, held.callback, held.attempt);
        else
            command(held.args, held.callback);
    }
}

bool Client::waitForReady(const QList<QByteArray> &args, Callback &callback)
{
    if (m_ready && !m_relocating)
        return false;
    hold({ args, std::move(callback), 0 });
    return true;
}

void Client::hold(Held held)
{
    m_waiting.append(std::move(held));
    if (!m_waitTimer.isActive())
        m_waitTimer.start(m_options.connectTimeout);
}

void Client::failWaiting(const QString &reason)
{
    m_waitTimer.stop();
    const auto waiting = std::exchange(m_waiting, {});
    const Reply failure = Reply::failure(m_destroying ? DistributedPromiseError::Cancelled
                                                      : DistributedPromiseError::ConnectionFailed,
        QStringLiteral("Redis at %1: %2").arg(displayName(), reason));
    for (const Held &held : waiting)
        held.callback(failure);
}

void Client::eval(const Script &script, const QList<QByteArray> &keys,
    const QList<QByteArray> &args, Callback callback)
{
    QList<QByteArray> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv << QByteArrayLiteral("EVALSHA") << script.sha1 << QByteArray::number(keys.size());
    argv << keys << args;
    command(argv,
        [this, argv, source = script.source, callback = std::move(callback)](
            const Reply &reply) mutable {
            if (reply.isError() && reply.string.startsWith("NOSCRIPT")) {
                argv[0] = QByteArrayLiteral("EVAL");
                argv[1] = source;
                command(argv, std::move(callback));
                return;
            }
            callback(reply);
        });
}

bool Client::subscribe(const QByteArray &channel)
{
    if (m_listeners[channel]++ == 0)
        addChannel(channel);
    return isSubscribed(channel);
}

void Client::unsubscribe(const QByteArray &channel)
{
    auto it = m_listeners.find(channel);
    if (it == m_listeners.end())
        return;
    if (--*it == 0) {
        m_listeners.erase(it);
        removeChannel(channel);
    }
}

} // namespace DistributedPromiseRedis
