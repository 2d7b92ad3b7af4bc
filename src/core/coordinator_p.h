// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"
#include "distributedpromisewrapper.h"
#include "leasekeeper_p.h"
#include "protocol_p.h"
#include "redisclient_p.h"
#include "stats_p.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <atomic>
#include <memory>
#include <unordered_map>
#include <vector>

namespace DistributedPromiseDetail {

/*! Shared by the wrapper and every Registration; null once the wrapper is gone. */
struct CoreHandle
{
    QMutex mutex;
    class Coordinator *coordinator = nullptr;
};

/*!
    The protocol for one wrapper, on the wrapper's thread: in-process coalescing by identity,
    cache check, lock with a lease, waiting on the channel, takeover, publish.
*/
class Coordinator : public QObject
{
    Q_OBJECT
public:
    Coordinator(const DistributedPromiseConfig &config, const QString &configError,
        QObject *parent = nullptr);
    ~Coordinator() override;

    void call(const std::shared_ptr<Registration> &registration, const QJsonArray &args,
        std::unique_ptr<Waiter> waiter, CallKind kind = CallKind::Call);
    bool isConnected() const { return m_client && m_client->isConnected(); }
    /*! Why the configuration (including the Redis URL) is unusable, or empty. */
    QString configurationError() const { return m_configError; }
    Stats &stats() { return m_stats; }

    /*! callFinished() is emitted from now on (it costs a clock read per call). */
    void measureCalls() { m_measuring = true; }

Q_SIGNALS:
    void connectedChanged(bool connected);
    void callFinished(const DistributedPromiseCallEvent &event);

private:
    struct Caller
    {
        std::unique_ptr<Waiter> waiter;
        QDeadlineTimer deadline;
        std::chrono::milliseconds timeout;
        bool wantsFresh = false; ///< refresh(): never answered from the entry being refreshed
        bool coalesced = false; ///< joined a flight already under way
        std::chrono::steady_clock::time_point since; ///< when the call came (while measuring)
    };
    /*! Where a flight is; see docs/protocol.md for what each step does when it fails. */
    enum class Phase {
        Checking, ///< GET of the data key on its way
        Acquiring, ///< the lock script on its way (first attempt)
        Waiting, ///< another process holds the lock; subscribed to the channel
        Working, ///< this process holds the lock (or runs locally) and the work runs
        Finishing, ///< the work is done; the finish script is on its way, or is sent again
    };
    /*! Why a flight runs the work although an entry exists. */
    enum class Refresh {
        None, ///< a plain call: runs the work only on a miss
        Stale, ///< the entry is past its ttl: refresh it; callers get it after softTimeout
        Eager, ///< a hit late in its ttl: refresh in the background; callers got the value
        OnDemand, ///< refresh(): run the work, whatever the cache holds
    };
    /*! The entry a refresh started from: what callers get should the fresh value be late
        (softTimeout) or fail (failSafe). */
    struct Fallback
    {
        bool present = false;
        bool stale = false;
        bool serving = false; ///< handed to every caller at once (after softTimeout, or eager)
        Outcome outcome;
        qint64 ageMs = -1; ///< when read
        std::chrono::steady_clock::time_point readAt;
    };
    struct Flight
    {
        quint64 id = 0;
        QByteArray identity;
        DistributedPromiseProtocol::Keys keys;
        std::shared_ptr<Registration> registration;
        /*! The identity as text, for messages. */
        QString displayKey() const { return QString::fromUtf8(identity); }
        QJsonArray args;
        std::vector<Caller> callers;
        /*! The identities whose work made this call, innermost last (empty for most calls). */
        QList<QByteArray> ancestors;
        Phase phase = Phase::Checking;
        QByteArray token; ///< this process's latest lock attempt
        QByteArray awaited; ///< while waiting: the holder's token (its outcome is ours too)
        int announced = 0; ///< the DistributedPromise::Phase told to the callers
        QString announcedText;
        std::chrono::steady_clock::time_point acquireSentAt;
        bool subscribed = false;
        bool acquiring = false;
        bool reacquire = false;
        bool waitedBefore = false;
        bool local = false;
        bool holding = false; ///< the lease keeper renews this flight's lock
        bool finishInFlight = false;
        bool wantsAge = false; ///< a caller wants the value's age: read with the read script
        Refresh refresh = Refresh::None;
        /*! A cached entry counts for the lock script only with more than this left (ms; -1: any;
            -2: the lock script does not look at the cache). */
        qint64 minRemaining = -1;
        Fallback fallback;
        qint64 generation = 0; ///< of the wrap key, when the identity was made
        std::chrono::steady_clock::time_point workStarted; ///< while measuring
        qint64 workMs = -1; ///< how long the work ran here (while measuring)
        Outcome outcome; ///< Finishing: what the work gave
        QByteArray envelope; ///< Finishing: outcome, encoded
        QByteArray storeMs; ///< Finishing: how long Redis keeps the entry ("0": not cached)
        QDeadlineTimer finishUntil; ///< Finishing: give up publishing after this
        std::chrono::milliseconds finishRetry { 0 };
        std::unique_ptr<QTimer> deadlineTimer; ///< the earliest caller deadline
        std::unique_ptr<QTimer> takeoverTimer; ///< Waiting: look again when the lease runs out
        QDeadlineTimer workUntil; ///< Working: maxWorkTime runs out (m_workLimitTimer)
        std::unique_ptr<QTimer> finishRetryTimer; ///< Finishing: send the finish again
        std::unique_ptr<QTimer> softTimer; ///< a stale fallback goes to the callers (softTimeout)
        /*! Goes on without callers: a refresh whose callers were answered from the entry. */
        bool background() const { return refresh == Refresh::Stale || refresh == Refresh::Eager; }
    };
    /*! A peek or invalidate that waits for its wrap key's generation to be known. */
    struct Deferred
    {
        std::shared_ptr<Registration> registration;
        QJsonArray args;
        std::unique_ptr<Waiter> waiter;
        CallKind kind;
    };
    /*! Per wrap key: the generation its identities are in (see invalidateAll). */
    struct WrapState
    {
        QString key;
        qint64 generation = 0;
        bool known = false; ///< read from Redis (or assumed while Redis is away)
        bool fetching = false;
        bool subscribed = false;
        QByteArray identityPrefix; ///< "key S" or "key S ~g S"
        QByteArray keyAndSeparator;
        QByteArray channel;
        std::vector<Deferred> deferred; ///< peek, invalidate before the generation is known
        std::vector<quint64> parked; ///< flights made before the generation was known
    };
    /*! Age and staleness of an entry, from its life and the time Redis says it has left. */
    struct Freshness
    {
        bool stale = false;
        bool eager = false;
        qint64 ageMs = -1;
        /*! Eager: an entry with more than this left (ms) is newer than the one read. */
        qint64 newerAboveMs = -1;
    };

    /*! The entry was read with GET: the time it has left (PTTL) is not known. */
    static constexpr qint64 pttlNotRead = -3;
    /*! Waiters that cannot be notified (the Redis user may not publish) look again this often. */
    static constexpr qint64 pollIntervalMs = 100;

    /*! The work running on this thread, if any: calls it makes are part of its chain. */
    struct WorkScope
    {
        QByteArray identity;
        QList<QByteArray> ancestors;
        const WorkScope *outer = nullptr;
    };
    static thread_local const WorkScope *t_work;

    /*! The flight \a id while it is in flight, else null (flights end and identities return). */
    Flight *find(quint64 id) const { return m_byId.value(id); }
    /*! call() after the counting: also runs the calls that waited for their generation. */
    void dispatch(const std::shared_ptr<Registration> &registration, const QJsonArray &args,
        std::unique_ptr<Waiter> waiter, CallKind kind);
    /*! Keeps a finished flight for reuse (fewer allocations per call). */
    void recycle(std::unique_ptr<Flight> flight);
    /*! \a timer of \a flight (single-shot, calling \a action), made on first use. */
    QTimer *timerOf(Flight *flight, std::unique_ptr<QTimer> Flight::*timer,
        void (Coordinator::*action)(Flight *));
    void addCaller(Flight *flight, std::unique_ptr<Waiter> waiter,
        std::chrono::milliseconds timeout, bool wantsFresh, bool joined = false);
    /*! Takes out the callers whose futures were cancelled (their Cancelled comes later, from the
        event loop); returns whether any caller is left. */
    bool pruneCancelled(Flight *flight);
    /*! Tells every caller of \a flight that it reached \a phase (once per phase). */
    void announce(Flight *flight, int phase, const QString &text);
    /*! Fails \a callers with \a error from the event loop, never from the current call stack. */
    static void cancelLater(
        std::shared_ptr<std::vector<Caller>> callers, const DistributedPromiseError &error);
    void initSweeping();
    void armDeadline(Flight *flight);
    void sweepCallers(Flight *flight);
    void startSweeping();
    void sweepCancelled();
    /*! Calls \a action on every flight in one of \a phases; returns how many there were. When
        it returns more than 0, this object may have been destroyed by a caller's continuation. */
    qsizetype forEachFlight(
        std::initializer_list<Phase> phases, void (Coordinator::*action)(Flight *));
    /*! Sends the flight's first command: the cache check, or the lock script. */
    void start(Flight *flight);
    Flight *newFlight(const std::shared_ptr<Registration> &registration, const QByteArray &identity,
        const QJsonArray &args);
    void checkCache(Flight *flight);
    void onCacheReply(Flight *flight, const DistributedPromiseRedis::Reply &reply);
    /*! A readable entry: a hit, or (stale, eager) the start of a refresh. */
    void onEntry(Flight *flight, const Outcome &outcome,
        const DistributedPromiseProtocol::EntryLife &life, qint64 pttl);
    Freshness freshness(
        const Flight *flight, const DistributedPromiseProtocol::EntryLife &life, qint64 pttl) const;
    /*! Answers the callers with the fallback (stale or eager value), keeps the flight going. */
    void serveFallback(Flight *flight);
    /*! Resolves \a waiter with \a outcome's value, telling it the age first. */
    void resolveWith(Waiter &waiter, const Outcome &outcome, bool stale, qint64 ageMs);
    qint64 fallbackAge(const Flight *flight) const;
    /*! The flight of \a identity no longer takes new callers (invalidated): it ends on its own. */
    void detach(const QByteArray &identity);
    WrapState *wrapState(const QString &key, const QByteArray &keyAndSeparator);
    void fetchGeneration(WrapState *wrap);
    void setGeneration(WrapState *wrap, qint64 generation);
    void peek(const QByteArray &identity, std::unique_ptr<Waiter> waiter);
    void invalidate(const QByteArray &identity, std::unique_ptr<Waiter> waiter);
    void invalidateAll(WrapState *wrap, std::unique_ptr<Waiter> waiter);
    /*! Fails \a waiter with the error a reply to a command of its own carries, if any. */
    bool failedReply(
        Waiter &waiter, const DistributedPromiseRedis::Reply &reply, const QString &key);
    std::chrono::milliseconds ttlOf(const Registration &registration) const;
    std::chrono::milliseconds staleForOf(const Registration &registration) const;
    bool failSafeHolds(const QByteArray &identity);
    void startFailSafePause(const Flight *flight);
    void acquire(Flight *flight);
    void onAcquired(Flight *flight, const DistributedPromiseRedis::Reply &reply);
    void wait(Flight *flight, qint64 lockTtl);
    void startWork(Flight *flight);
    void runWork(quint64 id);
    /*! Runs the works startWork() queued, from one posted event. */
    void runQueuedWork();
    /*! Ends the works past maxWorkTime; arms m_workLimitTimer for the next limit. */
    void checkWorkLimits();
    void workLimitReached(Flight *flight);
    void workDone(quint64 id, DistributedPromiseDetail::Outcome outcome);
    void sendFinish(Flight *flight);
    void onFinished(Flight *flight, const DistributedPromiseRedis::Reply &reply);
    void onLeaseEvent(quint64 id, LeaseKeeper::Event event);
    /*! Gives the lock taken with \a token back and tells the waiters to try at once. */
    void releaseLock(const DistributedPromiseProtocol::Keys &keys, const QByteArray &token);
    /*! The same for a lock script whose reply was lost (it may have run): now, or on reconnect. */
    void releaseUnanswered(const DistributedPromiseProtocol::Keys &keys, const QByteArray &token);
    /*! Reads what the server allows (publishing, eviction) once per connect, and says so. */
    void checkServer();
    /*! Ends every flight: locks held are given back, callers get Cancelled (with \a reason),
        now or (\a later) from the event loop. Returns whether any caller was told. */
    bool shutDown(const QString &reason, bool later);
    void redisUnavailable(Flight *flight, const DistributedPromiseRedis::Reply &reply);
    void discardCorrupt(Flight *flight, const QByteArray &what);
    /*! Ends \a flight with \a outcome (a value computed \a ageMs ago, -1: unknown); a failure
        with a fallback at hand and failSafe on gives the callers the fallback. */
    void finish(Flight *flight, const Outcome &outcome, qint64 ageMs = 0);
    void settleHit(Flight *flight, const QString &text);
    /*! Emits callFinished() for \a caller of \a flight, when measuring. */
    void report(const Flight *flight, const Caller &caller,
        DistributedPromiseCallEvent::Outcome outcome, int errorCode = -1);
    /*! What happened to the callers of \a flight, settled now with a value. */
    DistributedPromiseCallEvent::Outcome outcomeOf(const Flight *flight) const;
    void settleValue(Flight *flight, const Outcome &outcome, bool stale, qint64 ageMs);
    /*! Ends \a flight and hands every caller's waiter to \a deliver. */
    template<typename Deliver>
    void settle(Flight *flight, DistributedPromiseCallEvent::Outcome outcome, int errorCode,
        Deliver deliver);
    void abandon(Flight *flight);
    void unsubscribe(Flight *flight);
    void onMessage(const QByteArray &channel, const QByteArray &payload);
    void onSubscribed(const QByteArray &channel);
    void recheckWaiters();
    std::unique_ptr<Flight> take(Flight *flight);
    template<typename F>
    auto guarded(Flight *flight, F handler);

    const DistributedPromiseConfig m_config;
    QString m_configError; // set once, in the constructor
    const QByteArray m_separator;
    const DistributedPromiseProtocol::KeyNames m_keyNames;
    const QByteArray m_leaseMs;
    const DistributedPromiseRedis::Script m_acquire;
    const DistributedPromiseRedis::Script m_finish;
    const DistributedPromiseRedis::Script m_release;
    const DistributedPromiseRedis::Script m_discard;
    const DistributedPromiseRedis::Script m_read;
    const DistributedPromiseRedis::Script m_invalidateAll;
    const QByteArray m_recordMs; // how long an uncached outcome stays recorded for waiters
    QByteArray m_publish = QByteArrayLiteral("PUBLISH"); // the finish script's publish command
    std::unique_ptr<DistributedPromiseRedis::Client> m_client;
    std::unique_ptr<LeaseKeeper> m_keeper;
    QHash<QByteArray, Flight *> m_flights; // by identity, those that take new callers
    QHash<quint64, Flight *> m_byId; // every flight, by id; owned
    std::vector<std::unique_ptr<Flight>> m_spareFlights;
    QMultiHash<QByteArray, Flight *> m_byChannel; // a detached flight may share its channel
    quint64 m_nextId = 0;
    bool m_everConnected = false;
    bool m_outageWarned = false;
    bool m_cannotPublish = false; // the Redis user may not publish: waiters poll
    std::atomic<bool> m_measuring { false }; // callFinished() has a receiver
    // Lock scripts whose reply was lost while disconnected: released by token on reconnect.
    std::vector<std::pair<DistributedPromiseProtocol::Keys, QByteArray>> m_unanswered;
    Stats m_stats;
    QTimer m_sweepTimer;
    std::vector<quint64> m_queuedWork; // flights whose work runs from the next posted event
    std::unique_ptr<QTimer> m_workLimitTimer; // due at the earliest maxWorkTime of a work
    std::unordered_map<QString, std::unique_ptr<WrapState>> m_wraps;
    QHash<QByteArray, WrapState *> m_wrapByChannel;
    /*! Identities whose refresh failed while a stale value was served (failSafe): not tried
        again before the deadline. */
    QHash<QByteArray, QDeadlineTimer> m_failSafePause;
};

} // namespace DistributedPromiseDetail
