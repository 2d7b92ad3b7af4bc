// SPDX-License-Identifier: MIT
#include "redissentinel_p.h"

#include "logging_p.h"

#include <QtCore/QSet>

namespace DistributedPromiseRedis {

namespace {
const QByteArray switchMaster = QByteArrayLiteral("+switch-master");
} // namespace

// One round of questions: every sentinel asked at once, every address named checked with ROLE.
struct SentinelWatcher::Lookup
{
    int id = 0;
    std::vector<std::unique_ptr<Connection>> connections;
    int pendingAnswers = 0;
    int pendingChecks = 0;
    QHash<QString, int> votes; // address -> how many sentinels named it
    QHash<QString, Endpoint::Address> addresses;
    QSet<QString> checked; // ROLE asked
    QStringList masters; // ROLE said "master", in the order of the replies
    QStringList errors;
};

SentinelWatcher::SentinelWatcher(
    const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent)
    : QObject(parent)
    , m_endpoint(endpoint)
    , m_queryOptions(options)
{
    m_queryOptions.reconnect = false;
    m_queryOptions.commandTimeout = options.connectTimeout;
    for (int i = 0; i < m_endpoint.seeds.size(); ++i) {
        m_events.push_back(std::make_unique<Subscriber>(sentinel(i), options));
        Subscriber *events = m_events.back().get();
        connect(events, &Subscriber::message, this, &SentinelWatcher::onEvent);
        // (Re)confirmed: a +switch-master may have been missed while it was not.
        connect(events, &Subscriber::subscribed, this, &SentinelWatcher::ask);
    }
    m_backoff = options.reconnectMin;
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &SentinelWatcher::ask);
}

SentinelWatcher::~SentinelWatcher()
{
    // The lookups' callbacks must not run on a half-destroyed object.
    m_running = false;
    m_lookup.reset();
    m_finished.reset();
    m_events.clear();
}

void SentinelWatcher::start()
{
    if (m_running)
        return;
    m_running = true;
    for (const auto &events : m_events) {
        events->subscribe(switchMaster);
        events->open();
    }
    ask();
}

void SentinelWatcher::stop()
{
    m_running = false;
    for (const auto &events : m_events)
        events->close();
    m_lookup.reset();
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
    if (!m_running || m_lookup)
        return;
    m_lookup = std::make_unique<Lookup>();
    const int id = m_lookup->id = ++m_lookups;
    const QByteArrayList command { QByteArrayLiteral("SENTINEL"),
        QByteArrayLiteral("GET-MASTER-ADDR-BY-NAME"), m_endpoint.masterName.toUtf8() };
    for (int i = 0; i < m_endpoint.seeds.size(); ++i) {
        m_lookup->connections.push_back(std::make_unique<Connection>(sentinel(i), m_queryOptions));
        Connection *query = m_lookup->connections.back().get();
        query->open();
        ++m_lookup->pendingAnswers;
        query->command(command, [this, id, i](const Reply &reply) { onAnswer(id, i, reply); });
    }
}

void SentinelWatcher::onAnswer(int lookup, int index, const Reply &reply)
{
    if (!m_running || !m_lookup || m_lookup->id != lookup)
        return;
    --m_lookup->pendingAnswers;
    bool ok = false;
    if (reply.isArray() && reply.elements.size() == 2) {
        const Endpoint::Address address { QString::fromUtf8(reply.elements.at(0).string),
            quint16(reply.elements.at(1).string.toUInt(&ok)) };
        ok = ok && !address.host.isEmpty() && address.port != 0;
        if (ok) {
            const QString name = address.toString();
            ++m_lookup->votes[name];
            m_lookup->addresses.insert(name, address);
            checkRole(address);
        }
    }
    if (!ok) {
        const QString why = reply.isNil()
            ? QStringLiteral("does not monitor a master named '%1'").arg(m_endpoint.masterName)
            : reply.isAnyError() ? QString::fromUtf8(reply.string)
                                 : QStringLiteral("gave an unexpected reply");
        m_lookup->errors.append(m_endpoint.seeds.at(index).toString() + QStringLiteral(": ") + why);
    }
    decide();
}

void SentinelWatcher::checkRole(const Endpoint::Address &address)
{
    // A sentinel may be stale (partitioned, hung until just now) and name a replica, or a
    // demoted master that still thinks it is one: the server itself says what it is.
    const QString name = address.toString();
    if (m_lookup->checked.contains(name))
        return;
    m_lookup->checked.insert(name);
    m_lookup->connections.push_back(
        std::make_unique<Connection>(m_endpoint.server(address), m_queryOptions));
    Connection *check = m_lookup->connections.back().get();
    check->open();
    ++m_lookup->pendingChecks;
    check->command({ QByteArrayLiteral("ROLE") },
        [this, id = m_lookup->id, name](const Reply &reply) { onRole(id, name, reply); });
}

void SentinelWatcher::onRole(int lookup, const QString &name, const Reply &reply)
{
    if (!m_running || !m_lookup || m_lookup->id != lookup)
        return;
    --m_lookup->pendingChecks;
    const QByteArray role = reply.isArray() && !reply.elements.isEmpty()
        ? reply.elements.constFirst().string
        : QByteArray();
    if (role == "master") {
        m_lookup->masters.append(name);
    } else {
        const QString why = reply.isAnyError()
            ? QString::fromUtf8(reply.string)
            : QStringLiteral("ROLE is %1")
                  .arg(QString::fromUtf8(role.isEmpty() ? QByteArrayLiteral("unknown") : role));
        m_lookup->errors.append(QStringLiteral("%1 (named by %2 sentinel(s)) is not the master: %3")
                                    .arg(name)
                                    .arg(m_lookup->votes.value(name))
                                    .arg(why));
    }
    decide();
}

void SentinelWatcher::decide()
{
    Lookup &lookup = *m_lookup;
    const int majority = int(m_endpoint.seeds.size()) / 2 + 1;
    QString winner;
    for (const QString &name : std::as_const(lookup.masters)) {
        if (lookup.votes.value(name) >= majority) {
            winner = name;
            break;
        }
    }
    const bool complete = lookup.pendingAnswers == 0 && lookup.pendingChecks == 0;
    if (winner.isEmpty() && !complete)
        return; // a majority may still agree
    if (winner.isEmpty()) {
        // No majority (sentinels down or hung): the confirmed master named most often.
        int best = 0;
        for (const QString &name : std::as_const(lookup.masters)) {
            if (lookup.votes.value(name) > best) {
                best = lookup.votes.value(name);
                winner = name;
            }
        }
    }
    const Endpoint::Address address = lookup.addresses.value(winner);
    const QStringList errors = lookup.errors;
    // We may be inside one of its connections' callbacks: it lives on until the next lookup ends.
    m_finished = std::move(m_lookup);
    if (!winner.isEmpty()) {
        if (!errors.isEmpty())
            qCDebug(lcDistributedPromise).noquote()
                << "Sentinel: master" << m_endpoint.masterName << "is at" << winner
                << "; ignored:" << errors.join(QStringLiteral("; "));
        m_backoff = m_queryOptions.reconnectMin;
        m_retry.stop();
        Q_EMIT masterFound(address);
        return;
    }
    const QString reason = QStringLiteral("no sentinel knows where master '%1' is (%2)")
                               .arg(m_endpoint.masterName, errors.join(QStringLiteral("; ")));
    // Once per outage; the retries that follow are quiet.
    if (m_backoff == m_queryOptions.reconnectMin)
        qCWarning(lcDistributedPromise).noquote() << reason;
    else
        qCDebug(lcDistributedPromise).noquote() << reason;
    m_retry.start(m_backoff);
    m_backoff = std::min(m_backoff * 2, m_queryOptions.reconnectMax);
    Q_EMIT failed(reason);
}

void SentinelWatcher::onEvent(const QByteArray &channel, const QByteArray &payload)
{
    // "+switch-master <name> <old host> <old port> <new host> <new port>"
    if (channel != switchMaster || !m_running)
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

} // namespace DistributedPromiseRedis
