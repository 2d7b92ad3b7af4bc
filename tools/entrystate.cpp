// SPDX-License-Identifier: MIT
#include "entrystate.h"

#include "inspector.h"

namespace DistributedPromiseInspect {

namespace {
constexpr QByteArrayView valueField("\"value\":");
} // namespace

bool EntryState::isStale() const
{
    return readable && life.ttlMs >= 0 && life.staleForMs > 0 && pttlMs >= 0
        && pttlMs <= life.staleForMs;
}

qint64 EntryState::freshForMs() const
{
    if (pttlMs < 0)
        return -1;
    return std::max<qint64>(0, pttlMs - (life.ttlMs >= 0 ? life.staleForMs : 0));
}

QString EntryState::stateText() const
{
    if (!readable)
        return QStringLiteral("unreadable");
    if (!outcome.ok)
        return QStringLiteral("error");
    return isStale() ? QStringLiteral("stale") : QStringLiteral("fresh");
}

QString EntryState::sizeText() const
{
    return sizeBytes < 0 ? QStringLiteral("?") : QStringLiteral("%1 B").arg(sizeBytes);
}

QString EntryState::ttlText() const
{
    return pttlMs == -1 ? QStringLiteral("none") : Inspector::duration(pttlMs);
}

QJsonObject EntryState::toJson() const
{
    QJsonObject object { { QStringLiteral("sizeBytes"), sizeBytes },
        { QStringLiteral("pttlMs"), pttlMs }, { QStringLiteral("state"), stateText() } };
    if (readable && outcome.ok)
        object.insert(QStringLiteral("freshForMs"), freshForMs());
    if (life.ttlMs >= 0) {
        object.insert(QStringLiteral("ttlMs"), life.ttlMs);
        object.insert(QStringLiteral("staleForMs"), life.staleForMs);
    }
    return object;
}

bool headHoldsLife(const QByteArray &head) { return head.contains(valueField); }

EntryState entryState(qint64 sizeBytes, qint64 pttlMs, const QByteArray &bytes, bool partial)
{
    EntryState state;
    state.sizeBytes = sizeBytes;
    state.pttlMs = pttlMs;
    if (!partial) {
        state.readable
            = DistributedPromiseProtocol::decodeEnvelope(bytes, &state.outcome, &state.life);
        state.complete = state.readable;
        return state;
    }
    // Only the head was read: the envelope up to its value, closed with a null value, reads as
    // the library would read the whole one (the value aside).
    const qsizetype at = bytes.indexOf(valueField);
    if (at < 0)
        return state;
    const QByteArray closed = bytes.left(at + valueField.size()) + QByteArrayLiteral("null}");
    state.readable
        = DistributedPromiseProtocol::decodeEnvelope(closed, &state.outcome, &state.life);
    return state;
}

} // namespace DistributedPromiseInspect
