// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromisewrapper.h"

#include <QtCore/QVariantMap>

#include <array>
#include <atomic>

namespace DistributedPromiseDetail {

/*! Every counter of DistributedPromiseStats; a new counter is one line here and one member
    there. */
enum class Counter {
    Calls,
    Hits,
    Misses,
    Coalesced,
    Won,
    Waited,
    Takeovers,
    LostLeases,
    LocalRuns,
    Errors,
    Cancelled,
    Reconnects,
    Stale,
    Refreshes,
    EagerRefreshes,
    Invalidations,
    Count
};

/*! The counters of one wrapper: written on its thread, read from any. */
class Stats
{
public:
    std::atomic<quint64> &operator[](Counter counter) { return m_values[size_t(counter)]; }
    DistributedPromiseStats snapshot() const;
    /*! The same as a map from each counter's name (as in DistributedPromiseStats). */
    static QVariantMap toMap(const DistributedPromiseStats &stats);

private:
    std::array<std::atomic<quint64>, size_t(Counter::Count)> m_values {};
};

} // namespace DistributedPromiseDetail
