// SPDX-License-Identifier: MIT
#include "rediscluster_p.h"

#include "logging_p.h"

#include <array>

namespace DistributedPromiseRedis {

namespace {
// TRYAGAIN (a multi-key command while its slot is half migrated): wait this long before retrying.
constexpr std::chrono::milliseconds tryAgainDelay(20);
// While a master with replicas is down, the map is read this often, to find the promoted one.
constexpr std::chrono::milliseconds failoverPollInterval(100);

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster uses it.
constexpr std::array<quint16, 256> makeCrc16Table()
{
    std::array<quint16, 256> table {};
    for (int byte = 0; byte < 256; ++byte) {
        quint16 crc = quint16(byte << 8);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000) ? quint16((crc << 1) ^ 0x1021) : quint16(crc << 1);
        table[size_t(byte)] = crc;
    }
    return table;
}
constexpr std::array<quint16, 256> crc16Table = makeCrc16Table();

quint16 crc16(const char *data, qsizetype size)
{
    quint16 crc = 0;
    for (qsizetype i = 0; i < size; ++i)
        crc = quint16((crc << 8) ^ crc16Table[((crc >> 8) ^ quint8(data[i])) & 0xff]);
    return crc;
}

// The key a command is routed by: the first key of EVAL/EVALSHA, else the first argument.
// A null result means the command has no key (any node may run it).
QByteArray routingKey(const QList<QByteArray> &args)
{
    if (args.size() < 2)
        return {};
    const QByteArray &name = args.constFirst();
    if (name.compare("EVALSHA", Qt::CaseInsensitive) == 0
        || name.compare("EVAL", Qt::CaseInsensitive) == 0) {
        if (args.size() < 4 || args.at(2) == "0")
            return {};
        return args.at(3);
    }
    return args.at(1);
}

// "host:port" from MOVED/ASK (the host may be an IPv6 address, or empty for "the same host").
bool parseNodeAddress(const QByteArray &text, const QString &sameHost, Endpoint::Address *address)
{
    const qsizetype colon = text.lastIndexOf(':');
    if (colon < 0)
        return false;
    bool ok = false;
    const uint port = text.mid(colon + 1).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return false;
    address->host = colon == 0 ? sameHost : QString::fromUtf8(text.left(colon));
    address->port = quint16(port);
    return true;
}
} // namespace

struct ClusterClient::Node
{
    Endpoint::Address address;
    std::unique_ptr<Connection> connection;
    std::unique_ptr<Connection> shards; // shard channels of this master's slots
    bool everConnected = false;
    bool foundLater = false; // not in the first map: a new master, e.g. a promoted replica
    bool serving = false; // owns at least one slot in the current map
    bool hasReplicas = false; // the current map lists a replica of it
    bool closed = false; // down and serving nothing: not reconnected until it serves again

    /*! Down after having been up: its commands fail at once. */
    bool isDown() const { return everConnected && !connection->isConnected(); }
};

ClusterClient::ClusterClient(
    const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent)
    : Client(endpoint, options, parent)
    , m_slots(slotCount, nullptr)
    , m_refreshBackoff(options.reconnectMin)
{
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &ClusterClient::refreshSlots);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &ClusterClient::runRetries);
    connect(&commands(), &Connection::disconnected, this, &ClusterClient::moveControl);
}

ClusterClient::~ClusterClient()
{
    m_destroying = true;
    failRetries(
        DistributedPromiseError::Cancelled, QStringLiteral("the Redis client was destroyed"));
    // The nodes' pending commands fail now; their callbacks see m_destroying.
    m_byAddress.clear();
    m_nodes.clear();
}

void ClusterClient::open()
{
    commands().open(); // the inherited subscriber stays closed: shard channels go per node
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
    Client::close();
    failRetries(DistributedPromiseError::Cancelled, QStringLiteral("the connection was closed"));
}

bool ClusterClient::isConnected() const
{
    if (!isReady())
        return false;
    for (const auto &node : m_nodes) {
        if (node->serving && !node->connection->isConnected())
            return false;
    }
    return true;
}

bool ClusterClient::isReadyFor(const QByteArray &key) const
{
    if (!isReady())
        return false;
    const Node *node = m_slots[size_t(slotOf(key))];
    return node && node->connection->isConnected();
}

int ClusterClient::slotOf(const QByteArray &key)
{
    // Only the part between the first '{' and the next '}' counts, when it is not empty.
    const qsizetype open = key.indexOf('{');
    if (open >= 0) {
        const qsizetype close = key.indexOf('}', open + 1);
        if (close > open + 1)
            return crc16(key.constData() + open + 1, close - open - 1) & (slotCount - 1);
    }
    return crc16(key.constData(), key.size()) & (slotCount - 1);
}

QString ClusterClient::nodeFor(int slot) const
{
    const Node *node = slot >= 0 && slot < slotCount ? m_slots[size_t(slot)] : nullptr;
    return node ? node->address.toString() : QString();
}

void ClusterClient::command(const QList<QByteArray> &args, Callback callback)
{
    if (waitForReady(args, callback))
        return;
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
    node->foundLater = isReady();
    node->connection = std::make_unique<Connection>(
        endpoint().server(address), Connection::Mode::Commands, options());
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
    const QByteArray key = routingKey(request.args);
    Node *target = nullptr;
    if (!key.isNull()) {
        target = m_slots[size_t(slotOf(key))];
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
    const bool moved = text.startsWith("MOVED ");
    const bool ask = text.startsWith("ASK ");
    if (moved || ask) {
        // "MOVED <slot> <host>:<port>" / "ASK <slot> <host>:<port>"
        const QByteArrayList parts = text.split(' ');
        bool ok = false;
        const int slot = parts.value(1).toInt(&ok);
        Endpoint::Address address;
        if (parts.size() != 3 || !ok || slot < 0 || slot >= slotCount
            || !parseNodeAddress(parts.at(2), commands().endpoint().host, &address)) {
            request.callback(reply);
            return;
        }
        if (++request.redirections > maxRedirections) {
            fail(request,
                QStringLiteral("too many redirections (the last: %1)")
                    .arg(QString::fromUtf8(text)));
            return;
        }
        Node *to = node(address);
        qCDebug(lcDistributedPromise).noquote() << "cluster:" << QString::fromUtf8(text) << "for"
                                                << QString::fromUtf8(request.args.constFirst());
        if (moved) {
            m_slots[size_t(slot)] = to;
            to->serving = true;
            placeChannels();
            refreshSlots();
        }
        send(to, std::move(request), ask);
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

void ClusterClient::retryLater(Request request, const QByteArray &why)
{
    if (!request.retrying) {
        request.retrying = true;
        const auto timeout = options().commandTimeout.count() > 0
            ? options().commandTimeout
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
            .arg(displayName(), why, QString::fromUtf8(routingKey(request.args)))));
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
    commands().command(
        { QByteArrayLiteral("CLUSTER"), QByteArrayLiteral("SLOTS") }, [this](const Reply &reply) {
            if (m_destroying)
                return;
            m_refreshing = false;
            onSlots(reply);
        });
}

void ClusterClient::onSlots(const Reply &reply)
{
    // [[start, end, [host, port, id, ...], replica...], ...]
    std::vector<Node *> slots(slotCount, nullptr);
    bool valid = reply.isArray() && !reply.elements.isEmpty();
    for (const Reply &range : reply.elements) {
        if (!valid)
            break;
        const Reply master = range.elements.value(2);
        const qint64 first = range.elements.value(0).integer;
        const qint64 last = range.elements.value(1).integer;
        Endpoint::Address address { QString::fromUtf8(master.elements.value(0).string),
            quint16(master.elements.value(1).integer) };
        if (address.host.isEmpty() || address.host == QLatin1String("?"))
            address.host = commands().endpoint().host;
        valid = range.isArray() && master.isArray() && first >= 0 && last < slotCount
            && first <= last && address.port != 0;
        if (valid)
            std::fill(slots.begin() + first, slots.begin() + last + 1, node(address));
    }
    if (!valid) {
        const QString why = reply.isAnyError() ? QString::fromUtf8(reply.string)
                                               : QStringLiteral("an empty or unreadable slot map");
        qCDebug(lcDistributedPromise).noquote()
            << "CLUSTER SLOTS from" << commands().endpoint().displayName() << "failed:" << why;
        if (reply.isError())
            moveControl(); // e.g. "ERR This instance has cluster support disabled"
        m_refreshTimer.start(m_refreshBackoff);
        m_refreshBackoff = std::min(m_refreshBackoff * 2, options().reconnectMax);
        return;
    }
    m_refreshBackoff = options().reconnectMin;
    for (const auto &node : m_nodes) {
        node->serving = false;
        node->hasReplicas = false;
    }
    for (Node *node : slots) {
        if (node)
            node->serving = true;
    }
    for (const Reply &range : reply.elements) {
        if (range.elements.size() > 3)
            slots[size_t(range.elements.at(0).integer)]->hasReplicas = true;
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
    if (!isReady()) {
        setReady();
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
    commands().retarget(endpoint().server(addresses.at(m_nextAddress)));
}

Connection *ClusterClient::shardsOf(Node *node)
{
    if (node->shards)
        return node->shards.get();
    ConnectionOptions shardOptions = options();
    shardOptions.shardChannels = true;
    shardOptions.scripts.clear();
    node->shards = std::make_unique<Connection>(
        endpoint().server(node->address), Connection::Mode::Subscriber, shardOptions);
    Connection *shards = node->shards.get();
    connect(shards, &Connection::message, this, &Client::message);
    connect(shards, &Connection::subscribed, this, &Client::subscribed);
    connect(shards, &Connection::subscriptionLost, this, [this](const QByteArray &channel) {
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
    Node *owner = isReady() ? m_slots[size_t(slotOf(channel))] : nullptr;
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

void ClusterClient::flush(std::chrono::milliseconds timeout)
{
    const QDeadlineTimer deadline(timeout);
    for (const auto &node : m_nodes)
        node->connection->flush(std::chrono::milliseconds(deadline.remainingTime()));
}

} // namespace DistributedPromiseRedis
