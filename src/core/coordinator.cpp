// SPDX-License-Identifier: MIT
// The coordinator's set-up and its entry points: calls by kind, and the generations of wrap keys.
#include "coordinator_p.h"

#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QPointer>
#include <QtCore/QTimer>

using DistributedPromiseRedis::Reply;

namespace DistributedPromiseDetail {

namespace {
// The longest an outcome stays recorded for the waiters of its execution (bounded by the
// lease): long enough for a waiter whose subscriber reconnects.
constexpr std::chrono::milliseconds maxRecordLife(10000);
} // namespace

thread_local const Coordinator::WorkScope *Coordinator::t_work = nullptr;

Coordinator::Coordinator(
    const DistributedPromiseConfig &config, const QString &configError, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_configError(configError)
    , m_separator(config.keySeparator.toUtf8())
    , m_keyNames(config)
    , m_leaseMs(QByteArray::number(qint64(config.lockTimeout.count())))
    , m_acquire(DistributedPromiseProtocol::acquireScript)
    , m_finish(DistributedPromiseProtocol::finishScript)
    , m_release(DistributedPromiseProtocol::releaseScript)
    , m_discard(DistributedPromiseProtocol::discardScript)
    , m_read(DistributedPromiseProtocol::readScript)
    , m_invalidateAll(DistributedPromiseProtocol::invalidateAllScript)
    , m_recordMs(QByteArray::number(qint64(std::min(config.lockTimeout, maxRecordLife).count())))
{
    initSweeping();
    if (!m_configError.isEmpty())
        return;
    DistributedPromiseRedis::Endpoint endpoint;
    QString error;
    if (!DistributedPromiseRedis::Endpoint::parse(config.redisUrl, &endpoint, &error)) {
        m_configError = error;
        return;
    }
    DistributedPromiseRedis::ConnectionOptions options;
    options.connectTimeout = config.connectTimeout;
    options.commandTimeout = config.commandTimeout;
    // "distributed-promise:<pid>:lease", ":commands", ":commands:subscriber" in CLIENT LIST.
    const QByteArray name = config.keyPrefix.toUtf8().replace(' ', '_') + ':'
        + QByteArray::number(QCoreApplication::applicationPid());
    options.clientName = name + ":lease";
    m_keeper = std::make_unique<LeaseKeeper>(endpoint, options, config.lockTimeout, this,
        [this](quint64 id, LeaseKeeper::Event event) { onLeaseEvent(id, event); });
    options.clientName = name + ":commands";
    if (endpoint.topology == DistributedPromiseRedis::Endpoint::Topology::Cluster)
        m_publish = QByteArrayLiteral("SPUBLISH"); // waiters listen on shard channels
    m_client = DistributedPromiseRedis::Client::create(endpoint, options,
        { m_acquire.source, m_finish.source, m_release.source, m_discard.source, m_read.source,
            m_invalidateAll.source });
    connect(m_client.get(), &DistributedPromiseRedis::Client::connected, this, [this] {
        if (m_everConnected)
            ++m_stats[Counter::Reconnects];
        m_everConnected = true;
        if (m_outageWarned)
            qCInfo(lcDistributedPromise).noquote()
                << "Redis at" << m_client->displayName() << "is back";
        m_outageWarned = false;
        checkServer();
        for (const auto &[keys, token] : std::exchange(m_unanswered, {}))
            releaseLock(keys, token);
        Q_EMIT connectedChanged(true);
        recheckWaiters();
        // Generations read while Redis was away were assumed: read them again.
        for (const auto &wrap : m_wraps)
            fetchGeneration(wrap.second.get());
    });
    connect(m_client.get(), &DistributedPromiseRedis::Client::disconnected, this,
        [this] { Q_EMIT connectedChanged(false); });
    connect(
        m_client.get(), &DistributedPromiseRedis::Client::message, this, &Coordinator::onMessage);
    connect(m_client.get(), &DistributedPromiseRedis::Client::subscribed, this,
        &Coordinator::onSubscribed);
    // Settle what is in flight while the application's objects are still alive: continuations
    // with a context object must not run after their context is gone.
    if (QCoreApplication *app = QCoreApplication::instance()) {
        connect(app, &QCoreApplication::aboutToQuit, this, [this] {
            if (shutDown(QStringLiteral("the application is quitting"), false))
                // The event loop has ended: what the outcomes posted (QFutureWatcher signals,
                // DistributedPromise's) is delivered now, while the receivers still exist.
                QCoreApplication::sendPostedEvents();
        });
    }
    m_client->open();
}

Coordinator::~Coordinator()
{
    // Flights first, while the client is alive (locks are given back), then the client: its
    // pending callbacks then find no flight to act on. Callers hear of it from the event loop,
    // never from inside this destructor, where their continuations could reach a wrapper that
    // is half gone.
    shutDown(QStringLiteral("the DistributedPromiseWrapper was destroyed before the call finished"),
        true);
    m_keeper.reset();
    m_client.reset();
}

std::chrono::milliseconds Coordinator::ttlOf(const Registration &registration) const
{
    return registration.ttl.value_or(m_config.ttl);
}

std::chrono::milliseconds Coordinator::staleForOf(const Registration &registration) const
{
    return registration.staleFor.value_or(m_config.staleFor);
}

void Coordinator::call(const std::shared_ptr<Registration> &registration, const QJsonArray &args,
    std::unique_ptr<Waiter> waiter, CallKind kind)
{
    if (kind == CallKind::Call || kind == CallKind::Refresh)
        ++m_stats[Counter::Calls];
    dispatch(registration, args, std::move(waiter), kind);
}

void Coordinator::dispatch(const std::shared_ptr<Registration> &registration,
    const QJsonArray &args, std::unique_ptr<Waiter> waiter, CallKind kind)
{
    const auto reject = [&](const QString &message) {
        ++m_stats[Counter::Errors];
        waiter->fail(DistributedPromiseError(
            DistributedPromiseError::InvalidArgument, message, registration->key));
    };
    if (!m_configError.isEmpty())
        return reject(QStringLiteral("cannot call '%1': the configuration is unusable: %2")
                          .arg(registration->key, m_configError));
    if (registration->key.isEmpty())
        return reject(QStringLiteral("the wrap key is empty; give every wrapped work a "
                                     "non-empty key"));
    Q_ASSERT(registration->identityPrefix == registration->key.toUtf8() + m_separator);
    WrapState *wrap = wrapState(registration->key, registration->identityPrefix);
    if (kind == CallKind::InvalidateAll)
        return invalidateAll(wrap, std::move(waiter));
    qsizetype argumentsBytes = 0;
    DistributedPromiseProtocol::ValueProblem problem;
    const QByteArray identity = DistributedPromiseProtocol::identity(
        wrap->identityPrefix, args, &argumentsBytes, &problem);
    if (problem != DistributedPromiseProtocol::ValueProblem::None)
        return reject(QStringLiteral("the arguments of '%1' cannot be sent: %2")
                          .arg(registration->key, DistributedPromiseProtocol::describe(problem)));
    if (argumentsBytes > m_config.maxValueBytes)
        return reject(QStringLiteral("the arguments of '%1' take %2 bytes, more than maxValueBytes "
                                     "(%3); pass less or raise maxValueBytes")
                          .arg(registration->key)
                          .arg(argumentsBytes)
                          .arg(m_config.maxValueBytes));
    if (!wrap->known && (kind == CallKind::Peek || kind == CallKind::Invalidate)) {
        // The first use of this wrap key: its identities depend on its generation.
        wrap->deferred.push_back({ registration, args, std::move(waiter), kind });
        return fetchGeneration(wrap);
    }
    if (kind == CallKind::Peek)
        return peek(identity, std::move(waiter));
    if (kind == CallKind::Invalidate)
        return invalidate(identity, std::move(waiter));
    if (const WorkScope *work = t_work;
        work && (work->identity == identity || work->ancestors.contains(identity))) {
        QStringList chain;
        for (const QByteArray &outer : work->ancestors)
            chain.append(QString::fromUtf8(outer));
        chain << QString::fromUtf8(work->identity) << QString::fromUtf8(identity);
        return reject(QStringLiteral("'%1' was called from inside its own work (%2): it would wait "
                                     "for itself forever; break the cycle")
                          .arg(QString::fromUtf8(identity), chain.join(QLatin1String(" -> "))));
    }
    const std::chrono::milliseconds timeout = registration->timeout.value_or(m_config.timeout);
    const bool refresh = kind == CallKind::Refresh;
    if (Flight *flight = m_flights.value(identity)) {
        // A refresh joins work under way, not a look at the cache that may end in a hit.
        if (!refresh || (flight->phase != Phase::Checking && flight->phase != Phase::Acquiring)) {
            ++m_stats[Counter::Coalesced];
            addCaller(flight, std::move(waiter), timeout, refresh, true);
            return;
        }
        detach(identity);
    }
    Flight *flight = newFlight(registration, identity, args);
    flight->wantsAge = waiter->wantsAge();
    flight->generation = wrap->generation;
    if (refresh) {
        flight->refresh = Refresh::OnDemand;
        flight->minRemaining = -2; // the lock script does not look at the cache
    }
    addCaller(flight, std::move(waiter), timeout, refresh);
    if (!wrap->known) {
        // The first call of this wrap key: its identity depends on the key's generation. The
        // flight waits for it (its callers' deadlines and cancellation hold meanwhile).
        wrap->parked.push_back(flight->id);
        return fetchGeneration(wrap);
    }
    start(flight);
}

void Coordinator::start(Flight *flight)
{
    if (flight->refresh == Refresh::OnDemand || ttlOf(*flight->registration).count() <= 0)
        acquire(flight);
    else
        checkCache(flight);
}

void Coordinator::onLeaseEvent(quint64 id, LeaseKeeper::Event event)
{
    Flight *flight = find(id);
    if (!flight || !flight->holding)
        return;
    if (event == LeaseKeeper::Event::Lost) {
        flight->holding = false;
        qCWarning(lcDistributedPromise).noquote()
            << "lost the lock of" << flight->displayKey()
            << "while working (another process may run it too)";
    } else {
        qCWarning(lcDistributedPromise).noquote()
            << "the lease of" << flight->displayKey()
            << "ran out before a renewal reached Redis; another process may run it too";
    }
}

void Coordinator::releaseLock(const DistributedPromiseProtocol::Keys &keys, const QByteArray &token)
{
    m_client->eval(m_release, { keys.lock },
        { token, keys.channel, m_publish, DistributedPromiseProtocol::abandonedMessage },
        [](const Reply &) {});
}

void Coordinator::releaseUnanswered(
    const DistributedPromiseProtocol::Keys &keys, const QByteArray &token)
{
    // The script may have run and taken the lock before its reply was lost (a reply delayed past
    // commandTimeout, a server paused with the script in its socket): a lock nobody works for,
    // which would make every caller wait a lease. Given back by token (a no-op if not taken),
    // decided from the event loop: a reply lost with its connection fails while that connection
    // is still being torn down.
    QMetaObject::invokeMethod(
        this,
        [this, keys, token] {
            if (m_client->isConnected())
                releaseLock(keys, token);
            else
                m_unanswered.push_back({ keys, token });
        },
        Qt::QueuedConnection);
}

void Coordinator::checkServer()
{
    // May this user publish? (Redis 7 ACL users have no channel rights by default.) Without it
    // waiters would only learn of outcomes when a lease runs out: they poll instead.
    const QByteArray probe = m_keyNames.channel(QByteArrayLiteral("permission-check"));
    m_client->command({ m_publish, probe, QByteArray() }, [this](const Reply &reply) {
        const bool refused = reply.isError() && reply.string.startsWith("NOPERM");
        if (refused && !m_cannotPublish)
            qCCritical(lcDistributedPromise).noquote()
                << "the Redis user may not publish on" << m_keyNames.channelPattern()
                << "channels (" << QString::fromUtf8(reply.string) << "); waiters will poll every"
                << pollIntervalMs << "ms: grant it with ACL SETUSER <user>"
                << (u'&' + m_keyNames.channelPattern());
        if (!reply.isFailure())
            m_cannotPublish = refused;
    });
    // Eviction policies other than noeviction may evict a lock while its holder works.
    m_client->command({ QByteArrayLiteral("CONFIG"), QByteArrayLiteral("GET"),
                          QByteArrayLiteral("maxmemory-policy") },
        [this](const Reply &reply) {
            if (!reply.isArray() || reply.elements.size() < 2)
                return; // CONFIG refused (managed services, ACL): nothing to tell
            const QByteArray policy = reply.elements.at(1).string;
            if (policy != "noeviction")
                qCWarning(lcDistributedPromise).noquote()
                    << "Redis at" << m_client->displayName() << "has maxmemory-policy"
                    << QString::fromUtf8(policy)
                    << ": it may evict a lock while its holder works, and the work then runs "
                       "twice; use noeviction (out of memory, calls still run once)";
        });
}

void Coordinator::redisUnavailable(Flight *flight, const Reply &reply)
{
    const QString reason = QString::fromUtf8(reply.string);
    if (m_config.whenRedisUnavailable == DistributedPromiseConfig::Fail)
        return finish(flight,
            Outcome::failure(DistributedPromiseError::ConnectionFailed,
                QStringLiteral("Redis is unavailable (%1); the work "
                               "was not run")
                    .arg(reason)));
    if (!m_outageWarned) {
        m_outageWarned = true;
        qCWarning(lcDistributedPromise).noquote()
            << "Redis is unavailable, running work in this process only:" << reason;
    }
    ++m_stats[Counter::LocalRuns];
    flight->local = true;
    startWork(flight);
}

void Coordinator::discardCorrupt(Flight *flight, const QByteArray &what)
{
    qCWarning(lcDistributedPromise).noquote()
        << "deleted an unreadable cache entry for" << flight->displayKey() << "("
        << (what.isEmpty() ? QByteArrayLiteral("not a string") : what.left(64))
        << "); running the work again";
    // Only if it still holds what was read: a good value written meanwhile stays.
    m_client->eval(m_discard, { flight->keys.data }, { what }, [](const Reply &) {});
}

} // namespace DistributedPromiseDetail
