// SPDX-License-Identifier: MIT
#include "stats_p.h"

namespace DistributedPromiseDetail {

namespace {
struct CounterField
{
    Counter counter;
    const char *name;
    quint64 DistributedPromiseStats::*member;
};
#define DP_COUNTER(counter, member)                                                                \
    CounterField { Counter::counter, #member, &DistributedPromiseStats::member }
constexpr CounterField counterFields[] = {
    DP_COUNTER(Calls, calls),
    DP_COUNTER(Hits, hits),
    DP_COUNTER(Misses, misses),
    DP_COUNTER(Coalesced, coalesced),
    DP_COUNTER(Won, won),
    DP_COUNTER(Waited, waited),
    DP_COUNTER(Takeovers, takeovers),
    DP_COUNTER(LostLeases, lostLeases),
    DP_COUNTER(LocalRuns, localRuns),
    DP_COUNTER(Errors, errors),
    DP_COUNTER(Cancelled, cancelled),
    DP_COUNTER(Reconnects, reconnects),
    DP_COUNTER(Stale, stale),
    DP_COUNTER(Refreshes, refreshes),
    DP_COUNTER(EagerRefreshes, eagerRefreshes),
    DP_COUNTER(Invalidations, invalidations),
};
#undef DP_COUNTER
static_assert(std::size(counterFields) == size_t(Counter::Count),
    "every Counter needs a line in counterFields");
} // namespace

DistributedPromiseStats Stats::snapshot() const
{
    DistributedPromiseStats stats;
    for (const CounterField &field : counterFields)
        stats.*field.member = m_values[size_t(field.counter)].load(std::memory_order_relaxed);
    return stats;
}

QVariantMap Stats::toMap(const DistributedPromiseStats &stats)
{
    QVariantMap map;
    for (const CounterField &field : counterFields)
        map.insert(QLatin1String(field.name), stats.*field.member);
    return map;
}

} // namespace DistributedPromiseDetail
