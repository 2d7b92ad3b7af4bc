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
            addCaller(flight, std::move(waiter), timeout, refresh);
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

Coordinator::WrapState *Coordinator::wrapState(
    const QString &key, const QByteArray &keyAndSeparator)
{
    std::unique_ptr<WrapState> &slot = m_wraps[key];
    if (!slot) {
        slot = std::make_unique<WrapState>();
        slot->key = key;
        slot->keyAndSeparator = keyAndSeparator;
        slot->identityPrefix = keyAndSeparator;
        slot->channel = m_keyNames.generationChannel(key);
    }
    return slot.get();
}

void Coordinator::fetchGeneration(WrapState *wrap)
{
    if (!wrap->subscribed) {
        // New generations are published; a reconnected subscriber reads the generation again.
        wrap->subscribed = true;
        m_wrapByChannel.insert(wrap->channel, wrap);
        m_client->subscribe(wrap->channel);
    }
    if (wrap->fetching)
        return;
    wrap->fetching = true;
    m_client->command({ QByteArrayLiteral("GET"), m_keyNames.generationKey(wrap->key) },
        [this, wrap](const Reply &reply) {
            wrap->fetching = false;
            bool ok = reply.isNil();
            qint64 generation = 0;
            if (reply.isString())
                generation = reply.string.toLongLong(&ok);
            if (!ok && !reply.isFailure())
                qCWarning(lcDistributedPromise).noquote()
                    << "the generation of" << wrap->key << "is unreadable ("
                    << QString::fromUtf8(reply.string.left(64)) << "); using" << wrap->generation;
            // Redis away: the generation known so far is assumed until the next connect.
            setGeneration(wrap, ok ? generation : wrap->generation);
        });
}

void Coordinator::setGeneration(WrapState *wrap, qint64 generation)
{
    const bool changed = generation != wrap->generation;
    if (changed) {
        wrap->generation = generation;
        wrap->identityPrefix = DistributedPromiseProtocol::generationPrefix(
            wrap->keyAndSeparator, m_separator, generation);
        // Calls in flight keep the generation they read; later ones start in the new one.
        QList<QByteArray> old;
        for (auto it = m_flights.cbegin(); it != m_flights.cend(); ++it) {
            if (it.value()->registration->key == wrap->key && it.value()->generation != generation)
                old.append(it.key());
        }
        for (const QByteArray &identity : std::as_const(old))
            detach(identity);
    }
    wrap->known = true;
    QPointer<Coordinator> self(this);
    for (const quint64 id : std::exchange(wrap->parked, {})) {
        Flight *flight = self ? find(id) : nullptr;
        if (!flight)
            continue;
        if (flight->generation == generation) {
            start(flight);
            continue;
        }
        // Made in a generation that is gone: its callers call again, in the new one, as part of
        // the same work chain.
        std::unique_ptr<Flight> old = take(flight);
        const WorkScope scope { old->ancestors.isEmpty() ? QByteArray() : old->ancestors.last(),
            old->ancestors.mid(0, old->ancestors.size() - 1), t_work };
        const WorkScope *outer = t_work;
        if (!old->ancestors.isEmpty())
            t_work = &scope;
        for (Caller &caller : old->callers)
            dispatch(old->registration, old->args, std::move(caller.waiter),
                caller.wantsFresh ? CallKind::Refresh : CallKind::Call);
        t_work = outer;
    }
    for (Deferred &deferred : std::exchange(wrap->deferred, {})) {
        if (!self)
            return;
        dispatch(deferred.registration, deferred.args, std::move(deferred.waiter), deferred.kind);
    }
}

bool Coordinator::failedReply(Waiter &waiter, const Reply &reply, const QString &key)
{
    if (reply.isFailure()) {
        ++m_stats[Counter::Errors];
        waiter.fail(DistributedPromiseError(DistributedPromiseError::ConnectionFailed,
            QStringLiteral("Redis is unavailable (%1)").arg(QString::fromUtf8(reply.string)), key));
        return true;
    }
    if (reply.isError()) {
        ++m_stats[Counter::Errors];
        waiter.fail(DistributedPromiseError(
            DistributedPromiseError::RedisError, QString::fromUtf8(reply.string), key));
        return true;
    }
    return false;
}

void Coordinator::peek(const QByteArray &identity, std::unique_ptr<Waiter> waiter)
{
    auto shared = std::shared_ptr<Waiter>(std::move(waiter));
    m_client->command({ QByteArrayLiteral("GET"), m_keyNames.dataKey(identity) },
        [this, shared, identity](const Reply &reply) {
            const QString key = QString::fromUtf8(identity);
            if (failedReply(*shared, reply, key))
                return;
            Outcome outcome;
            if (!reply.isString()) {
                shared->resolve(QJsonValue(QJsonValue::Undefined));
            } else if (DistributedPromiseProtocol::decodeEnvelope(reply.string, &outcome)) {
                shared->resolve(outcome.ok ? outcome.value : QJsonValue(QJsonValue::Undefined));
            } else {
                ++m_stats[Counter::Errors];
                shared->fail(DistributedPromiseError(DistributedPromiseError::DecodeFailed,
                    QStringLiteral("the entry of '%1' is not a version %2 envelope")
                        .arg(key)
                        .arg(DistributedPromiseProtocol::envelopeVersion),
                    key));
            }
        });
}

void Coordinator::invalidate(const QByteArray &identity, std::unique_ptr<Waiter> waiter)
{
    // A call in flight keeps what it read; calls from now on start their own flight, whose GET
    // goes after this DEL on the same connection.
    detach(identity);
    auto shared = std::shared_ptr<Waiter>(std::move(waiter));
    m_client->command({ QByteArrayLiteral("DEL"), m_keyNames.dataKey(identity) },
        [this, shared, identity](const Reply &reply) {
            if (failedReply(*shared, reply, QString::fromUtf8(identity)))
                return;
            ++m_stats[Counter::Invalidations];
            shared->resolve(QJsonValue(QJsonValue::Null));
        });
}

void Coordinator::invalidateAll(WrapState *wrap, std::unique_ptr<Waiter> waiter)
{
    auto shared = std::shared_ptr<Waiter>(std::move(waiter));
    m_client->eval(m_invalidateAll, { m_keyNames.generationKey(wrap->key) },
        { wrap->channel, m_publish }, [this, shared, wrap](const Reply &reply) {
            if (failedReply(*shared, reply, wrap->key))
                return;
            if (!reply.isInteger()) {
                ++m_stats[Counter::Errors];
                shared->fail(DistributedPromiseError(DistributedPromiseError::RedisError,
                    QStringLiteral("unexpected reply to the generation script of '%1'")
                        .arg(wrap->key),
                    wrap->key));
                return;
            }
            ++m_stats[Counter::Invalidations];
            QPointer<Coordinator> self(this);
            setGeneration(wrap, std::max(wrap->generation, reply.integer));
            if (self)
                shared->resolve(QJsonValue(QJsonValue::Null));
        });
}

} // namespace DistributedPromiseDetail
