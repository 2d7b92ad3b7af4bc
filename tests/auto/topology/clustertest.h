// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the Redis Cluster tests: identities and channels of calls, the node a call's
// slot lives on, and what a node knows of a channel.

#include "redistopology.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QStringList>

namespace ClusterTest {

using DistributedPromiseTest::RedisClusterSetup;

/*! The identity of wrap key \a key called with the one string \a arg (docs/protocol.md). */
inline QByteArray identityOf(const QString &key, const QString &arg)
{
    return key.toUtf8() + ':' + QJsonDocument(QJsonArray { arg }).toJson(QJsonDocument::Compact);
}

/*! The first \a count of the arguments "a0", "a1", ... whose call of wrap key \a key lives on
    node \a node. */
inline QStringList argsOn(const RedisClusterSetup &cluster, const QString &key, int node, int count)
{
    QStringList args;
    for (int i = 0; args.size() < count; ++i) {
        const QString arg = QStringLiteral("a%1").arg(i);
        if (cluster.nodeForSlot(RedisClusterSetup::slotOf(identityOf(key, arg))) == node)
            args.append(arg);
    }
    return args;
}

/*! PUBSUB SHARDNUMSUB (shard == true) or NUMSUB of \a channel on \a node, or -1. */
inline int subscribersOn(
    DistributedPromiseTest::RedisServer &node, const QString &channel, bool shard)
{
    const QByteArrayList reply
        = node.cli({ QStringLiteral("PUBSUB"),
                       shard ? QStringLiteral("SHARDNUMSUB") : QStringLiteral("NUMSUB"), channel })
              .split('\n');
    return reply.size() == 2 ? reply.at(1).trimmed().toInt() : -1;
}

/*! The notification channel of dpworker's call slow(\a arg) under \a prefix. */
inline QString channelOf(const QString &prefix, const QString &arg)
{
    return prefix + QLatin1String(":notif:{")
        + QString::fromUtf8(identityOf(QStringLiteral("slow"), arg)) + QLatin1Char('}');
}

} // namespace ClusterTest
