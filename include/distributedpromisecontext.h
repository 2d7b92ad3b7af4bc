// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QtGlobal>

#include <atomic>
#include <chrono>
#include <memory>

namespace DistributedPromiseDetail {
/*! What the work said about its own entry; written by the work (any thread), read once the work
    is done. Negative: not set. */
struct ContextData
{
    std::atomic<qint64> ttlMs { -1 };
    std::atomic<qint64> staleForMs { -1 };
    std::atomic<bool> doNotCache { false };
};
} // namespace DistributedPromiseDetail

/*!
    \class DistributedPromiseContext
    \brief Lets wrapped work decide how its own outcome is cached.

    Work whose first parameter is a DistributedPromiseContext (by value) gets one per execution;
    the context is not an argument of the call and not part of its identity:

    \code
    auto lookup = wrapper.wrap(QStringLiteral("user"), [](DistributedPromiseContext ctx, int id) {
        std::optional<User> user = db.find(id);
        if (!user)
            ctx.setTtl(std::chrono::seconds(5)); // a short negative cache
        return user;
    });
    \endcode

    Copies share one state, so the context may be handed to a thread (QtConcurrent::run) and set
    there; what is set when the work's outcome is ready counts. Errors are never cached, whatever
    the context says. No Redis round trip.

    \since 0.3
*/
class DistributedPromiseContext
{
public:
    /*! Used by the wrapper for each execution; work gets its context as a parameter. */
    explicit DistributedPromiseContext(std::shared_ptr<DistributedPromiseDetail::ContextData> data)
        : m_data(std::move(data))
    { }

    /*! This outcome stays fresh for \a ttl instead of the configured ttl (0 = do not cache it;
        ttlJitter is not added to a ttl set here). */
    void setTtl(std::chrono::milliseconds ttl) { m_data->ttlMs = qMax<qint64>(0, ttl.count()); }
    /*! This outcome may be served stale for \a staleFor after its ttl, instead of the
        configured staleFor. */
    void setStaleFor(std::chrono::milliseconds staleFor)
    {
        m_data->staleForMs = qMax<qint64>(0, staleFor.count());
    }
    /*! This outcome is not cached: it reaches the callers waiting now, in every process, and the
        next call runs the work again. */
    void doNotCache() { m_data->doNotCache = true; }

private:
    std::shared_ptr<DistributedPromiseDetail::ContextData> m_data;
};
