// SPDX-License-Identifier: MIT
#include "redisclient_p.h"

#include "rediscluster_p.h"
#include "redissentinelclient_p.h"
#include "redisserverclient_p.h"

#include <QtCore/QCryptographicHash>

namespace DistributedPromiseRedis {

namespace {
// EVALSHA's key count; the usual few without an allocation each.
QByteArray keyCount(qsizetype count)
{
    static const QByteArray small[] = { QByteArrayLiteral("0"), QByteArrayLiteral("1"),
        QByteArrayLiteral("2"), QByteArrayLiteral("3"), QByteArrayLiteral("4") };
    return count < qsizetype(std::size(small)) ? small[count] : QByteArray::number(count);
}
} // namespace

Script::Script(const QByteArray &text)
    : source(text)
    , sha1(QCryptographicHash::hash(text, QCryptographicHash::Sha1).toHex())
{ }

std::unique_ptr<Client> Client::create(
    const Endpoint &endpoint, const ConnectionOptions &options, const QList<QByteArray> &scripts)
{
    switch (endpoint.topology) {
    case Endpoint::Topology::Cluster:
        return std::make_unique<ClusterClient>(endpoint, options, scripts);
    case Endpoint::Topology::Sentinel:
        return std::make_unique<SentinelClient>(endpoint, options, scripts);
    case Endpoint::Topology::Server:
        break;
    }
    return std::make_unique<ServerClient>(endpoint, options, scripts);
}

Client::Client(const Endpoint &endpoint, QObject *parent)
    : QObject(parent)
    , m_endpoint(endpoint)
{ }

Client::~Client() = default;

QFuture<Reply> Client::command(const QList<QByteArray> &args)
{
    return replyFuture([&](Callback callback) { command(args, std::move(callback)); });
}

void Client::eval(const Script &script, const QList<QByteArray> &keys,
    const QList<QByteArray> &args, Callback callback)
{
    QList<QByteArray> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv << QByteArrayLiteral("EVALSHA") << script.sha1 << keyCount(keys.size());
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

HeldCommands::HeldCommands(const QString &where, std::chrono::milliseconds timeout)
    : m_where(where)
    , m_timeout(timeout)
{
    m_timer.setSingleShot(true);
    QObject::connect(&m_timer, &QTimer::timeout, [this] {
        fail(DistributedPromiseError::ConnectionFailed,
            QStringLiteral("no server found within %1 ms").arg(m_timeout.count()));
    });
}

void HeldCommands::hold(Held held)
{
    m_held.append(std::move(held));
    if (!m_timer.isActive())
        m_timer.start(m_timeout);
}

QList<HeldCommands::Held> HeldCommands::release()
{
    m_timer.stop();
    return std::exchange(m_held, {});
}

void HeldCommands::fail(DistributedPromiseError::Code code, const QString &reason)
{
    const QList<Held> held = release();
    const Reply failure
        = Reply::failure(code, QStringLiteral("Redis at %1: %2").arg(m_where, reason));
    for (const Held &command : held)
        command.callback(failure);
}

} // namespace DistributedPromiseRedis
