// SPDX-License-Identifier: MIT
// Freshness: how old an entry is and what that means (fresh, eager refresh, stale), the fallback
// a refresh starts from (softTimeout, failSafe), and removing entries: one (invalidate) or every
// one of a wrap key (its generation, invalidateAll). peek reads without a flight.
#include "coordinator_p.h"

#include "logging_p.h"

#include <QtCore/QPointer>

using DistributedPromiseRedis::Reply;

namespace DistributedPromiseDetail {

namespace {
// A failed refresh served stale (failSafe) is tried again after its ttl, within these bounds.
constexpr std::chrono::milliseconds failSafePauseMin(1000);
constexpr std::chrono::milliseconds failSafePauseMax(30000);
} // namespace

Coordinator::Freshness Coordinator::freshness(
    const Flight *flight, const DistributedPromiseProtocol::EntryLife &life, qint64 pttl) const
{
    // From the time Redis says the entry has left, never from a clock: the entry was written to
    // live ttl + staleFor, and is stale once no more than staleFor is left.
    Freshness result;
    if (pttl < 0)
        return result; // not read, or no expiry: fresh, age unknown
    const qint64 ttl = life.ttlMs >= 0 ? life.ttlMs : ttlOf(*flight->registration).count();
    result.ageMs = std::max<qint64>(0, ttl + life.staleForMs - pttl);
    result.stale = life.staleForMs > 0 && pttl <= life.staleForMs;
    result.eager = !result.stale && m_config.eagerRefresh > 0 && ttl > 0
        && double(result.ageMs) >= m_config.eagerRefresh * double(ttl);
    if (result.eager)
        result.newerAboveMs = ttl + life.staleForMs - qint64(m_config.eagerRefresh * double(ttl));
    return result;
}

void Coordinator::onEntry(Flight *flight, const Outcome &outcome,
    const DistributedPromiseProtocol::EntryLife &life, qint64 pttl)
{
    if (life.staleForMs > 0 && pttl == pttlNotRead) {
        // Written with staleFor by a process configured otherwise: read its remaining time too.
        flight->wantsAge = true;
        return checkCache(flight);
    }
    const Freshness fresh = freshness(flight, life, pttl);
    const bool paused = (fresh.stale || fresh.eager) && failSafeHolds(flight->identity);
    if (!fresh.stale && (!fresh.eager || paused)) {
        ++m_stats[Counter::Hits];
        return finish(flight, outcome, fresh.ageMs);
    }
    if (paused) {
        // The last refresh failed a moment ago (failSafe): the stale value, no new attempt yet.
        ++m_stats[Counter::Misses];
        m_stats[Counter::Stale] += flight->callers.size();
        return settleValue(flight, outcome, true, fresh.ageMs);
    }
    Fallback &fallback = flight->fallback;
    fallback.present = true;
    fallback.outcome = outcome;
    fallback.stale = fresh.stale;
    fallback.ageMs = fresh.ageMs;
    fallback.readAt = std::chrono::steady_clock::now();
    if (fresh.eager) {
        // Answered now; one refresh fleet-wide, which stops as soon as a newer entry is seen.
        ++m_stats[Counter::Hits];
        flight->refresh = Refresh::Eager;
        flight->minRemaining = fresh.newerAboveMs;
        const quint64 id = flight->id;
        serveFallback(flight);
        if (Flight *still = find(id))
            acquire(still);
        return;
    }
    // Stale: refresh it; the callers get the fresh value, or the stale one after softTimeout.
    ++m_stats[Counter::Misses];
    flight->refresh = Refresh::Stale;
    flight->minRemaining = life.staleForMs;
    const std::chrono::milliseconds soft
        = flight->registration->softTimeout.value_or(m_config.softTimeout);
    if (soft.count() > 0)
        timerOf(flight, &Flight::softTimer, &Coordinator::serveFallback)->start(soft);
    acquire(flight);
}

void Coordinator::serveFallback(Flight *flight)
{
    // softTimeout: the callers get the entry the refresh started from; the refresh goes on, and
    // callers that come meanwhile get the entry at once.
    Fallback &fallback = flight->fallback;
    if (!fallback.present)
        return;
    fallback.serving = true;
    std::vector<Caller> waiting;
    auto &callers = flight->callers;
    for (auto it = callers.begin(); it != callers.end();) {
        if (it->wantsFresh) {
            ++it;
        } else {
            waiting.push_back(std::move(*it));
            it = callers.erase(it);
        }
    }
    armDeadline(flight);
    if (fallback.stale)
        m_stats[Counter::Stale] += waiting.size();
    const Outcome outcome = fallback.outcome;
    const bool stale = fallback.stale;
    const qint64 age = fallbackAge(flight);
    QPointer<Coordinator> self(this);
    for (Caller &caller : waiting) {
        resolveWith(*caller.waiter, outcome, stale, age);
        if (self)
            report(flight, caller,
                stale ? DistributedPromiseCallEvent::Stale : DistributedPromiseCallEvent::Hit);
    }
}

qint64 Coordinator::fallbackAge(const Flight *flight) const
{
    const Fallback &fallback = flight->fallback;
    if (fallback.ageMs < 0)
        return -1;
    return fallback.ageMs
        + std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - fallback.readAt)
              .count();
}

bool Coordinator::failSafeHolds(const QByteArray &identity)
{
    const auto it = m_failSafePause.find(identity);
    if (it == m_failSafePause.end())
        return false;
    if (!it->hasExpired())
        return true;
    m_failSafePause.erase(it);
    return false;
}

void Coordinator::startFailSafePause(const Flight *flight)
{
    constexpr qsizetype pruneAbove = 1024;
    if (m_failSafePause.size() > pruneAbove)
        m_failSafePause.removeIf([](const auto &entry) { return entry.value().hasExpired(); });
    const auto pause = std::clamp(ttlOf(*flight->registration), failSafePauseMin, failSafePauseMax);
    m_failSafePause.insert(flight->identity, QDeadlineTimer(pause));
}

void Coordinator::resolveWith(Waiter &waiter, const Outcome &outcome, bool stale, qint64 ageMs)
{
    waiter.setAge(stale, ageMs);
    waiter.resolve(outcome.value);
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
