// SPDX-License-Identifier: MIT
#include "redissentinel_p.h"

#include "logging_p.h"

namespace DistributedPromiseRedis {

namespace {
const QByteArray switchMaster = QByteArrayLiteral("+switch-master");

ConnectionOptions sentinelOptions(ConnectionOptions options)
{
    options.scripts.clear();
    return options;
}
} // namespace

SentinelWatcher::SentinelWatcher(
    const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent)
    : QObject(parent)
    , m_endpoint(endpoint)
    , m_queryOptions(sentinelOptions(options))
    , m_events(sentinel(0), Connection::Mode::Subscriber, sentinelOptions(options))
{
    m_queryOptions.reconnect = false;
    m_queryOptions.commandTimeout = options.connectTimeout;
    connect(&m_events, &Connection::message, this, &SentinelWatcher::onEvent);
    connect(&m_events, &Connection::disconnected, this, &SentinelWatcher::nextEventSource);
    m_backoff = options.reconnectMin;
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &SentinelWatcher::ask);
}

SentinelWatcher::~SentinelWatcher()
{
    // The query's callback must not run on a half-destroyed object.
    m_running = false;
    m_query.reset();
    m_previousQuery.reset();
}

void SentinelWatcher::start()
{
    if (m_running)
        return;
    m_running = true;
    m_events.subscribe(switchMaster);
    m_events.open();
    ask();
}

void SentinelWatcher::stop()
{
    m_running = false;
    m_events.close();
    m_query.reset();
    m_asking = false;
    m_retry.stop();
}

Endpoint SentinelWatcher::sentinel(int index) const
{
    // The URL's credentials are the data servers'; sentinels are reached without them.
    Endpoint result;
    const Endpoint::Address &address = m_endpoint.seeds.at(index);
    result.host = address.host;
    result.port = address.port;
    return result;
}

void SentinelWatcher::ask()
{
    if (!m_running || m_asking)
        return;
    m_asking = true;
    m_errors.clear();
    askSentinel(0);
}

void SentinelWatcher::askSentinel(int index)
{
    // We may be inside the current query's callback: it lives on until the next question.
    m_previousQuery = std::move(m_query);
    m_query
        = std::make_unique<Connection>(sentinel(index), Connection::Mode::Commands, m_queryOptions);
    m_query->open();
    const QByteArrayList command { QByteArrayLiteral("SENTINEL"),
        QByteArrayLiteral("GET-MASTER-ADDR-BY-NAME"), m_endpoint.masterName.toUtf8() };
    m_query->command(command, [this, index](const Reply &reply) {
        if (!m_running)
            return;
        bool ok = false;
        if (reply.isArray() && reply.elements.size() == 2) {
            const Endpoint::Address address { QString::fromUtf8(reply.elements.at(0).string),
                quint16(reply.elements.at(1).string.toUInt(&ok)) };
            if (ok && !address.host.isEmpty() && address.port != 0) {
                m_asking = false;
                m_backoff = m_queryOptions.reconnectMin;
                Q_EMIT masterFound(address);
                return;
            }
        }
        const QString why = reply.isNil()
            ? QStringLiteral("does not monitor a master named '%1'").arg(m_endpoint.masterName)
            : reply.isAnyError() ? QString::fromUtf8(reply.string)
                                 : QStringLiteral("gave an unexpected reply");
        m_errors.append(m_endpoint.seeds.at(index).toString() + QStringLiteral(": ") + why);
        if (index + 1 < m_endpoint.seeds.size()) {
            askSentinel(index + 1);
            return;
        }
        m_asking = false;
        const QString reason = QStringLiteral("no sentinel knows where master '%1' is (%2)")
                                   .arg(m_endpoint.masterName, m_errors.join(QStringLiteral("; ")));
        // Once per outage; the retries that follow are quiet.
        if (m_backoff == m_queryOptions.reconnectMin)
            qCWarning(lcDistributedPromise).noquote() << reason;
        else
            qCDebug(lcDistributedPromise).noquote() << reason;
        m_retry.start(m_backoff);
        m_backoff = std::min(m_backoff * 2, m_queryOptions.reconnectMax);
        Q_EMIT failed(reason);
    });
}

void SentinelWatcher::onEvent(const QByteArray &channel, const QByteArray &payload)
{
    // "+switch-master <name> <old host> <old port> <new host> <new port>"
    if (channel != switchMaster)
        return;
    const QByteArrayList parts = payload.split(' ');
    if (parts.size() != 5 || parts.at(0) != m_endpoint.masterName.toUtf8())
        return;
    bool ok = false;
    const Endpoint::Address address { QString::fromUtf8(parts.at(3)),
        quint16(parts.at(4).toUInt(&ok)) };
    if (ok && address.port != 0)
        Q_EMIT masterFound(address);
}

void SentinelWatcher::nextEventSource()
{
    if (m_endpoint.seeds.size() < 2)
        return;
    m_eventSource = (m_eventSource + 1) % int(m_endpoint.seeds.size());
    m_events.retarget(sentinel(m_eventSource));
}

} // namespace DistributedPromiseRedis
