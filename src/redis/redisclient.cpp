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
    , m_commands(firstServer(endpoint), Connection::Mode::Commands, options)
    , m_subscriber(firstServer(endpoint), Connection::Mode::Subscriber, options)
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
    connect(m_sentinel.get(), &SentinelWatcher::failed, this, &Client::failWaiting);
    // A lost master may have failed over: ask again (the connection keeps retrying meanwhile).
    connect(&m_commands, &Connection::disconnected, m_sentinel.get(), &SentinelWatcher::ask);
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
    // A master demoted by a failover answers writes with READONLY (until Sentinel disconnects
    // its clients): treat it as the connection being lost, and look for the new master.
    m_commands.command(args, [this, callback = std::move(callback)](const Reply &reply) {
        if (reply.isError() && reply.string.startsWith("READONLY") && !m_destroying) {
            m_sentinel->ask();
            callback(Reply::failure(DistributedPromiseError::ConnectionFailed,
                QStringLiteral("Redis at %1 is a replica now (%2)")
                    .arg(m_commands.endpoint().displayName(), QString::fromUtf8(reply.string))));
            return;
        }
        callback(reply);
    });
}

QFuture<Reply> Client::command(const QList<QByteArray> &args)
{
    return replyFuture([&](Callback callback) { command(args, std::move(callback)); });
}

void Client::onMasterFound(const Endpoint::Address &address)
{
    const Endpoint server = m_endpoint.server(address);
    if (m_ready && m_commands.endpoint().host == server.host
        && m_commands.endpoint().port == server.port)
        return;
    if (m_ready)
        qCInfo(lcDistributedPromise).noquote()
            << "Sentinel: master" << m_endpoint.masterName << "moved from"
            << m_commands.endpoint().displayName() << "to" << address.toString();
    else
        qCDebug(lcDistributedPromise).noquote()
            << "Sentinel: master" << m_endpoint.masterName << "is at" << address.toString();
    m_commands.retarget(server);
    m_subscriber.retarget(server);
    if (m_ready)
        return;
    m_commands.open();
    if (!m_listeners.isEmpty())
        m_subscriber.open();
    setReady();
}

void Client::setReady()
{
    m_ready = true;
    m_waitTimer.stop();
    const auto waiting = std::exchange(m_waiting, {});
    for (const auto &[args, callback] : waiting)
        command(args, callback);
}

bool Client::waitForReady(const QList<QByteArray> &args, Callback &callback)
{
    if (m_ready)
        return false;
    m_waiting.append({ args, std::move(callback) });
    if (!m_waitTimer.isActive())
        m_waitTimer.start(m_options.connectTimeout);
    return true;
}

void Client::failWaiting(const QString &reason)
{
    m_waitTimer.stop();
    const auto waiting = std::exchange(m_waiting, {});
    const Reply failure = Reply::failure(m_destroying ? DistributedPromiseError::Cancelled
                                                      : DistributedPromiseError::ConnectionFailed,
        QStringLiteral("Redis at %1: %2").arg(displayName(), reason));
    for (const auto &[args, callback] : waiting)
        callback(failure);
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
