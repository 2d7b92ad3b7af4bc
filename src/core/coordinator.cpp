// SPDX-License-Identifier: MIT
#include "coordinator_p.h"

#include "distributedpromise.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QPointer>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSysInfo>
#include <QtCore/QTimer>

#include <cctype>

using DistributedPromiseRedis::Reply;

namespace DistributedPromiseDetail {

namespace {
using DistributedPromiseProtocol::AcquireResult;
// A waiter re-checks a little after the lock's lease has run out.
constexpr qint64 takeoverMarginMs = 5;
// PTTL's answer for a key that does not exist.
constexpr qint64 pttlNoKey = -2;
// How often callers of long-running flights are checked for cancelled futures.
constexpr std::chrono::milliseconds cancelSweepInterval(100);
// The longest an outcome that is not cached stays recorded for the waiters of its execution
// (bounded by the lease): long enough for a waiter whose subscriber reconnects.
constexpr std::chrono::milliseconds maxRecordLife(10000);
// A finish that did not get through is sent again after this, doubling up to the maximum.
constexpr std::chrono::milliseconds finishRetryMin(20);
constexpr std::chrono::milliseconds finishRetryMax(1000);
// Waiters that cannot be notified (the Redis user may not publish) look again this often.
constexpr qint64 pollIntervalMs = 100;
// How long shutting down waits for the lock releases to be written to Redis.
constexpr std::chrono::milliseconds shutDownFlush(200);

// Lock tokens: unique per attempt without a system call each: a random part drawn once per
// process, a counter, and where the holder runs (for operators, and for "waiting for ...").
QByteArray newToken()
{
    static const QByteArray prefix = [] {
        QByteArray text = QByteArray::number(QRandomGenerator::system()->generate64(), 16);
        text.append('.');
        return text;
    }();
    static const QByteArray suffix = [] {
        QByteArray host = QSysInfo::machineHostName().toUtf8();
        for (char &c : host) {
            if (!std::isalnum(uchar(c)) && c != '.' && c != '-')
                c = '_';
        }
        QByteArray text("@");
        text.append(host).append(':').append(
            QByteArray::number(QCoreApplication::applicationPid()));
        return text;
    }();
    static std::atomic<quint64> counter { 0 };
    QByteArray token;
    token.reserve(prefix.size() + 16 + suffix.size());
    token.append(prefix).append(QByteArray::number(++counter, 16)).append(suffix);
    return token;
}

// Where the holder of \a token runs, for "waiting for ...": the token's "@host:pid" part.
QString holderOf(const QByteArray &token)
{
    const qsizetype at = token.lastIndexOf('@');
    return at < 0 ? QStringLiteral("another process") : QString::fromUtf8(token.mid(at + 1));
}

bool isWon(const Reply &reply)
{
    return reply.isArray() && !reply.elements.isEmpty() && reply.elements.at(0).isInteger()
        && reply.elements.at(0).integer == AcquireResult::Won;
}

// The work running on this thread, if any: calls it makes are part of its chain.
struct WorkScope
{
    QByteArray identity;
    QList<QByteArray> ancestors;
    const WorkScope *outer = nullptr;
};
thread_local const WorkScope *t_work = nullptr;
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
    , m_finish(DistributedPromiseProtocol::finishScript)
    , m_release(DistributedPromiseProtocol::releaseScript)
    , m_discard(DistributedPromiseProtocol::discardScript)
    , m_recordMs(QByteArray::number(qint64(std::min(config.lockTimeout, maxRecordLife).count())))
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
        { m_acquire.source, m_finish.source, m_release.source, m_discard.source });
    connect(m_client.get(), &DistributedPromiseRedis::Client::connected, this, [this] {
        if (m_everConnected)
            ++m_stats.reconnects;
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

template<typename F>
auto Coordinator::guarded(Flight *flight, F handler)
{
    return [this, id = flight->id, handler = std::move(handler)](const Reply &reply) {
        if (Flight *current = find(id))
            handler(current, reply);
    };
}

QTimer *Coordinator::timerOf(
    Flight *flight, std::unique_ptr<QTimer> Flight::*timer, void (Coordinator::*action)(Flight *))
{
    // The flight owns the timer, and take() stops it: it only fires in flight. A recycled flight
    // keeps its timers, which act on the same Flight object.
    std::unique_ptr<QTimer> &slot = flight->*timer;
    if (!slot) {
        slot = std::make_unique<QTimer>();
        slot->setSingleShot(true);
        slot->setTimerType(Qt::PreciseTimer);
        connect(slot.get(), &QTimer::timeout, this,
            [this, action, flight] { (this->*action)(flight); });
    }
    return slot.get();
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
    DistributedPromiseProtocol::ValueProblem problem;
    const QByteArray identity = DistributedPromiseProtocol::identity(
        registration->identityPrefix, args, &argumentsBytes, &problem);
    if (problem != DistributedPromiseProtocol::ValueProblem::None)
        return reject(QStringLiteral("the arguments of '%1' cannot be sent: %2")
                          .arg(registration->key, DistributedPromiseProtocol::describe(problem)));
    if (argumentsBytes > m_config.maxValueBytes)
        return reject(QStringLiteral("the arguments of '%1' take %2 bytes, more than maxValueBytes "
                                     "(%3); pass less or raise maxValueBytes")
                          .arg(registration->key)
                          .arg(argumentsBytes)
                          .arg(m_config.maxValueBytes));
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
    if (const WorkScope *work = t_work)
        flight->ancestors = work->ancestors + QList<QByteArray> { work->identity };
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
    if (flight->announced > 0)
        caller.waiter->setPhase(flight->announced, flight->announcedText);
    flight->callers.push_back(std::move(caller));
    if (timeout.count() > 0)
        armDeadline(flight);
}

void Coordinator::announce(Flight *flight, int phase, const QString &text)
{
    if (phase <= flight->announced)
        return;
    flight->announced = phase;
    flight->announcedText = text;
    for (const Caller &caller : flight->callers)
        caller.waiter->setPhase(phase, text);
}

bool Coordinator::pruneCancelled(Flight *flight)
{
    auto &callers = flight->callers;
    const auto cancelled = std::stable_partition(callers.begin(), callers.end(),
        [](const Caller &caller) { return !caller.waiter->isCanceled(); });
    if (cancelled == callers.end())
        return !callers.empty();
    auto gone = std::make_shared<std::vector<Caller>>();
    std::move(cancelled, callers.end(), std::back_inserter(*gone));
    callers.erase(cancelled, callers.end());
    m_stats.cancelled += gone->size();
    // From the event loop: a caller's continuation may call again, and must not find this flight
    // half-decided.
    const QString key = flight->displayKey();
    cancelLater(std::move(gone),
        DistributedPromiseError(DistributedPromiseError::Cancelled,
            QStringLiteral("the call of '%1' was cancelled").arg(key), key));
    return !callers.empty();
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
    timerOf(flight, &Flight::deadlineTimer, &Coordinator::sweepCallers)
        ->start(std::max<qint64>(0, earliest.remainingTime()));
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
    // What happens to the work, for the Timeout message: it only goes on where somebody runs it.
    QString fate;
    switch (flight->phase) {
    case Phase::Working:
    case Phase::Finishing:
        fate = QStringLiteral("the work goes on in this process and its result will be shared");
        break;
    case Phase::Waiting:
        fate = QStringLiteral("another process is still working on it");
        break;
    case Phase::Checking:
    case Phase::Acquiring:
        fate = callers.empty() ? QStringLiteral("nobody else waits for it, so it was not started")
                               : QStringLiteral("other callers still wait for it");
        break;
    }
    // A lock attempt on its way may win: then the flight stays to give the lock back.
    if (callers.empty() && flight->phase != Phase::Working && flight->phase != Phase::Finishing
        && !flight->acquiring)
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
            QStringLiteral("no result for '%1' within %2 ms (%3); raise the timeout to wait for it")
                .arg(key)
                .arg(caller.timeout.count())
                .arg(fate),
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
    if (forEachFlight(
            { Phase::Waiting, Phase::Working, Phase::Finishing }, &Coordinator::sweepCallers)
        == 0)
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
    // The connection keeps the argument list (shared) until the reply, to send it again should
    // Redis be loading: one list per GET, never copied. The callback is small enough for
    // std::function to hold without an allocation.
    m_client->command({ QByteArrayLiteral("GET"), flight->keys.data },
        [this, id = flight->id](const Reply &reply) {
            if (Flight *current = find(id))
                onCacheReply(current, reply);
        });
}

void Coordinator::onCacheReply(Flight *flight, const Reply &reply)
{
    if (reply.isFailure())
        return redisUnavailable(flight, reply);
    if (reply.isError()) {
        // A key of another type (a hash, a list) is as unreadable as garbage: it goes.
        if (!reply.string.startsWith("WRONGTYPE"))
            return finish(flight,
                Outcome::failure(
                    DistributedPromiseError::RedisError, QString::fromUtf8(reply.string)));
        discardCorrupt(flight, QByteArray());
    } else if (reply.isString()) {
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
    // Nobody wants it anymore (a superseded call): take no lock, start no work.
    if (!pruneCancelled(flight))
        return abandon(flight);
    acquire(flight);
}

void Coordinator::acquire(Flight *flight)
{
    if (flight->phase == Phase::Working || flight->phase == Phase::Finishing)
        return;
    if (flight->acquiring) {
        flight->reacquire = true;
        return;
    }
    if (flight->phase == Phase::Checking)
        flight->phase = Phase::Acquiring;
    flight->acquiring = true;
    flight->token = newToken();
    flight->acquireSentAt = std::chrono::steady_clock::now();
    m_keyNames.completeKeys(&flight->keys, flight->identity);
    const QByteArray checkCache = m_config.ttl.count() > 0 ? "1" : "0";
    m_client->eval(m_acquire, { flight->keys.data, flight->keys.lock, flight->keys.channel },
        { flight->token, m_leaseMs, checkCache, flight->awaited },
        [this, id = flight->id, keys = flight->keys, token = flight->token](const Reply &reply) {
            if (reply.isFailure())
                releaseUnanswered(keys, token);
            Flight *current = find(id);
            if (!current) {
                // The flight ended (its outcome arrived on the channel, its callers left) while
                // this attempt was on its way: a lock it took is nobody's, so it goes back now
                // instead of blocking everyone for a lease.
                if (isWon(reply))
                    releaseLock(keys, token);
                return;
            }
            current->acquiring = false;
            onAcquired(current, reply);
        });
}

void Coordinator::onAcquired(Flight *flight, const Reply &reply)
{
    if (flight->phase == Phase::Working || flight->phase == Phase::Finishing)
        return;
    const bool won = isWon(reply);
    // Every caller left (timed out, cancelled) while this attempt was on its way: a won lock
    // goes back at once, and nothing runs.
    if (!pruneCancelled(flight)) {
        if (won)
            releaseLock(flight->keys, flight->token);
        return abandon(flight);
    }
    if (reply.isFailure())
        return redisUnavailable(flight, reply);
    if (!reply.isArray() || reply.elements.isEmpty() || !reply.elements.at(0).isInteger())
        return finish(flight,
            Outcome::failure(DistributedPromiseError::RedisError,
                QStringLiteral("unexpected reply to the lock script: %1")
                    .arg(QString::fromUtf8(reply.string))));
    const qint64 kind = reply.elements.at(0).integer;
    if (kind == AcquireResult::Cached && reply.elements.size() > 1) {
        Outcome outcome;
        const QByteArray &envelope = reply.elements.at(1).string;
        if (DistributedPromiseProtocol::decodeEnvelope(envelope, &outcome) && outcome.ok) {
            ++m_stats.hits;
            return finish(flight, outcome);
        }
        discardCorrupt(flight, envelope);
        flight->reacquire = true;
    } else if (kind == AcquireResult::Recorded && reply.elements.size() > 1) {
        // The outcome of the execution this caller waited for, value or error, recorded because
        // it was not cached: the message was missed (published just before the subscription, or
        // while the subscriber reconnected).
        Outcome outcome;
        if (DistributedPromiseProtocol::decodeEnvelope(reply.elements.at(1).string, &outcome))
            return finish(flight, outcome);
        flight->reacquire = true;
    } else if (kind == AcquireResult::Unreadable) {
        discardCorrupt(flight, QByteArray());
        flight->reacquire = true;
    } else if (kind == AcquireResult::Won) {
        if (flight->waitedBefore) {
            ++m_stats.takeovers;
            qCInfo(lcDistributedPromise).noquote()
                << "took over" << flight->displayKey()
                << "after its previous holder gave it up or its lease ran out";
        }
        ++m_stats.won;
        return startWork(flight);
    } else if (kind == AcquireResult::Busy && reply.elements.size() > 2) {
        flight->awaited = reply.elements.at(2).string;
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
    announce(flight, DistributedPromise::WaitingForOther,
        QStringLiteral("waiting for %1").arg(holderOf(flight->awaited)));
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
        // (connection lost, SUBSCRIBE refused), the takeover timer below still looks again.
    }
    // Look again when the holder's lease runs out: if it died, one waiter takes over.
    if (lockTtl == pttlNoKey) {
        flight->reacquire = true;
        return;
    }
    qint64 delay = (lockTtl >= 0 ? lockTtl : m_config.lockTimeout.count()) + takeoverMarginMs;
    if (m_cannotPublish)
        delay = std::min(delay, pollIntervalMs); // no message will come: poll
    timerOf(flight, &Flight::takeoverTimer, &Coordinator::acquire)
        ->start(std::chrono::milliseconds(delay));
}

void Coordinator::onSubscribed(const QByteArray &channel)
{
    // Confirmed (again, after a reconnect): re-check the cache and the lock. The subscriber
    // connection may come back before the command connection; a re-check sent now would fail
    // at once and count as Redis being unavailable, so it waits for recheckWaiters() then.
    // On a cluster only the channel's own shard counts: a dead node elsewhere never reconnects.
    if (!m_client->isReadyFor(channel))
        return;
    if (Flight *flight = m_byChannel.value(channel); flight && flight->phase == Phase::Waiting)
        acquire(flight);
}

void Coordinator::recheckWaiters()
{
    // The command connection is (again) up: every waiter looks at the cache and the lock, as a
    // result published or a lock lost (a restarted server has neither) while it was down would
    // otherwise only be noticed when the takeover timer fires. A waiter whose subscription is
    // not confirmed yet looks once more when it is (onSubscribed). Finishes that did not get
    // through go again.
    QPointer<Coordinator> self(this);
    forEachFlight({ Phase::Waiting }, &Coordinator::acquire);
    if (self)
        forEachFlight({ Phase::Finishing }, &Coordinator::sendFinish);
}

void Coordinator::onMessage(const QByteArray &channel, const QByteArray &payload)
{
    Flight *flight = m_byChannel.value(channel);
    if (!flight || flight->phase == Phase::Working || flight->phase == Phase::Finishing)
        return;
    if (payload == DistributedPromiseProtocol::abandonedMessage) {
        // The holder gave the lock back without an outcome: one waiter takes over now.
        if (flight->phase == Phase::Waiting)
            acquire(flight);
        return;
    }
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
    if (flight->waitedBefore && !flight->local)
        announce(flight, DistributedPromise::TakingOver,
            QStringLiteral("taking over from %1").arg(holderOf(flight->awaited)));
    else
        announce(flight, DistributedPromise::RunningHere,
            flight->local ? QStringLiteral("running here (Redis is unavailable)")
                          : QStringLiteral("running here"));
    flight->phase = Phase::Working;
    startSweeping();
    unsubscribe(flight);
    if (flight->takeoverTimer)
        flight->takeoverTimer->stop();
    if (!flight->local) {
        flight->holding = true;
        m_keeper->hold(flight->id, flight->keys.lock, flight->token, flight->acquireSentAt);
    }
    if (m_config.maxWorkTime.count() > 0)
        timerOf(flight, &Flight::workLimitTimer, &Coordinator::workLimitReached)
            ->start(m_config.maxWorkTime);
    // Run the work from the event loop, not from inside a Redis callback.
    QMetaObject::invokeMethod(
        this, [this, id = flight->id] { runWork(id); }, Qt::QueuedConnection);
}

void Coordinator::runWork(quint64 id)
{
    Flight *flight = find(id);
    if (!flight || flight->phase != Phase::Working)
        return;
    // Every caller left before the work started (a superseded call): give the lock back so that
    // another process's callers need not wait for a lease, and run nothing.
    if (!pruneCancelled(flight)) {
        if (!flight->local)
            releaseLock(flight->keys, flight->token);
        return abandon(flight);
    }
    const auto registration = flight->registration;
    const QJsonArray args = flight->args;
    // Calls the work makes while it runs on this thread are part of its chain (cycle check).
    const WorkScope scope { flight->identity, flight->ancestors, t_work };
    t_work = &scope;
    QPointer<Coordinator> self(this);
    registration->run(args, this, [self, id](const Outcome &outcome) {
        if (self)
            self->workDone(id, outcome);
    });
    t_work = scope.outer;
}

void Coordinator::workLimitReached(Flight *flight)
{
    qCWarning(lcDistributedPromise).noquote()
        << "the work of" << flight->displayKey() << "did not finish within maxWorkTime ("
        << m_config.maxWorkTime.count() << "ms); its callers fail and its lock is given up";
    workDone(flight->id,
        Outcome::failure(DistributedPromiseError::Timeout,
            QStringLiteral("the work of '%1' did not finish within maxWorkTime (%2 ms); its "
                           "lock was given up, so a later call runs it again")
                .arg(flight->displayKey())
                .arg(m_config.maxWorkTime.count())));
}

void Coordinator::workDone(quint64 id, Outcome outcome)
{
    Flight *flight = find(id);
    if (!flight || flight->phase != Phase::Working)
        return; // ended meanwhile (maxWorkTime, shut down): a late result is dropped
    if (flight->workLimitTimer)
        flight->workLimitTimer->stop();
    DistributedPromiseProtocol::ValueProblem problem;
    QByteArray envelope = DistributedPromiseProtocol::encodeEnvelope(outcome, &problem);
    if (problem != DistributedPromiseProtocol::ValueProblem::None) {
        outcome = Outcome::failure(DistributedPromiseError::InvalidArgument,
            QStringLiteral("the value of '%1' cannot be stored: %2")
                .arg(flight->displayKey(), DistributedPromiseProtocol::describe(problem)));
        envelope = DistributedPromiseProtocol::encodeEnvelope(outcome);
    } else if (envelope.size() > m_config.maxValueBytes) {
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
    // processes' waiters (and a process that exits right after cannot lose the publish). Until
    // then the lease is kept and the finish is sent again if it does not get through.
    flight->phase = Phase::Finishing;
    flight->outcome = outcome;
    flight->envelope = envelope;
    flight->finishUntil = QDeadlineTimer(m_config.lockTimeout);
    flight->finishRetry = finishRetryMin;
    sendFinish(flight);
}

void Coordinator::sendFinish(Flight *flight)
{
    if (flight->finishInFlight)
        return;
    flight->finishInFlight = true;
    if (flight->finishRetryTimer)
        flight->finishRetryTimer->stop();
    m_client->eval(m_finish, { flight->keys.data, flight->keys.lock, flight->keys.channel },
        { flight->token, flight->envelope, m_ttlMs, flight->outcome.ok ? "1" : "0",
            flight->keys.channel, m_publish, m_recordMs },
        guarded(flight, [this](Flight *f, const Reply &reply) {
            f->finishInFlight = false;
            onFinished(f, reply);
        }));
}

void Coordinator::onFinished(Flight *flight, const Reply &reply)
{
    const QString key = flight->displayKey();
    if (reply.isFailure()) {
        // Not through (connection lost, Redis paused or loading): the finish checks the token, so
        // it is sent again, on reconnect or after a backoff, while the lease is kept.
        if (!flight->finishUntil.hasExpired()) {
            timerOf(flight, &Flight::finishRetryTimer, &Coordinator::sendFinish)
                ->start(flight->finishRetry);
            flight->finishRetry = std::min(flight->finishRetry * 2, finishRetryMax);
            return;
        }
        qCWarning(lcDistributedPromise).noquote()
            << "could not publish the outcome of" << key << "within lockTimeout ("
            << QString::fromUtf8(reply.string) << "); only this process's callers get it";
    } else if (reply.isError()) {
        qCWarning(lcDistributedPromise).noquote()
            << "could not publish the outcome of" << key << "-" << QString::fromUtf8(reply.string);
    } else if (reply.isArray() && !reply.elements.isEmpty() && reply.elements.at(0).integer == 0) {
        ++m_stats.lostLeases;
        qCWarning(lcDistributedPromise).noquote()
            << "finished" << key
            << "after its lease was lost to another process: the result was not cached or "
               "published";
    } else if (reply.isArray() && reply.elements.size() >= 3) {
        if (!reply.elements.at(1).string.isEmpty())
            qCWarning(lcDistributedPromise).noquote()
                << "could not cache the outcome of" << key << "("
                << QString::fromUtf8(reply.elements.at(1).string)
                << "); it was published to the waiters, and the next call runs the work again";
        if (!reply.elements.at(2).string.isEmpty())
            qCCritical(lcDistributedPromise).noquote()
                << "could not publish the outcome of" << key << "("
                << QString::fromUtf8(reply.elements.at(2).string)
                << "); waiters in other processes find it only when they look again";
    }
    const Outcome outcome = flight->outcome;
    finish(flight, outcome);
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
    ++m_stats.localRuns;
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

std::unique_ptr<Coordinator::Flight> Coordinator::take(Flight *flight)
{
    m_flights.remove(flight->identity);
    m_byId.remove(flight->id);
    unsubscribe(flight);
    if (flight->holding) {
        flight->holding = false;
        m_keeper->release(flight->id);
    }
    // Stopped, and kept for the flight's next use.
    for (auto timer : { &Flight::deadlineTimer, &Flight::takeoverTimer, &Flight::workLimitTimer,
             &Flight::finishRetryTimer }) {
        if (QTimer *t = (flight->*timer).get())
            t->stop();
    }
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
    // Cleared in place (no temporary Flight on the hit path): everything goes but the callers'
    // storage and the stopped timers, which only ever act on this flight object.
    Flight &f = *flight;
    f.callers.clear();
    f.identity = QByteArray();
    f.keys = DistributedPromiseProtocol::Keys();
    f.registration.reset();
    f.args = QJsonArray();
    if (!f.ancestors.isEmpty())
        f.ancestors = QList<QByteArray>();
    f.phase = Phase::Checking;
    f.token = QByteArray();
    f.awaited = QByteArray();
    f.announced = 0;
    f.announcedText = QString();
    f.subscribed = f.acquiring = f.reacquire = f.waitedBefore = f.local = f.holding
        = f.finishInFlight = false;
    if (!f.envelope.isEmpty()) {
        f.outcome = Outcome();
        f.envelope = QByteArray();
    }
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

bool Coordinator::shutDown(const QString &reason, bool later)
{
    if (!m_client)
        return false;
    auto callers = std::make_shared<std::vector<Caller>>();
    const auto flights = m_flights;
    for (Flight *flight : flights) {
        switch (flight->phase) {
        case Phase::Acquiring:
        case Phase::Waiting:
            // A lock attempt still on its way is given back right behind it (same connection).
            if (flight->acquiring)
                releaseLock(flight->keys, flight->token);
            break;
        case Phase::Working:
            // Abandoned work: the lock goes back and the waiters take over at once.
            if (!flight->local)
                releaseLock(flight->keys, flight->token);
            break;
        case Phase::Finishing:
            // The outcome is known: one more try to share it.
            sendFinish(flight);
            break;
        case Phase::Checking:
            break;
        }
        std::unique_ptr<Flight> gone = take(flight);
        std::move(gone->callers.begin(), gone->callers.end(), std::back_inserter(*callers));
    }
    m_byChannel.clear();
    m_client->flush(shutDownFlush);
    if (callers->empty())
        return false;
    m_stats.errors += callers->size();
    const DistributedPromiseError error(DistributedPromiseError::Cancelled,
        reason
            + QStringLiteral(" (the work was not finished here; if this process held it, "
                             "another one takes it over)"));
    if (later) {
        cancelLater(std::move(callers), error);
    } else {
        for (Caller &caller : *callers)
            caller.waiter->fail(error);
    }
    return true;
}

void Coordinator::cancelLater(
    std::shared_ptr<std::vector<Caller>> callers, const DistributedPromiseError &error)
{
    // Posted to the application, which outlives this object: should the event never be
    // delivered, its destruction still finishes the waiters (each fails itself when destroyed).
    const auto deliver = [callers, error] {
        for (Caller &caller : *callers)
            caller.waiter->fail(error);
    };
    if (QCoreApplication *app = QCoreApplication::instance())
        QMetaObject::invokeMethod(app, deliver, Qt::QueuedConnection);
    else
        deliver();
}

} // namespace DistributedPromiseDetail
