// SPDX-License-Identifier: MIT
#include "leasekeeper_p.h"

#include "protocol_p.h"

#include <QtCore/QThread>
#include <QtCore/QTimer>

using DistributedPromiseRedis::Reply;
using std::chrono::steady_clock;

namespace DistributedPromiseDetail {

/*! The keeper's half on its own thread: the Redis client and the tick. */
class LeaseKeeper::Worker : public QObject
{
public:
    explicit Worker(LeaseKeeper *keeper)
        : m_keeper(keeper)
        , m_renew(DistributedPromiseProtocol::renewScript)
        , m_leaseMs(QByteArray::number(qint64(keeper->m_lease.count())))
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        // A tenth of the lease, so that a failed renewal is tried several times before the
        // lease runs out; at most a second, at least 10 ms.
        m_timer.setInterval(std::clamp(
            keeper->m_lease / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(1000)));
        connect(&m_timer, &QTimer::timeout, this, &Worker::tick);
    }

    /*! On the worker's thread: (re)starts ticking, opening the connection the first time. */
    void start()
    {
        if (!m_client) {
            m_client = DistributedPromiseRedis::Client::create(
                m_keeper->m_endpoint, m_keeper->m_options, { m_renew.source });
            m_client->open();
        }
        if (!m_timer.isActive())
            m_timer.start();
    }

private:
    void tick()
    {
        struct Due
        {
            quint64 id;
            QByteArray lockKey;
            QByteArray token;
        };
        QList<Due> due;
        QList<quint64> lapsed;
        const steady_clock::time_point now = steady_clock::now();
        {
            QMutexLocker locker(&m_keeper->m_mutex);
            if (m_keeper->m_leases.isEmpty()) {
                m_timer.stop();
                m_keeper->m_ticking = false;
                return;
            }
            for (auto it = m_keeper->m_leases.begin(); it != m_keeper->m_leases.end(); ++it) {
                Lease &lease = it.value();
                const auto age = now - lease.renewedAt;
                if (!lease.lapsed && age > m_keeper->m_lease) {
                    lease.lapsed = true;
                    lapsed.append(it.key());
                }
                if (lease.inFlight || age < m_keeper->m_lease / 3)
                    continue;
                lease.inFlight = true;
                due.append({ it.key(), lease.lockKey, lease.token });
            }
        }
        for (const quint64 id : std::as_const(lapsed))
            m_keeper->post(id, Event::Lapsed);
        for (const Due &lease : std::as_const(due)) {
            m_client->eval(m_renew, { lease.lockKey }, { lease.token, m_leaseMs },
                [this, id = lease.id, sentAt = now](
                    const Reply &reply) { onRenewed(id, sentAt, reply); });
        }
    }

    void onRenewed(quint64 id, steady_clock::time_point sentAt, const Reply &reply)
    {
        std::optional<Event> event;
        {
            QMutexLocker locker(&m_keeper->m_mutex);
            auto it = m_keeper->m_leases.find(id);
            if (it == m_keeper->m_leases.end())
                return; // released meanwhile
            it->inFlight = false;
            if (!reply.isInteger())
                return; // not through (connection down, Redis busy): the next tick tries again
            if (reply.integer == 1) {
                it->renewedAt = sentAt; // the lease runs from when the renewal was sent
                it->lapsed = false;
                return;
            }
            event = reply.integer == 0 ? Event::Lost : Event::Lapsed;
            m_keeper->m_leases.erase(it);
        }
        m_keeper->post(id, *event);
    }

    LeaseKeeper *const m_keeper;
    const DistributedPromiseRedis::Script m_renew;
    const QByteArray m_leaseMs;
    std::unique_ptr<DistributedPromiseRedis::Client> m_client;
    QTimer m_timer { this }; // a child, so that it moves to the keeper's thread too
};

LeaseKeeper::LeaseKeeper(const DistributedPromiseRedis::Endpoint &endpoint,
    const DistributedPromiseRedis::ConnectionOptions &options, std::chrono::milliseconds lease,
    QObject *context, Report report)
    : m_endpoint(endpoint)
    , m_options(options)
    , m_lease(lease)
    , m_context(context)
    , m_report(std::move(report))
{ }

LeaseKeeper::~LeaseKeeper()
{
    if (!m_thread)
        return;
    // The worker and its client go on their own thread, then the thread ends.
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker] { delete worker; }, Qt::BlockingQueuedConnection);
    m_thread->quit();
    m_thread->wait();
}

void LeaseKeeper::hold(quint64 id, const QByteArray &lockKey, const QByteArray &token,
    steady_clock::time_point takenAt)
{
    bool wake = false;
    {
        QMutexLocker locker(&m_mutex);
        m_leases.insert(id, Lease { lockKey, token, takenAt });
        wake = !std::exchange(m_ticking, true);
    }
    if (!m_thread) {
        m_thread = std::make_unique<QThread>();
        m_thread->setObjectName(QStringLiteral("DistributedPromise lease keeper"));
        m_worker = new Worker(this);
        m_worker->moveToThread(m_thread.get());
        m_thread->start();
    }
    if (wake)
        QMetaObject::invokeMethod(m_worker, &Worker::start, Qt::QueuedConnection);
}

void LeaseKeeper::release(quint64 id)
{
    QMutexLocker locker(&m_mutex);
    m_leases.remove(id);
}

void LeaseKeeper::post(quint64 id, Event event)
{
    QMetaObject::invokeMethod(
        m_context, [report = m_report, id, event] { report(id, event); }, Qt::QueuedConnection);
}

} // namespace DistributedPromiseDetail
