// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"
#include "distributedpromisewrapper.h"
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
    enum class Phase { Checking, Acquiring, Waiting, Working };
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
        Phase phase = Phase::Checking;
        QByteArray token;
        bool subscribed = false;
        bool acquiring = false;
        bool reacquire = false;
        bool waitedBefore = false;
        bool local = false;
        bool leaseLost = false;
        std::unique_ptr<QTimer> deadlineTimer;
        std::unique_ptr<QTimer> leaseTimer; // renewal while working, takeover check while waiting
    };

    /*! The flight \a id while it is in flight, else null (flights end and identities return). */
    Flight *find(quint64 id) const { return m_byId.value(id); }
    /*! Keeps a finished flight for reuse (fewer allocations per call). */
    void recycle(std::unique_ptr<Flight> flight);
    std::unique_ptr<QTimer> flightTimer(
        Flight *flight, void (Coordinator::*action)(Flight *), bool singleShot);
    void addCaller(
        Flight *flight, std::unique_ptr<Waiter> waiter, std::chrono::milliseconds timeout);
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
    void renewLease(Flight *flight);
    void workDone(quint64 id, DistributedPromiseDetail::Outcome outcome);
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
    const DistributedPromiseRedis::Script m_renew;
    const DistributedPromiseRedis::Script m_finish;
    const DistributedPromiseRedis::Script m_discard;
    QByteArray m_publish = QByteArrayLiteral("PUBLISH"); // the finish script's publish command
    std::unique_ptr<DistributedPromiseRedis::Client> m_client;
    QHash<QByteArray, Flight *> m_flights; // by identity; owned
    QHash<quint64, Flight *> m_byId; // the same flights, by id
    std::vector<std::unique_ptr<Flight>> m_spareFlights;
    QList<QByteArray> m_getArgs { QByteArrayLiteral("GET"), QByteArray() };
    QHash<QByteArray, Flight *> m_byChannel;
    quint64 m_nextId = 0;
    bool m_everConnected = false;
    bool m_outageWarned = false;
    AtomicStats m_stats;
    QTimer m_sweepTimer;
};

} // namespace DistributedPromiseDetail
