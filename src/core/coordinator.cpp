// SPDX-License-Identifier: MIT
#include "coordinator_p.h"

#include "logging_p.h"

#include <QtCore/QPointer>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTimer>

using DistributedPromiseRedis::Reply;

namespace DistributedPromiseDetail {

namespace {
enum AcquireResult : qint64 { Cached = 1, Won = 2, Busy = 3 };
// A waiter re-checks a little after the lock's lease has run out.
constexpr qint64 takeoverMarginMs = 5;
// How often callers of long-running flights are checked for cancelled futures.
constexpr std::chrono::milliseconds cancelSweepInterval(100);

QByteArray newToken()
{
    quint64 words[2];
    QRandomGenerator::system()->fillRange(words);
    return QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex();
}
} // namespace

DistributedPromiseStats AtomicStats::snapshot() const
{
    DistributedPromiseStats s;
    s.calls = calls;
    s.hits = hits;
    s.misses = misses;
    s.coalesced = coalesced;
    s.won = won;
    s.waited = waited;
    s.takeovers = takeovers;
    s.lostLeases = lostLeases;
    s.localRuns = localRuns;
    s.errors = errors;
    s.reconnects = reconnects;
    s.cancelled = cancelled;
    return s;
}

Coordinator::Coordinator(
    const DistributedPromiseConfig &config, const QString &configError, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_configError(configError)
    , m_separator(config.keySeparator.toUtf8())
    , m_keyNames(config)
    , m_leaseMs(QByteArray::number(qint64(config.lockTimeout.count())))
    , m_ttlMs(QByteArray::number(qint64(config.ttl.count())))
    , m_acquire(DistributedPromiseProtocol::acquireScript)
    , m_renew(DistributedPromiseProtocol::renewScript)
    , m_finish(DistributedPromiseProtocol::finishScript)
    , m_discard(DistributedPromiseProtocol::discardScript)
{
    m_sweepTimer.setInterval(cancelSweepInterval);
    connect(&m_sweepTimer, &QTimer::timeout, this, &Coordinator::sweepCancelled);
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
    options.scripts = { m_acquire.source, m_renew.source, m_finish.source, m_discard.source };
    if (endpoint.topology == DistributedPromiseRedis::Endpoint::Topology::Cluster)
        m_publish = QByteArrayLiteral("SPUBLISH"); // waiters listen on shard channels
    m_client = DistributedPromiseRedis::Client::create(endpoint, options);
    connect(m_client.get(), &DistributedPromiseRedis::Client::connected, this, [this] {
        if (m_everConnected)
            ++m_stats.reconnects;
        m_everConnected = true;
        if (m_outageWarned)
            qCInfo(lcDistributedPromise).noquote()
                << "Redis at" << m_client->displayName() << "is back";
        m_outageWarned = false;
        Q_EMIT connectedChanged(true);
        recheckWaiters();
    });
    connect(m_client.get(), &DistributedPromiseRedis::Client::disconnected, this,
        [this] { Q_EMIT connectedChanged(false); });
    connect(
        m_client.get(), &DistributedPromiseRedis::Client::message, this, &Coordinator::onMessage);
    connect(m_client.get(), &DistributedPromiseRedis::Client::subscribed, this,
        &Coordinator::onSubscribed);
    m_client->open();
}

Coordinator::~Coordinator()
{
    // Flights first, while the client is alive, then the client: its pending callbacks then find
    // no flight to act on.
    const auto flights = std::exchange(m_flights, {});
    m_byId.clear();
    m_byChannel.clear();
    const DistributedPromiseError error(DistributedPromiseError::Cancelled,
        QStringLiteral("the DistributedPromiseWrapper was destroyed "
                       "before the call finished"));
    for (Flight *flight : flights) {
        std::unique_ptr<Flight> owned(flight);
        for (Caller &caller : owned->callers) {
            ++m_stats.errors;
            caller.waiter->fail(error);
        }
    }
    m_client.reset();
}

template<typename F>
auto Coordinator::guarded(Flight *flight, F handler)
{
    return [this, id = flight->id, handler = std::move(handler)](const Reply &reply) {
        if (Flight *current = find(id))
            handler(current, reply);
    };
}

std::unique_ptr<QTimer> Coordinator::flightTimer(
    Flight *flight, void (Coordinator::*action)(Flight *), bool singleShot)
{
    // The flight owns the timer, and take() stops or destroys it: it only fires in flight.
    auto timer = std::make_unique<QTimer>();
    timer->setSingleShot(singleShot);
    timer->setTimerType(Qt::PreciseTimer);
    connect(
        timer.get(), &QTimer::timeout, this, [this, action, flight] { (this->*action)(flight); });
    return timer;
}

void Coordinator::call(const std::shared_ptr<Registration> &registration, const QJsonArray &args,
    std::unique_ptr<Waiter> waiter)
{
    ++m_stats.calls;
    const auto reject = [&](const QString &message) {
        ++m_stats.errors;
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
    qsizetype argumentsBytes = 0;
    const QByteArray identity
        = DistributedPromiseProtocol::identity(registration->identityPrefix, args, &argumentsBytes);
    if (argumentsBytes > m_config.maxValueBytes)
        return reject(QStringLiteral("the arguments of '%1' take %2 bytes, more than maxValueBytes "
                                     "(%3); pass less or raise maxValueBytes")
                          .arg(registration->key)
                          .arg(argumentsBytes)
                          .arg(m_config.maxValueBytes));
    const std::chrono::milliseconds timeout = registration->timeout.value_or(m_config.timeout);
    if (Flight *flight = m_flights.value(identity)) {
        ++m_stats.coalesced;
        addCaller(flight, std::move(waiter), timeout);
        return;
    }
    Flight *flight = nullptr;
    if (m_spareFlights.empty()) {
        flight = new Flight;
    } else {
        flight = m_spareFlights.back().release();
        m_spareFlights.pop_back();
    }
    flight->id = ++m_nextId;
    flight->identity = identity;
    flight->keys.data = m_keyNames.dataKey(identity);
    flight->registration = registration;
    flight->args = args;
    m_flights.insert(identity, flight);
    m_byId.insert(flight->id, flight);
    addCaller(flight, std::move(waiter), timeout);
    if (m_config.ttl.count() > 0)
        checkCache(flight);
    else
        acquire(flight);
}

void Coordinator::addCaller(
    Flight *flight, std::unique_ptr<Waiter> waiter, std::chrono::milliseconds timeout)
{
    Caller caller { std::move(waiter), QDeadlineTimer(QDeadlineTimer::Forever), timeout };
    if (timeout.count() > 0)
        caller.deadline = QDeadlineTimer(timeout);
    flight->callers.push_back(std::move(caller));
    if (timeout.count() > 0)
        armDeadline(flight);
}

void Coordinator::armDeadline(Flight *flight)
{
    QDeadlineTimer earliest(QDeadlineTimer::Forever);
    for (const Caller &caller : flight->callers)
        earliest = std::min(earliest, caller.deadline);
    if (earliest.isForever()) {
        if (flight->deadlineTimer)
            flight->deadlineTimer->stop();
        return;
    }
    if (!flight->deadlineTimer) {
        flight->deadlineTimer = flightTimer(flight, &Coordinator::sweepCallers, true);
    }
    flight->deadlineTimer->start(std::max<qint64>(0, earliest.remainingTime()));
}

void Coordinator::sweepCallers(Flight *flight)
{
    // Callers whose deadline passed get Timeout; callers whose future was cancelled leave.
    std::vector<Caller> expired;
    std::vector<Caller> cancelled;
    auto &callers = flight->callers;
    for (auto it = callers.begin(); it != callers.end();) {
        if (it->waiter->isCanceled()) {
            cancelled.push_back(std::move(*it));
            it = callers.erase(it);
        } else if (it->deadline.hasExpired()) {
            expired.push_back(std::move(*it));
            it = callers.erase(it);
        } else {
            ++it;
        }
    }
    if (expired.empty() && cancelled.empty()) {
        // A coarse timer may fire a little early: wait for the deadline again.
        if (flight->deadlineTimer && !flight->deadlineTimer->isActive())
            armDeadline(flight);
        return;
    }
    const QString key = flight->displayKey();
    // A lock attempt on its way may win: then the flight must stay to work and unlock.
    if (callers.empty() && flight->phase != Phase::Working && !flight->acquiring)
        abandon(flight);
    else
        armDeadline(flight);
    m_stats.errors += expired.size();
    m_stats.cancelled += cancelled.size();
    for (Caller &caller : cancelled)
        caller.waiter->fail(DistributedPromiseError(DistributedPromiseError::Cancelled,
            QStringLiteral("the call of '%1' was cancelled; the shared work goes on for the others")
                .arg(key),
            key));
    for (Caller &caller : expired) {
        caller.waiter->fail(DistributedPromiseError(DistributedPromiseError::Timeout,
            QStringLiteral("no result for '%1' within %2 ms; the work goes on and its result "
                           "will be cached, raise the timeout to wait for it")
                .arg(key)
                .arg(caller.timeout.count()),
            key));
    }
}

void Coordinator::startSweeping()
{
    if (!m_sweepTimer.isActive())
        m_sweepTimer.start();
}

void Coordinator::sweepCancelled()
{
    // Only flights that can last long (waiting for another process, or working) are swept.
    if (forEachFlight({ Phase::Waiting, Phase::Working }, &Coordinator::sweepCallers) == 0)
        m_sweepTimer.stop();
}

qsizetype Coordinator::forEachFlight(
    std::initializer_list<Phase> phases, void (Coordinator::*action)(Flight *))
{
    QList<quint64> chosen;
    for (const Flight *flight : std::as_const(m_flights)) {
        if (std::find(phases.begin(), phases.end(), flight->phase) != phases.end())
            chosen.append(flight->id);
    }
    // Each flight is looked up again before its turn: an action may end other flights, or, through
    // a caller's continuation, destroy this wrapper.
    QPointer<Coordinator> self(this);
    for (const quint64 id : std::as_const(chosen)) {
        if (!self)
            break;
        if (Flight *flight = find(id))
            (this->*action)(flight);
    }
    return chosen.size();
}

void Coordinator::checkCache(Flight *flight)
{
    flight->phase = Phase::Checking;
    // One argument list serves every GET, and the callback is small enough for std::function to
    // hold without an allocation: the hit path allocates as little as it can.
    m_getArgs[1] = flight->keys.data;
    m_client->command(m_getArgs, [this, id = flight->id](const Reply &reply) {
        if (Flight *current = find(id))
            onCacheReply(current, reply);
    });
    m_getArgs[1] = QByteArray();
}

void Coordinator::onCacheReply(Flight *flight, const Reply &reply)
{
    if (reply.isFailure())
        return redisUnavailable(flight, reply);
    if (reply.isError())
        return finish(flight,
            Outcome::failure(DistributedPromiseError::RedisError, QString::fromUtf8(reply.string)));
    if (reply.isString()) {
        // The usual hit, a plain string, reaches QString callers without a QJsonValue between.
        QString text;
        if (DistributedPromiseProtocol::decodePlainString(reply.string, &text)) {
            ++m_stats.hits;
            return settle(flight, [&text](Waiter &waiter) { waiter.resolveString(text); });
        }
        Outcome outcome;
        if (DistributedPromiseProtocol::decodeEnvelope(reply.string, &outcome) && outcome.ok) {
            ++m_stats.hits;
            return finish(flight, outcome);
        }
        discardCorrupt(flight, reply.string);
    }
    ++m_stats.misses;
    acquire(flight);
}

void Coordinator::acquire(Flight *flight)
{
    if (flight->phase == Phase::Working)
        return;
    if (flight->acquiring) {
        flight->reacquire = true;
        return;
    }
    if (flight->phase == Phase::Checking)
        flight->phase = Phase::Acquiring;
    flight->acquiring = true;
    flight->token = newToken();
    m_keyNames.completeKeys(&flight->keys, flight->identity);
    const QByteArray checkCache = m_config.ttl.count() > 0 ? "1" : "0";
    m_client->eval(m_acquire, { flight->keys.data, flight->keys.lock },
        { flight->token, m_leaseMs, checkCache },
        guarded(flight, [this](Flight *f, const Reply &reply) {
            f->acquiring = false;
            onAcquired(f, reply);
        }));
}

void Coordinator::onAcquired(Flight *flight, const Reply &reply)
{
    if (flight->phase == Phase::Working)
        return;
    // Every caller left (timed out) while this attempt was on its way: a won lock is still
    // worked on, so it is released and the result cached as usual; anything else ends here.
    const bool won = reply.isArray() && !reply.elements.isEmpty()
        && reply.elements.at(0).isInteger() && reply.elements.at(0).integer == Won;
    if (flight->callers.empty() && !won)
        return abandon(flight);
    if (reply.isFailure())
        return redisUnavailable(flight, reply);
    if (!reply.isArray() || reply.elements.isEmpty() || !reply.elements.at(0).isInteger())
        return finish(flight,
            Outcome::failure(DistributedPromiseError::RedisError,
                QStringLiteral("unexpected reply to the lock "
                               "script: %1")
                    .arg(QString::fromUtf8(reply.string))));
    const qint64 kind = reply.elements.at(0).integer;
    if (kind == Cached && reply.elements.size() > 1) {
        Outcome outcome;
        if (DistributedPromiseProtocol::decodeEnvelope(reply.elements.at(1).string, &outcome)
            && outcome.ok) {
            ++m_stats.hits;
            return finish(flight, outcome);
        }
        discardCorrupt(flight, reply.elements.at(1).string);
        flight->reacquire = true;
    } else if (kind == Won) {
        if (flight->waitedBefore) {
            ++m_stats.takeovers;
            qCInfo(lcDistributedPromise).noquote() << "took over" << flight->displayKey()
                                                   << "after the previous holder's lease ran out";
        }
        ++m_stats.won;
        return startWork(flight);
    } else if (kind == Busy && reply.elements.size() > 1) {
        wait(flight, reply.elements.at(1).integer);
    }
    if (flight->reacquire) {
        flight->reacquire = false;
        acquire(flight);
    }
}

void Coordinator::wait(Flight *flight, qint64 lockTtl)
{
    if (!flight->waitedBefore)
        ++m_stats.waited;
    flight->waitedBefore = true;
    flight->phase = Phase::Waiting;
    startSweeping();
    if (!flight->subscribed) {
        // Subscribe first, then look again: a result published in between cannot be missed.
        flight->subscribed = true;
        m_byChannel.insert(flight->keys.channel, flight);
        if (m_client->subscribe(flight->keys.channel)) {
            flight->reacquire = true;
            return;
        }
        // onSubscribed() looks again once Redis confirms. Should the confirmation never come
        // (connection lost, SUBSCRIBE refused), the lease timer below still looks again.
    }
    // Look again when the holder's lease runs out: if it died, one waiter takes over.
    if (lockTtl == -2) {
        flight->reacquire = true;
        return;
    }
    const qint64 delay = (lockTtl >= 0 ? lockTtl : m_config.lockTimeout.count()) + takeoverMarginMs;
    if (!flight->leaseTimer) {
        flight->leaseTimer = flightTimer(flight, &Coordinator::acquire, true);
    }
    flight->leaseTimer->start(std::chrono::milliseconds(delay));
}

void Coordinator::onSubscribed(const QByteArray &channel)
{
    // Confirmed (again, after a reconnect): re-check the cache and the lock. The subscriber
    // connection may come back before the command connection; a re-check sent now would fail
    // at once and count as Redis being unavailable, so it waits for recheckWaiters() then.
    if (!m_client->isConnected())
        return;
    if (Flight *flight = m_byChannel.value(channel); flight && flight->phase == Phase::Waiting)
        acquire(flight);
}

void Coordinator::recheckWaiters()
{
    // The command connection is (again) up: every waiter looks at the cache and the lock, as a
    // result published or a lock lost (a restarted server has neither) while it was down would
    // otherwise only be noticed when the lease timer fires. A waiter whose subscription is not
    // confirmed yet looks once more when it is (onSubscribed).
    forEachFlight({ Phase::Waiting }, &Coordinator::acquire);
}

void Coordinator::onMessage(const QByteArray &channel, const QByteArray &payload)
{
    Flight *flight = m_byChannel.value(channel);
    if (!flight || flight->phase == Phase::Working)
        return;
    Outcome outcome;
    if (!DistributedPromiseProtocol::decodeEnvelope(payload, &outcome)) {
        qCWarning(lcDistributedPromise).noquote() << "ignored a message that is not a version"
                                                  << DistributedPromiseProtocol::envelopeVersion
                                                  << "envelope on" << QString::fromUtf8(channel);
        return;
    }
    finish(flight, outcome);
}

void Coordinator::startWork(Flight *flight)
{
    flight->phase = Phase::Working;
    startSweeping();
    unsubscribe(flight);
    flight->leaseTimer.reset();
    if (!flight->local) {
        flight->leaseTimer = flightTimer(flight, &Coordinator::renewLease, false);
        flight->leaseTimer->start(std::max<qint64>(1, m_config.lockTimeout.count() / 3));
    }
    // Run the work from the event loop, not from inside a Redis callback.
    QMetaObject::invokeMethod(
        this,
        [this, id = flight->id] {
            Flight *current = find(id);
            if (!current)
                return;
            const auto registration = current->registration;
            const QJsonArray args = current->args;
            QPointer<Coordinator> self(this);
            registration->run(args, this, [self, id](const Outcome &outcome) {
                if (self)
                    self->workDone(id, outcome);
            });
        },
        Qt::QueuedConnection);
}

void Coordinator::renewLease(Flight *flight)
{
    m_client->eval(m_renew, { flight->keys.lock }, { flight->token, m_leaseMs },
        guarded(flight, [this](Flight *f, const Reply &reply) {
            if (!reply.isInteger() || reply.integer != 0 || f->leaseLost)
                return;
            f->leaseLost = true;
            f->leaseTimer.reset();
            qCWarning(lcDistributedPromise).noquote()
                << "lost the lock of" << f->displayKey()
                << "while working (another process may run it too)";
        }));
}

void Coordinator::workDone(quint64 id, Outcome outcome)
{
    Flight *flight = find(id);
    if (!flight)
        return;
    QByteArray envelope = DistributedPromiseProtocol::encodeEnvelope(outcome);
    if (envelope.size() > m_config.maxValueBytes) {
        outcome = Outcome::failure(DistributedPromiseError::InvalidArgument,
            QStringLiteral("the value of '%1' takes %2 bytes, more than "
                           "maxValueBytes (%3); return less or raise "
                           "maxValueBytes")
                .arg(flight->displayKey())
                .arg(envelope.size())
                .arg(m_config.maxValueBytes));
        envelope = DistributedPromiseProtocol::encodeEnvelope(outcome);
    }
    if (flight->local)
        return finish(flight, outcome);
    // Local callers are answered once Redis has the outcome, at the same moment as the other
    // processes' waiters (and a process that exits right after cannot lose the publish).
    m_client->eval(m_finish, { flight->keys.data, flight->keys.lock },
        { flight->token, envelope, m_ttlMs, outcome.ok ? "1" : "0", flight->keys.channel,
            m_publish },
        guarded(flight, [this, outcome](Flight *f, const Reply &reply) {
            if (reply.isInteger() && reply.integer == 0) {
                ++m_stats.lostLeases;
                qCWarning(lcDistributedPromise).noquote()
                    << "finished" << f->displayKey()
                    << "after its lease was lost: the result was not cached or published";
            } else if (!reply.isInteger()) {
                qCWarning(lcDistributedPromise).noquote()
                    << "could not publish the result of" << f->displayKey() << "-"
                    << QString::fromUtf8(reply.string);
            }
            finish(f, outcome);
        }));
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
    ++m_stats.localRuns;
    flight->local = true;
    startWork(flight);
}

void Coordinator::discardCorrupt(Flight *flight, const QByteArray &what)
{
    qCWarning(lcDistributedPromise).noquote()
        << "deleted an unreadable cache entry for" << flight->displayKey() << "(" << what.left(64)
        << "); running the work again";
    // Only if it still holds what was read: a good value written meanwhile stays.
    m_client->eval(m_discard, { flight->keys.data }, { what }, [](const Reply &) {});
}

std::unique_ptr<Coordinator::Flight> Coordinator::take(Flight *flight)
{
    m_flights.remove(flight->identity);
    m_byId.remove(flight->id);
    unsubscribe(flight);
    if (flight->deadlineTimer)
        flight->deadlineTimer->stop(); // kept for the flight's next use
    flight->leaseTimer.reset();
    return std::unique_ptr<Flight>(flight);
}

void Coordinator::unsubscribe(Flight *flight)
{
    if (!flight->subscribed)
        return;
    flight->subscribed = false;
    m_byChannel.remove(flight->keys.channel);
    m_client->unsubscribe(flight->keys.channel);
}

void Coordinator::abandon(Flight *flight) { recycle(take(flight)); }

void Coordinator::recycle(std::unique_ptr<Flight> flight)
{
    constexpr size_t maxSpareFlights = 64;
    if (m_spareFlights.size() >= maxSpareFlights)
        return;
    // Everything goes but the callers' storage and the (stopped) deadline timer.
    std::vector<Caller> callers = std::move(flight->callers);
    std::unique_ptr<QTimer> deadlineTimer = std::move(flight->deadlineTimer);
    callers.clear();
    *flight = Flight();
    flight->callers = std::move(callers);
    flight->deadlineTimer = std::move(deadlineTimer);
    m_spareFlights.push_back(std::move(flight));
}

template<typename Deliver>
void Coordinator::settle(Flight *flight, Deliver deliver)
{
    // Out of the tables first: callers' continuations may call again, and must start afresh.
    std::unique_ptr<Flight> done = take(flight);
    // A caller's continuation may destroy this wrapper.
    QPointer<Coordinator> self(this);
    for (Caller &caller : done->callers)
        deliver(*caller.waiter);
    if (self)
        recycle(std::move(done));
}

void Coordinator::finish(Flight *flight, const Outcome &outcome)
{
    if (outcome.ok)
        return settle(flight, [&outcome](Waiter &waiter) { waiter.resolve(outcome.value); });
    for (const Caller &caller : flight->callers)
        ++(caller.waiter->isCanceled() ? m_stats.cancelled : m_stats.errors);
    const DistributedPromiseError error(outcome.code, outcome.message, flight->displayKey());
    settle(flight, [&error](Waiter &waiter) { waiter.fail(error); });
}

} // namespace DistributedPromiseDetail
