// SPDX-License-Identifier: MIT
#include "rediscluster_p.h"

#include "logging_p.h"

namespace DistributedPromiseRedis {

namespace {
// TRYAGAIN (a multi-key command while its slot is half migrated): wait this long before retrying.
constexpr std::chrono::milliseconds tryAgainDelay(20);
// While a master with replicas is down, the map is read this often, to find the promoted one.
constexpr std::chrono::milliseconds failoverPollInterval(100);
} // namespace

struct ClusterClient::Node
{
    Endpoint::Address address;
    std::unique_ptr<Connection> connection;
    std::unique_ptr<Subscriber> shards; // shard channels of this master's slots
    bool everConnected = false;
    bool foundLater = false; // not in the first map: a new master, e.g. a promoted replica
    bool serving = false; // owns at least one slot in the current map
    bool hasReplicas = false; // the current map lists a replica of it
    bool closed = false; // down and serving nothing: not reconnected until it serves again

    /*! Down after having been up: its commands fail at once. */
    bool isDown() const { return everConnected && !connection->isConnected(); }
};

ClusterClient::ClusterClient(const Endpoint &endpoint, const ConnectionOptions &options,
    const QList<QByteArray> &scripts, QObject *parent)
    : Client(endpoint, parent)
    , m_options(options)
    , m_scripts(scripts)
    , m_waiting(endpoint.displayName(), options.connectTimeout)
    , m_control(endpoint.server(endpoint.seeds.constFirst()), options)
    , m_slots(ClusterSlots::slotCount, nullptr)
    , m_refreshBackoff(options.reconnectMin)
{
    m_control.setScripts(scripts);
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &ClusterClient::refreshSlots);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &ClusterClient::runRetries);
    connect(&m_control, &Connection::disconnected, this, &ClusterClient::moveControl);
}

ClusterClient::~ClusterClient()
{
    m_destroying = true;
    failRetries(
        DistributedPromiseError::Cancelled, QStringLiteral("the Redis client was destroyed"));
    // The nodes' pending commands fail now; their callbacks see m_destroying.
    m_byAddress.clear();
    m_nodes.clear();
    failWaiting(QStringLiteral("the Redis client was destroyed"));
}

void ClusterClient::open()
{
    m_control.open();
    for (const auto &node : m_nodes) {
        node->closed = false;
        node->connection->open();
        if (node->shards)
            node->shards->open();
    }
    refreshSlots();
}

void ClusterClient::close()
{
    m_refreshTimer.stop();
    for (const auto &node : m_nodes) {
        node->connection->close();
        if (node->shards)
            node->shards->close();
    }
    m_control.close();
    failWaiting(QStringLiteral("the connection was closed"));
    failRetries(DistributedPromiseError::Cancelled, QStringLiteral("the connection was closed"));
}

bool ClusterClient::isConnected() const
{
    if (!m_ready)
        return false;
    for (const auto &node : m_nodes) {
        if (node->serving && !node->connection->isConnected())
            return false;
    }
    return true;
}

bool ClusterClient::isReadyFor(const QByteArray &key) const
{
    if (!m_ready)
        return false;
    const Node *node = m_slots[size_t(ClusterSlots::slotOf(key))];
    return node && node->connection->isConnected();
}

QString ClusterClient::nodeFor(int slot) const
{
    const Node *node
        = slot >= 0 && slot < ClusterSlots::slotCount ? m_slots[size_t(slot)] : nullptr;
    return node ? node->address.toString() : QString();
}

void ClusterClient::command(const QList<QByteArray> &args, Callback callback)
{
    if (!m_ready) {
        m_waiting.hold({ args, std::move(callback), 0 });
        return;
    }
    Request request;
    request.args = args;
    request.callback = std::move(callback);
    route(std::move(request));
}

ClusterClient::Node *ClusterClient::node(const Endpoint::Address &address)
{
    const QString name = address.toString();
    if (Node *known = m_byAddress.value(name))
        return known;
    auto owned = std::make_unique<Node>();
    Node *node = owned.get();
    node->address = address;
    node->foundLater = m_ready;
    node->connection = std::make_unique<Connection>(endpoint().server(address), m_options);
    node->connection->setScripts(m_scripts);
    connect(node->connection.get(), &Connection::connected, this, [this, node] {
        // The first connect of a node is part of reading the map; later ones are reconnects,
        // after which waiters re-check what they missed. So is the first connect of a master
        // found later (a replica promoted when its master died): the client is whole again.
        if (std::exchange(node->everConnected, true) || node->foundLater)
            Q_EMIT connected();
    });
    connect(node->connection.get(), &Connection::disconnected, this, [this](const QString &why) {
        Q_EMIT disconnected(why);
        refreshSlots(); // the node may have failed over, or lost its slots
    });
    m_byAddress.insert(name, node);
    m_nodes.push_back(std::move(owned));
    node->connection->open();
    return node;
}

void ClusterClient::route(Request request)
{
    const QByteArray key = ClusterSlots::routingKey(request.args);
    Node *target = nullptr;
    if (!key.isNull()) {
        target = m_slots[size_t(ClusterSlots::slotOf(key))];
    } else {
        for (const auto &node : m_nodes) {
            if (node->serving) {
                target = node.get();
                break;
            }
        }
    }
    if (target && target->isDown() && target->hasReplicas) {
        // Its replica will take over: hold the command (up to the command timeout) and read
        // the map until it shows the promoted one, instead of failing it now.
        refreshSlots();
        retryLater(std::move(request), QByteArrayLiteral("the master serving the slot is down"));
        return;
    }
    if (target) {
        send(target, std::move(request), false);
        return;
    }
    // No node serves the slot in the map we have; a fresh map may know one.
    refreshSlots();
    retryLater(std::move(request), QByteArrayLiteral("no node serves the slot"));
}

void ClusterClient::send(Node *target, Request request, bool asking)
{
    if (asking)
        target->connection->command({ QByteArrayLiteral("ASKING") }, [](const Reply &) {});
    const QList<QByteArray> args = request.args;
    target->connection->command(
        args, [this, request = std::move(request)](const Reply &reply) mutable {
            onReply(request, reply);
        });
}

void ClusterClient::onReply(Request &request, const Reply &reply)
{
    if (m_destroying || !reply.isAnyError()) {
        request.callback(reply);
        return;
    }
    if (reply.isFailure()) {
        refreshSlots();
        request.callback(reply);
        return;
    }
    const QByteArray &text = reply.string;
    if (ClusterSlots::isRedirection(text)) {
        onRedirection(request, reply);
        return;
    }
    if (text.startsWith("TRYAGAIN")) {
        retryLater(std::move(request), text);
        return;
    }
    if (text.startsWith("CLUSTERDOWN")) {
        // The cluster cannot serve the slot now: the same as Redis being unreachable.
        refreshSlots();
        fail(request, QString::fromUtf8(text));
        return;
    }
    request.callback(reply);
}

void ClusterClient::onRedirection(Request &request, const Reply &reply)
{
    ClusterSlots::Redirection redirection;
    if (!ClusterSlots::parseRedirection(reply.string, m_control.endpoint().host, &redirection)) {
        request.callback(reply);
        return;
    }
    if (++request.redirections > maxRedirections) {
        fail(request,
            QStringLiteral("too many redirections (the last: %1)")
                .arg(QString::fromUtf8(reply.string)));
        return;
    }
    Node *to = node(redirection.address);
    qCDebug(lcDistributedPromise).noquote()
        << "cluster:" << QString::fromUtf8(reply.string) << "for"
        << QString::fromUtf8(request.args.constFirst());
    if (!redirection.ask) {
        m_slots[size_t(redirection.slot)] = to;
        to->serving = true;
        placeChannels();
        refreshSlots();
    }
    send(to, std::move(request), redirection.ask);
}

void ClusterClient::retryLater(Request request, const QByteArray &why)
{
    if (!request.retrying) {
        request.retrying = true;
        const auto timeout = m_options.commandTimeout.count() > 0
            ? m_options.commandTimeout
            : std::chrono::milliseconds(ConnectionOptions().commandTimeout);
        request.retryUntil = QDeadlineTimer(timeout);
    } else if (request.retryUntil.hasExpired()) {
        fail(request, QStringLiteral("gave up retrying: %1").arg(QString::fromUtf8(why)));
        return;
    }
    request.redirections = 0;
    m_retries.push_back(std::move(request));
    if (!m_retryTimer.isActive())
        m_retryTimer.start(tryAgainDelay);
}

void ClusterClient::runRetries()
{
    for (Request &retry : std::exchange(m_retries, {}))
        route(std::move(retry));
}

void ClusterClient::failRetries(DistributedPromiseError::Code code, const QString &why)
{
    const Reply failure
        = Reply::failure(code, QStringLiteral("Redis at %1: %2").arg(displayName(), why));
    for (Request &retry : std::exchange(m_retries, {}))
        retry.callback(failure);
}

void ClusterClient::fail(Request &request, const QString &why)
{
    request.callback(Reply::failure(DistributedPromiseError::ConnectionFailed,
        QStringLiteral("Redis at %1: %2 (key '%3')")
            .arg(displayName(), why, QString::fromUtf8(ClusterSlots::routingKey(request.args)))));
}

void ClusterClient::refreshSlots()
{
    if (m_destroying)
        return;
    if (m_refreshing) {
        m_refreshAgain = true;
        return;
    }
    m_refreshing = true;
    m_refreshTimer.stop();
    m_control.command(
        { QByteArrayLiteral("CLUSTER"), QByteArrayLiteral("SLOTS") }, [this](const Reply &reply) {
            if (m_destroying)
                return;
            m_refreshing = false;
            onSlots(reply);
        });
}

void ClusterClient::onSlots(const Reply &reply)
{
    QList<ClusterSlots::SlotRange> ranges;
    if (!ClusterSlots::parseSlots(reply, m_control.endpoint().host, &ranges)) {
        const QString why = reply.isAnyError() ? QString::fromUtf8(reply.string)
                                               : QStringLiteral("an empty or unreadable slot map");
        qCDebug(lcDistributedPromise).noquote()
            << "CLUSTER SLOTS from" << m_control.endpoint().displayName() << "failed:" << why;
        if (reply.isError())
            moveControl(); // e.g. "ERR This instance has cluster support disabled"
        m_refreshTimer.start(m_refreshBackoff);
        m_refreshBackoff = std::min(m_refreshBackoff * 2, m_options.reconnectMax);
        return;
    }
    std::vector<Node *> slots(ClusterSlots::slotCount, nullptr);
    for (const ClusterSlots::SlotRange &range : std::as_const(ranges))
        std::fill(slots.begin() + range.first, slots.begin() + range.last + 1, node(range.master));
    m_refreshBackoff = m_options.reconnectMin;
    for (const auto &node : m_nodes) {
        node->serving = false;
        node->hasReplicas = false;
    }
    for (Node *node : slots) {
        if (node)
            node->serving = true;
    }
    for (const ClusterSlots::SlotRange &range : std::as_const(ranges)) {
        if (range.hasReplicas)
            slots[size_t(range.first)]->hasReplicas = true;
    }
    m_slots.swap(slots);
    bool failingOver = false;
    for (const auto &node : m_nodes) {
        failingOver = failingOver || (node->serving && node->hasReplicas && node->isDown());
        // A dead master replaced by its replica: stop reconnecting to it (every failed attempt
        // would report the client disconnected), until a map gives it slots again.
        if (!node->serving && node->isDown() && !node->closed) {
            node->closed = true;
            node->connection->close();
            if (node->shards)
                node->shards->close();
        } else if (node->serving && std::exchange(node->closed, false)) {
            node->connection->open();
            if (node->shards)
                node->shards->open();
        }
    }
    if (failingOver)
        m_refreshTimer.start(failoverPollInterval);
    if (!m_ready) {
        m_ready = true;
        for (const HeldCommands::Held &held : m_waiting.release())
            command(held.args, held.callback);
        Q_EMIT connected();
    }
    placeChannels();
    if (std::exchange(m_refreshAgain, false))
        refreshSlots();
}

QList<Endpoint::Address> ClusterClient::knownAddresses() const
{
    QList<Endpoint::Address> addresses = endpoint().seeds;
    for (const auto &node : m_nodes) {
        if (!addresses.contains(node->address))
            addresses.append(node->address);
    }
    return addresses;
}

void ClusterClient::moveControl()
{
    // The map is read from any node; try the next one we know.
    const QList<Endpoint::Address> addresses = knownAddresses();
    m_nextAddress = (m_nextAddress + 1) % int(addresses.size());
    m_control.retarget(endpoint().server(addresses.at(m_nextAddress)));
}

Subscriber *ClusterClient::shardsOf(Node *node)
{
    if (node->shards)
        return node->shards.get();
    node->shards = std::make_unique<Subscriber>(
        endpoint().server(node->address), m_options, Subscriber::Channels::Shard);
    Subscriber *shards = node->shards.get();
    connect(shards, &Subscriber::message, this, &Client::message);
    connect(shards, &Subscriber::subscribed, this, &Client::subscribed);
    connect(shards, &Subscriber::subscriptionLost, this, [this](const QByteArray &channel) {
        // Its slot moved away: subscribe again wherever the fresh map puts it.
        const auto it = m_channels.find(channel);
        if (it == m_channels.end())
            return;
        *it = nullptr;
        refreshSlots();
    });
    shards->open();
    return shards;
}

void ClusterClient::addChannel(const QByteArray &channel)
{
    m_channels.insert(channel, nullptr);
    placeChannel(channel);
}

void ClusterClient::removeChannel(const QByteArray &channel)
{
    if (Node *node = m_channels.take(channel))
        node->shards->unsubscribe(channel);
}

bool ClusterClient::isSubscribed(const QByteArray &channel) const
{
    const Node *node = m_channels.value(channel);
    return node && node->shards->isSubscribed(channel);
}

void ClusterClient::placeChannel(const QByteArray &channel)
{
    const auto it = m_channels.find(channel);
    if (it == m_channels.end())
        return;
    Node *owner = m_ready ? m_slots[size_t(ClusterSlots::slotOf(channel))] : nullptr;
    if (!owner || owner == *it)
        return;
    if (Node *previous = *it)
        previous->shards->unsubscribe(channel);
    *it = owner;
    shardsOf(owner)->subscribe(channel);
}

void ClusterClient::placeChannels()
{
    const QList<QByteArray> channels = m_channels.keys();
    for (const QByteArray &channel : channels)
        placeChannel(channel);
}

void ClusterClient::failWaiting(const QString &reason)
{
    m_waiting.fail(m_destroying ? DistributedPromiseError::Cancelled
                                : DistributedPromiseError::ConnectionFailed,
        reason);
}

void ClusterClient::flush(std::chrono::milliseconds timeout)
{
    const QDeadlineTimer deadline(timeout);
    for (const auto &node : m_nodes)
        node->connection->flush(std::chrono::milliseconds(deadline.remainingTime()));
}

} // namespace DistributedPromiseRedis
