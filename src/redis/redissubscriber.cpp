// SPDX-License-Identifier: MIT
#include "redissubscriber_p.h"

#include "logging_p.h"

#include <QtCore/QPointer>

namespace DistributedPromiseRedis {

namespace {
// Channels do not belong to a database: a subscriber connection sends no SELECT.
Endpoint pubSubEndpoint(Endpoint endpoint)
{
    endpoint.db = 0;
    return endpoint;
}

ConnectionOptions pubSubOptions(ConnectionOptions options)
{
    if (!options.clientName.isEmpty())
        options.clientName += ":subscriber";
    return options;
}

// The pub/sub kinds a subscriber connection receives unasked (RESP2 arrays).
bool isPubSubPush(const Reply &reply)
{
    if (!reply.isArray() || reply.elements.size() < 3 || !reply.elements.at(0).isString())
        return false;
    static const QByteArrayList kinds { "message", "smessage", "subscribe", "ssubscribe",
        "unsubscribe", "sunsubscribe", "pmessage", "psubscribe", "punsubscribe" };
    return kinds.contains(reply.elements.at(0).string);
}

bool isSubscribeKind(const QByteArray &kind) { return kind == "subscribe" || kind == "ssubscribe"; }

bool isUnsubscribeKind(const QByteArray &kind)
{
    return kind == "unsubscribe" || kind == "sunsubscribe";
}
} // namespace

Subscriber::Subscriber(
    const Endpoint &endpoint, const ConnectionOptions &options, Channels channels, QObject *parent)
    : QObject(parent)
    , m_kind(channels)
    , m_resubscribeBackoff(options.reconnectMin)
    , m_connection(pubSubEndpoint(endpoint), pubSubOptions(options))
{
    m_connection.setRole(QStringLiteral("subscriber connection"));
    m_connection.setPushReader(this);
    m_resubscribeTimer.setSingleShot(true);
    m_heartbeatTimer.setInterval(heartbeatInterval(options));
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &Subscriber::sendHeartbeat);
    connect(&m_resubscribeTimer, &QTimer::timeout, this, &Subscriber::resubscribe);
    connect(&m_connection, &Connection::attached, this, &Subscriber::onAttached);
    connect(&m_connection, &Connection::connected, this, &Subscriber::onConnected);
    connect(&m_connection, &Connection::disconnected, this, &Subscriber::onDisconnected);
}

Subscriber::~Subscriber() = default;

void Subscriber::retarget(const Endpoint &endpoint)
{
    m_connection.retarget(pubSubEndpoint(endpoint));
}

std::chrono::milliseconds Subscriber::heartbeatInterval(const ConnectionOptions &options)
{
    if (options.commandTimeout.count() <= 0)
        return std::chrono::milliseconds(0);
    return std::clamp(
        options.commandTimeout / 2, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
}

void Subscriber::subscribe(const QByteArray &channel)
{
    ChannelState &state = m_channels[channel];
    if (state.wanted)
        return;
    state.wanted = true;
    if (m_connection.isAttached())
        sendSubscription(true, { channel });
}

void Subscriber::unsubscribe(const QByteArray &channel)
{
    auto it = m_channels.find(channel);
    if (it == m_channels.end() || !it->wanted)
        return;
    it->wanted = false;
    it->confirmed = false;
    if (m_connection.isAttached())
        sendSubscription(false, { channel });
    if (it->opsInFlight == 0)
        m_channels.erase(it);
}

bool Subscriber::isSubscribed(const QByteArray &channel) const
{
    const auto it = m_channels.constFind(channel);
    return it != m_channels.cend() && it->confirmed;
}

bool Subscriber::hasChannels() const
{
    return std::any_of(m_channels.cbegin(), m_channels.cend(),
        [](const ChannelState &state) { return state.wanted; });
}

void Subscriber::onAttached()
{
    // A new connection: every channel wanted is subscribed again, right behind the handshake.
    QList<QByteArray> wanted;
    for (auto it = m_channels.begin(); it != m_channels.end();) {
        if (!it->wanted) {
            it = m_channels.erase(it);
            continue;
        }
        it->confirmed = false;
        it->opsInFlight = 0;
        wanted.append(it.key());
        ++it;
    }
    if (!wanted.isEmpty())
        sendSubscription(true, wanted);
}

void Subscriber::onConnected()
{
    m_resubscribeBackoff = m_connection.options().reconnectMin;
    if (m_heartbeatTimer.interval() > 0) {
        m_heartbeatInFlight = false;
        m_heartbeatTimer.start();
    }
}

void Subscriber::onDisconnected()
{
    m_heartbeatTimer.stop();
    m_resubscribeTimer.stop(); // the next connection subscribes everything wanted
    for (ChannelState &channel : m_channels) {
        channel.confirmed = false;
        channel.opsInFlight = 0;
    }
}

void Subscriber::sendSubscription(bool subscribe, const QList<QByteArray> &channels)
{
    QList<QByteArray> args;
    args.reserve(channels.size() + 1);
    if (m_kind == Channels::Shard)
        args.append(
            subscribe ? QByteArrayLiteral("SSUBSCRIBE") : QByteArrayLiteral("SUNSUBSCRIBE"));
    else
        args.append(subscribe ? QByteArrayLiteral("SUBSCRIBE") : QByteArrayLiteral("UNSUBSCRIBE"));
    args.append(channels);
    // In flight like any command: answered (by one confirmation per channel, or one error) in
    // order with the others, and a dead connection when unanswered for too long.
    const auto refused = [this, subscribe, channels](const Reply &reply) {
        if (reply.isError())
            handleRefusal(subscribe, channels, reply);
    };
    if (!m_connection.sendNow(
            args, refused, int(channels.size()), subscribe ? SubscribeTag : UnsubscribeTag))
        return; // the context is failing; its loss re-subscribes everything wanted
    for (const QByteArray &channel : channels)
        ++m_channels[channel].opsInFlight;
}

void Subscriber::handleRefusal(
    bool subscribe, const QList<QByteArray> &channels, const Reply &reply)
{
    const bool transient = !transientCondition(reply.string).isEmpty();
    QList<QByteArray> refused;
    for (const QByteArray &channel : channels) {
        auto it = m_channels.find(channel);
        if (it == m_channels.end())
            continue;
        it->opsInFlight = std::max(0, it->opsInFlight - 1);
        if (it->opsInFlight > 0)
            continue;
        if (!it->wanted)
            m_channels.erase(it);
        else if (subscribe && !it->confirmed)
            refused.append(channel);
    }
    const QString error = QString::fromUtf8(reply.string);
    const ConnectionOptions &options = m_connection.options();
    const QString where = m_connection.endpoint().displayName();
    if (transient) {
        if (m_resubscribeBackoff == options.reconnectMin) // the first of a row
            qCInfo(lcDistributedPromise).noquote()
                << "Redis at" << where << "cannot (un)subscribe now, retrying:" << error;
        if (subscribe && !m_resubscribeTimer.isActive()) {
            m_resubscribeTimer.start(m_resubscribeBackoff);
            m_resubscribeBackoff = std::min(m_resubscribeBackoff * 2, options.reconnectMax);
        }
        return;
    }
    qCWarning(lcDistributedPromise).noquote()
        << "Redis at" << where << "refused" << (subscribe ? "to subscribe" : "to unsubscribe")
        << QString::fromUtf8(channels.constFirst())
        << (channels.size() > 1 ? QStringLiteral("and %1 more channels").arg(channels.size() - 1)
                                : QString())
        << "-" << error;
    QPointer<Subscriber> alive(this);
    for (const QByteArray &channel : std::as_const(refused)) {
        Q_EMIT subscriptionRefused(channel, error);
        if (!alive)
            return;
    }
}

void Subscriber::resubscribe()
{
    if (!m_connection.isConnected())
        return;
    QList<QByteArray> channels;
    for (auto it = m_channels.cbegin(); it != m_channels.cend(); ++it) {
        if (it->wanted && !it->confirmed && it->opsInFlight == 0)
            channels.append(it.key());
    }
    if (!channels.isEmpty())
        sendSubscription(true, channels);
}

void Subscriber::sendHeartbeat()
{
    // Without channels there is nothing to lose: the next SUBSCRIBE has its own deadline.
    if (!m_connection.isConnected() || m_heartbeatInFlight || m_channels.isEmpty())
        return;
    // Any answer will do, even an error (a BUSY server is alive): only silence counts.
    m_heartbeatInFlight = m_connection.sendNow(
        { QByteArrayLiteral("PING") },
        [this](const Reply &reply) {
            if (!reply.isFailure())
                m_heartbeatInFlight = false;
        },
        1, PlainTag);
}

bool Subscriber::isPush(const Reply &reply, quint8 oldestTag, bool *answers) const
{
    if (!isPubSubPush(reply))
        return false;
    // A confirmation of the oldest (un)subscribe in flight: the same kind, for a channel with an
    // operation in flight (an unasked sunsubscribe has none).
    const QByteArray &kind = reply.elements.at(0).string;
    if ((isSubscribeKind(kind) && oldestTag == SubscribeTag)
        || (isUnsubscribeKind(kind) && oldestTag == UnsubscribeTag)) {
        const auto it = m_channels.constFind(reply.elements.at(1).string);
        *answers = it != m_channels.cend() && it->opsInFlight > 0;
    }
    return true;
}

void Subscriber::onPush(const Reply &reply)
{
    const QByteArray &kind = reply.elements.at(0).string;
    const QByteArray &channel = reply.elements.at(1).string;
    if (kind == "message" || kind == "smessage") {
        const auto it = m_channels.constFind(channel);
        if (it != m_channels.cend() && it->wanted)
            Q_EMIT message(channel, reply.elements.at(2).string);
        return;
    }
    const bool isSubscribe = isSubscribeKind(kind);
    if (!isSubscribe && !isUnsubscribeKind(kind))
        return;
    auto it = m_channels.find(channel);
    if (it == m_channels.end())
        return;
    if (!isSubscribe && it->opsInFlight == 0 && it->wanted) {
        // Not asked for: the server dropped a shard channel whose slot moved away.
        m_channels.erase(it);
        Q_EMIT subscriptionLost(channel);
        return;
    }
    it->opsInFlight = std::max(0, it->opsInFlight - 1);
    if (it->opsInFlight > 0)
        return;
    if (!it->wanted) {
        m_channels.erase(it);
        return;
    }
    if (isSubscribe && !it->confirmed) {
        it->confirmed = true;
        m_resubscribeBackoff = m_connection.options().reconnectMin;
        Q_EMIT subscribed(channel);
    }
}

} // namespace DistributedPromiseRedis
