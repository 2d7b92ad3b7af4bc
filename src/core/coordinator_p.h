// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"
#include "distributedpromisewrapper.h"
#include "leasekeeper_p.h"
#include "protocol_p.h"
#include "redisclient_p.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <atomic>
#include <memory>
#include <vector>

namespace DistributedPromiseDetail {

/*! Shared by the wrapper and every Registration; null once the wrapper is gone. */
struct CoreHandle
{
    QMutex mutex;
    class Coordinator *coordinator = nullptr;
};

struct AtomicStats
{
    std::atomic<quint64> calls { 0 }, hits { 0 }, misses { 0 }, coalesced { 0 }, won { 0 },
        waited { 0 }, takeovers { 0 }, lostLeases { 0 }, localRuns { 0 }, errors { 0 },
        reconnects { 0 }, cancelled { 0 };
    DistributedPromiseStats snapshot() const;
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
        std::unique_ptr<Waiter> waiter);
    bool isConnected() const { return m_client && m_client->isConnected(); }
    /*! Why the configuration (including the Redis URL) is unusable, or empty. */
    QString configurationError() const { return m_configError; }
    AtomicStats &stats() { return m_stats; }

Q_SIGNALS:
    void connectedChanged(bool connected);

private:
    struct Caller
    {
        std::unique_ptr<Waiter> waiter;
        QDeadlineTimer deadline;
        std::chrono::milliseconds timeout;
    };
    /*! Where a flight is; see docs/protocol.md for what each step does when it fails. */
    enum class Phase {
        Checking, ///< GET of the data key on its way
        Acquiring, ///< the lock script on its way (first attempt)
        Waiting, ///< another process holds the lock; subscribed to the channel
        Working, ///< this process holds the lock (or runs locally) and the work runs
        Finishing, ///< the work is done; the finish script is on its way, or is sent again
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
        Outcome outcome; ///< Finishing: what the work gave
        QByteArray envelope; ///< Finishing: outcome, encoded
        QDeadlineTimer finishUntil; ///< Finishing: give up publishing after this
        std::chrono::milliseconds finishRetry { 0 };
        std::unique_ptr<QTimer> deadlineTimer; ///< the earliest caller deadline
        std::unique_ptr<QTimer> takeoverTimer; ///< Waiting: look again when the lease runs out
        std::unique_ptr<QTimer> workLimitTimer; ///< Working: maxWorkTime
        std::unique_ptr<QTimer> finishRetryTimer; ///< Finishing: send the finish again
    };

    /*! The flight \a id while it is in flight, else null (flights end and identities return). */
    Flight *find(quint64 id) const { return m_byId.value(id); }
    /*! Keeps a finished flight for reuse (fewer allocations per call). */
    void recycle(std::unique_ptr<Flight> flight);
    /*! \a timer of \a flight (single-shot, calling \a action), made on first use. */
    QTimer *timerOf(Flight *flight, std::unique_ptr<QTimer> Flight::*timer,
        void (Coordinator::*action)(Flight *));
    void addCaller(
        Flight *flight, std::unique_ptr<Waiter> waiter, std::chrono::milliseconds timeout);
    /*! Takes out the callers whose futures were cancelled (their Cancelled comes later, from the
        event loop); returns whether any caller is left. */
    bool pruneCancelled(Flight *flight);
    /*! Tells every caller of \a flight that it reached \a phase (once per phase). */
    void announce(Flight *flight, int phase, const QString &text);
    /*! Fails \a callers with \a error from the event loop, never from the current call stack. */
    static void cancelLater(
        std::shared_ptr<std::vector<Caller>> callers, const DistributedPromiseError &error);
    void armDeadline(Flight *flight);
    void sweepCallers(Flight *flight);
    void startSweeping();
    void sweepCancelled();
    /*! Calls \a action on every flight in one of \a phases; returns how many there were. When
        it returns more than 0, this object may have been destroyed by a caller's continuation. */
    qsizetype forEachFlight(
        std::initializer_list<Phase> phases, void (Coordinator::*action)(Flight *));
    void checkCache(Flight *flight);
    void onCacheReply(Flight *flight, const DistributedPromiseRedis::Reply &reply);
    void acquire(Flight *flight);
    void onAcquired(Flight *flight, const DistributedPromiseRedis::Reply &reply);
    void wait(Flight *flight, qint64 lockTtl);
    void startWork(Flight *flight);
    void runWork(quint64 id);
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
    void finish(Flight *flight, const DistributedPromiseDetail::Outcome &outcome);
    /*! Ends \a flight and hands every caller's waiter to \a deliver. */
    template<typename Deliver>
    void settle(Flight *flight, Deliver deliver);
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
    const QByteArray m_ttlMs;
    const DistributedPromiseRedis::Script m_acquire;
    const DistributedPromiseRedis::Script m_finish;
    const DistributedPromiseRedis::Script m_release;
    const DistributedPromiseRedis::Script m_discard;
    const QByteArray m_recordMs; // how long an uncached outcome stays recorded for waiters
    QByteArray m_publish = QByteArrayLiteral("PUBLISH"); // the finish script's publish command
    std::unique_ptr<DistributedPromiseRedis::Client> m_client;
    std::unique_ptr<LeaseKeeper> m_keeper;
    QHash<QByteArray, Flight *> m_flights; // by identity; owned
    QHash<quint64, Flight *> m_byId; // the same flights, by id
    std::vector<std::unique_ptr<Flight>> m_spareFlights;
    QHash<QByteArray, Flight *> m_byChannel;
    quint64 m_nextId = 0;
    bool m_everConnected = false;
    bool m_outageWarned = false;
    bool m_cannotPublish = false; // the Redis user may not publish: waiters poll
    // Lock scripts whose reply was lost while disconnected: released by token on reconnect.
    std::vector<std::pair<DistributedPromiseProtocol::Keys, QByteArray>> m_unanswered;
    AtomicStats m_stats;
    QTimer m_sweepTimer;
};

} // namespace DistributedPromiseDetail
