// SPDX-License-Identifier: MIT
#pragma once

// What an entry of the cache is: its size, the time Redis gives it, and whether it is fresh or
// stale, decided as the library decides it (protocol_p.h, EntryLife): from PTTL, never clocks.

#include "protocol_p.h"

#include <QtCore/QJsonObject>

namespace DistributedPromiseInspect {

struct EntryState
{
    qint64 sizeBytes = 0;
    qint64 pttlMs = -2; ///< -1: no expiry
    bool readable = false; ///< an envelope the library reads
    bool complete = false; ///< outcome holds the whole envelope (not only its head)
    DistributedPromiseDetail::Outcome outcome;
    DistributedPromiseProtocol::EntryLife life;

    /*! An envelope written with staleFor: stale once PTTL is at most staleFor. */
    bool isStale() const;
    /*! How long it stays fresh, or -1 when that is not known (no expiry). */
    qint64 freshForMs() const;
    /*! "fresh", "stale", "error" (an outcome that failed) or "unreadable". */
    QString stateText() const;
    /*! "123 B", or "?" when it is no string (then it is unreadable too). */
    QString sizeText() const;
    /*! The time Redis gives it: "29m59s", or "none". */
    QString ttlText() const;
    /*! sizeBytes, pttlMs, state, and the life fields when the envelope has them. */
    QJsonObject toJson() const;
};

/*! \a head (an envelope's first bytes) reaches the start of its value: whatever life fields it
    has are in it. */
bool headHoldsLife(const QByteArray &head);
/*! The state of an entry of \a sizeBytes bytes and \a pttlMs, from \a bytes: the whole envelope,
    or with \a partial its first bytes only (then only the life fields are read). */
EntryState entryState(qint64 sizeBytes, qint64 pttlMs, const QByteArray &bytes, bool partial);

} // namespace DistributedPromiseInspect
