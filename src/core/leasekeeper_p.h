// SPDX-License-Identifier: MIT
#pragma once

#include "redisclient_p.h"

#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QObject>

#include <chrono>
#include <functional>
#include <memory>

class QThread;

namespace DistributedPromiseDetail {

/*!
    Renews the leases of the locks a coordinator holds, from a thread of its own with a Redis
    connection of its own, so that a lease lives exactly as long as its work, even work that
    blocks the coordinator's event loop for longer than the lease.

    A lease is renewed when a third of it has passed since the last renewal Redis confirmed; a
    renewal that fails on the transport is tried again at every tick (a tenth of the lease, at
    most a second) until one succeeds. The thread and its connection start with the first
    hold() and live as long as the keeper.

    hold() and release() are for the coordinator's thread; \a report is called on that thread
    too (queued to \a context), never after the keeper is destroyed.
*/
class LeaseKeeper
{
public:
    enum class Event {
        Lost, ///< another attempt holds the lock now
        Lapsed, ///< no renewal got through within the lease, or the lock ran out with no holder
    };
    using Report = std::function<void(quint64 id, Event event)>;

    LeaseKeeper(const DistributedPromiseRedis::Endpoint &endpoint,
        const DistributedPromiseRedis::ConnectionOptions &options, std::chrono::milliseconds lease,
        QObject *context, Report report);
    ~LeaseKeeper();
    LeaseKeeper(const LeaseKeeper &) = delete;
    LeaseKeeper &operator=(const LeaseKeeper &) = delete;

    /*! Keeps the lock \a lockKey, taken with \a token by an attempt sent at \a takenAt (steady
        clock), until release(\a id). */
    void hold(quint64 id, const QByteArray &lockKey, const QByteArray &token,
        std::chrono::steady_clock::time_point takenAt);
    /*! Stops renewing; a renewal on its way is ignored. */
    void release(quint64 id);

private:
    class Worker;
    struct Lease
    {
        QByteArray lockKey;
        QByteArray token;
        std::chrono::steady_clock::time_point renewedAt;
        bool inFlight = false;
        bool lapsed = false;
    };

    /*! Reports \a event for \a id on the coordinator's thread; from the worker's thread. */
    void post(quint64 id, Event event);

    const DistributedPromiseRedis::Endpoint m_endpoint;
    const DistributedPromiseRedis::ConnectionOptions m_options;
    const std::chrono::milliseconds m_lease;
    QObject *const m_context;
    const Report m_report;
    QMutex m_mutex;
    QHash<quint64, Lease> m_leases; // guarded by m_mutex
    bool m_ticking = false; // guarded by m_mutex: the worker's timer runs
    std::unique_ptr<QThread> m_thread;
    Worker *m_worker = nullptr; // lives in m_thread
};

} // namespace DistributedPromiseDetail
