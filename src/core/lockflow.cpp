// SPDX-License-Identifier: MIT
// The steps of a flight through Redis: read the entry, take the lock or wait for its holder, run
// the work under a lease, finish (cache, unlock, publish). docs/protocol.md has the state machine.
#include "coordinator_p.h"

#include "distributedpromise.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QPointer>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSysInfo>

#include <cctype>

using DistributedPromiseRedis::Reply;

namespace DistributedPromiseDetail {

namespace {
using DistributedPromiseProtocol::AcquireResult;
// A waiter re-checks a little after the lock's lease has run out.
constexpr qint64 takeoverMarginMs = 5;
// PTTL's answer for a key that does not exist.
constexpr qint64 pttlNoKey = -2;
// minRemaining: the lock script does not look at the cache at all (refresh()).
constexpr qint64 ignoreCache = -2;
// A finish that did not get through is sent again after this, doubling up to the maximum.
constexpr std::chrono::milliseconds finishRetryMin(20);
constexpr std::chrono::milliseconds finishRetryMax(1000);

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
} // namespace

template<typename F>
auto Coordinator::guarded(Flight *flight, F handler)
{
    return [this, id = flight->id, handler = std::move(handler)](const Reply &reply) {
        if (Flight *current = find(id))
            handler(current, reply);
    };
}

void Coordinator::checkCache(Flight *flight)
{
    flight->phase = Phase::Checking;
    // The callback is small enough for std::function to hold without an allocation.
    const auto onReply = [this, id = flight->id](const Reply &reply) {
        if (Flight *current = find(id))
            onCacheReply(current, reply);
    };
    // Telling fresh from stale, or a value's age, needs the time the entry has left: a script
    // reads both in the one round trip. Otherwise a GET.
    if (flight->wantsAge || staleForOf(*flight->registration).count() > 0
        || m_config.eagerRefresh > 0) {
        m_client->eval(m_read, { flight->keys.data }, {}, onReply);
        return;
    }
    // The connection keeps the argument list (shared) until the reply, to send it again should
    // Redis be loading: one list per GET, never copied.
    m_client->command({ QByteArrayLiteral("GET"), flight->keys.data }, onReply);
}

void Coordinator::onCacheReply(Flight *flight, const Reply &reply)
{
    if (reply.isFailure())
        return redisUnavailable(flight, reply);
    const QByteArray *entry = nullptr;
    qint64 pttl = pttlNotRead;
    if (reply.isError()) {
        // A key of another type (a hash, a list) is as unreadable as garbage: it goes.
        if (!reply.string.startsWith("WRONGTYPE"))
            return finish(flight,
                Outcome::failure(
                    DistributedPromiseError::RedisError, QString::fromUtf8(reply.string)));
        discardCorrupt(flight, QByteArray());
    } else if (reply.isString()) {
        entry = &reply.string;
    } else if (reply.isArray() && reply.elements.size() == 2 && reply.elements.at(0).isString()) {
        entry = &reply.elements.at(0).string;
        pttl = reply.elements.at(1).integer;
    }
    if (entry) {
        DistributedPromiseProtocol::EntryLife life;
        // The usual hit, a plain string, reaches QString callers without a QJsonValue between.
        QString text;
        if (pttl == pttlNotRead
            && DistributedPromiseProtocol::decodePlainString(*entry, &text, &life)
            && life.staleForMs == 0) {
            ++m_stats[Counter::Hits];
            return settleHit(flight, text);
        }
        Outcome outcome;
        if (DistributedPromiseProtocol::decodeEnvelope(*entry, &outcome, &life) && outcome.ok)
            return onEntry(flight, outcome, life, pttl);
        discardCorrupt(flight, *entry);
    }
    ++m_stats[Counter::Misses];
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
    const bool look
        = flight->minRemaining != ignoreCache && ttlOf(*flight->registration).count() > 0;
    m_client->eval(m_acquire, { flight->keys.data, flight->keys.lock, flight->keys.channel },
        { flight->token, m_leaseMs, look ? "1" : "0", flight->awaited,
            QByteArray::number(look ? flight->minRemaining : -1),
            flight->refresh == Refresh::OnDemand ? "r" : "" },
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
            ++m_stats[Counter::Hits];
            return finish(flight, outcome, -1);
        }
        discardCorrupt(flight, envelope);
        flight->reacquire = true;
    } else if (kind == AcquireResult::Recorded && reply.elements.size() > 1) {
        // The outcome of the execution this caller waited for, value or error, recorded for
        // waiters: the message was missed (published just before the subscription, or while
        // the subscriber reconnected).
        Outcome outcome;
        if (DistributedPromiseProtocol::decodeEnvelope(reply.elements.at(1).string, &outcome))
            return finish(flight, outcome);
        flight->reacquire = true;
    } else if (kind == AcquireResult::Unreadable) {
        discardCorrupt(flight, QByteArray());
        flight->reacquire = true;
    } else if (kind == AcquireResult::Won) {
        if (flight->waitedBefore) {
            ++m_stats[Counter::Takeovers];
            qCInfo(lcDistributedPromise).noquote()
                << "took over" << flight->displayKey()
                << "after its previous holder gave it up or its lease ran out";
        }
        ++m_stats[Counter::Won];
        if (flight->refresh == Refresh::Eager)
            ++m_stats[Counter::EagerRefreshes];
        else if (flight->refresh != Refresh::None)
            ++m_stats[Counter::Refreshes];
        return startWork(flight);
    } else if (kind == AcquireResult::Busy && reply.elements.size() > 2) {
        // An eager refresh is somebody else's already: nothing to wait for here.
        if (flight->refresh == Refresh::Eager && flight->callers.empty())
            return abandon(flight);
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
        ++m_stats[Counter::Waited];
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
    if (WrapState *wrap = m_wrapByChannel.value(channel)) {
        // (Again, after a reconnect): a new generation published meanwhile was missed.
        fetchGeneration(wrap);
        return;
    }
    // Confirmed (again, after a reconnect): re-check the cache and the lock. The subscriber
    // connection may come back before the command connection; a re-check sent now would fail
    // at once and count as Redis being unavailable, so it waits for recheckWaiters() then.
    // On a cluster only the channel's own shard counts: a dead node elsewhere never reconnects.
    if (!m_client->isReadyFor(channel))
        return;
    const QList<Flight *> flights = m_byChannel.values(channel);
    for (Flight *flight : flights) {
        if (m_byId.contains(flight->id) && flight->phase == Phase::Waiting)
            acquire(flight);
    }
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
    if (WrapState *wrap = m_wrapByChannel.value(channel)) {
        bool ok = false;
        const qint64 generation = payload.toLongLong(&ok);
        if (ok && generation > wrap->generation)
            setGeneration(wrap, generation);
        return;
    }
    const QList<quint64> ids = [&] {
        QList<quint64> list;
        for (const Flight *flight : m_byChannel.values(channel))
            list.append(flight->id);
        return list;
    }();
    QPointer<Coordinator> self(this);
    for (const quint64 id : ids) {
        Flight *flight = self ? find(id) : nullptr;
        if (!flight || flight->phase == Phase::Working || flight->phase == Phase::Finishing)
            continue;
        if (payload == DistributedPromiseProtocol::abandonedMessage) {
            // The holder gave the lock back without an outcome: one waiter takes over now.
            if (flight->phase == Phase::Waiting)
                acquire(flight);
            continue;
        }
        Outcome outcome;
        if (!DistributedPromiseProtocol::decodeEnvelope(payload, &outcome)) {
            qCWarning(lcDistributedPromise).noquote()
                << "ignored a message that is not a version"
                << DistributedPromiseProtocol::envelopeVersion << "envelope on"
                << QString::fromUtf8(channel);
            return;
        }
        finish(flight, outcome);
    }
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
    if (m_config.maxWorkTime.count() > 0) {
        flight->workUntil = QDeadlineTimer(m_config.maxWorkTime, Qt::PreciseTimer);
        // One timer for every working flight, due at the earliest limit: every work gets the
        // same maxWorkTime, so one started later never runs out sooner.
        if (!m_workLimitTimer) {
            m_workLimitTimer = std::make_unique<QTimer>();
            m_workLimitTimer->setSingleShot(true);
            m_workLimitTimer->setTimerType(Qt::PreciseTimer);
            connect(m_workLimitTimer.get(), &QTimer::timeout, this, &Coordinator::checkWorkLimits);
        }
        if (!m_workLimitTimer->isActive())
            m_workLimitTimer->start(m_config.maxWorkTime);
    }
    // Run the work from the event loop, not from inside a Redis callback; the works started in
    // one turn of the event loop share one posted event.
    m_queuedWork.push_back(flight->id);
    if (m_queuedWork.size() == 1)
        QMetaObject::invokeMethod(this, &Coordinator::runQueuedWork, Qt::QueuedConnection);
}

void Coordinator::runQueuedWork()
{
    const std::vector<quint64> ids = std::exchange(m_queuedWork, {});
    QPointer<Coordinator> self(this);
    for (const quint64 id : ids) {
        if (!self)
            return; // a work's caller destroyed this coordinator
        runWork(id);
    }
}

void Coordinator::checkWorkLimits()
{
    QList<quint64> expired;
    qint64 nextNs = -1;
    for (const Flight *flight : std::as_const(m_byId)) {
        if (flight->phase != Phase::Working)
            continue;
        if (flight->workUntil.hasExpired()) {
            expired.append(flight->id);
            continue;
        }
        const qint64 left = flight->workUntil.remainingTimeNSecs();
        nextNs = nextNs < 0 ? left : std::min(nextNs, left);
    }
    // Armed first: a work that ends below may destroy this coordinator.
    if (nextNs >= 0)
        m_workLimitTimer->start(std::chrono::milliseconds((nextNs + 999'999) / 1'000'000));
    QPointer<Coordinator> self(this);
    for (const quint64 id : std::as_const(expired)) {
        if (!self)
            return;
        Flight *flight = find(id);
        if (flight && flight->phase == Phase::Working)
            workLimitReached(flight);
    }
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
    if (m_measuring)
        flight->workStarted = std::chrono::steady_clock::now();
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
    if (m_measuring)
        flight->workMs = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - flight->workStarted)
                             .count();
    // How long the entry lives: the work's own say (DistributedPromiseContext), else the wrap's
    // or the config's ttl plus jitter; then staleFor more, when it may be served stale.
    const Registration &registration = *flight->registration;
    qint64 ttl = outcome.ttlMs >= 0 ? outcome.ttlMs : ttlOf(registration).count();
    const bool jittered = outcome.ttlMs < 0 && ttl > 0 && m_config.ttlJitter.count() > 0;
    if (jittered)
        ttl += QRandomGenerator::global()->bounded(qint64(m_config.ttlJitter.count()) + 1);
    const qint64 staleFor = ttl <= 0 ? 0
        : outcome.staleForMs >= 0    ? outcome.staleForMs
                                     : staleForOf(registration).count();
    const bool cached = outcome.ok && !outcome.doNotCache && ttl > 0;
    // The life goes into the envelope only when a reader needs it; otherwise the entry is byte
    // for byte what versions before 0.3 write.
    const DistributedPromiseProtocol::EntryLife life { ttl, staleFor };
    const bool withLife
        = staleFor > 0 || m_config.eagerRefresh > 0 || jittered || outcome.ttlMs >= 0;
    DistributedPromiseProtocol::ValueProblem problem;
    QByteArray envelope
        = DistributedPromiseProtocol::encodeEnvelope(outcome, &problem, withLife ? &life : nullptr);
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
    // The fresh value is a round trip away: callers who come now wait for it, not the fallback.
    if (outcome.ok)
        flight->fallback.serving = false;
    if (flight->local)
        return finish(flight, outcome);
    // Local callers are answered once Redis has the outcome, at the same moment as the other
    // processes' waiters (and a process that exits right after cannot lose the publish). Until
    // then the lease is kept and the finish is sent again if it does not get through.
    flight->phase = Phase::Finishing;
    flight->outcome = outcome;
    flight->envelope = envelope;
    flight->storeMs = QByteArray::number(cached && outcome.ok ? ttl + staleFor : 0);
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
        { flight->token, flight->envelope, flight->storeMs, flight->storeMs != "0" ? "1" : "0",
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
        ++m_stats[Counter::LostLeases];
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

} // namespace DistributedPromiseDetail
