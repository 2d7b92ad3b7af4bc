// SPDX-License-Identifier: MIT
#pragma once

#include "redisendpoint_p.h"
#include "redisreply_p.h"

namespace DistributedPromiseRedis {

/*!
    What a Redis Cluster client needs to know about hash slots: the slot of a key (CRC16 of its
    {hash tag}), the key a command is routed by, and how to read the slot map (CLUSTER SLOTS)
    and the redirections (MOVED, ASK).
*/
namespace ClusterSlots {

constexpr int slotCount = 16384;

/*! The hash slot of \a key: CRC16 of its {hash tag}, or of the whole key, modulo 16384. */
int slotOf(const QByteArray &key);

/*! The key \a args is routed by: the first key of EVAL/EVALSHA, else the first argument. A
    null result means the command has no key (any node may run it). */
QByteArray routingKey(const QList<QByteArray> &args);

/*! A MOVED or ASK error reply. */
struct Redirection
{
    bool ask = false; ///< ASK (this command only), else MOVED (the slot moved)
    int slot = 0;
    Endpoint::Address address;
};

/*!
    Reads "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" into \a redirection; an
    empty host means \a sameHost. False when \a error is not one of them, or is malformed.
*/
bool parseRedirection(const QByteArray &error, const QString &sameHost, Redirection *redirection);
/*! Whether \a error is a MOVED or ASK reply (well formed or not). */
bool isRedirection(const QByteArray &error);

/*! One range of the slot map: the master serving slots first..last. */
struct SlotRange
{
    int first = 0;
    int last = 0;
    Endpoint::Address master;
    bool hasReplicas = false;
};

/*!
    Reads a CLUSTER SLOTS reply into \a ranges; a master without a host ("" or "?") is on
    \a sameHost. False when the reply is an error, empty or unreadable.
*/
bool parseSlots(const Reply &reply, const QString &sameHost, QList<SlotRange> *ranges);

} // namespace ClusterSlots

} // namespace DistributedPromiseRedis
