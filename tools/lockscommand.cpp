// SPDX-License-Identifier: MIT
// locks [wrapKey]: the work locks held, where their holders run, and how long they have left.

#include "inspector.h"

#include <QtCore/QJsonArray>

namespace DistributedPromiseInspect {

using DistributedPromiseRedis::Reply;

namespace {
struct Lock
{
    QByteArray key;
    Identity identity;
    QByteArray token;
    qint64 pttlMs = -2;
};

// Lock tokens are "<random>.<counter>@<host>:<pid>" (docs/protocol.md): where the holder runs.
QString holderOf(const QByteArray &token)
{
    const qsizetype at = token.lastIndexOf('@');
    return at < 0 ? QStringLiteral("?") : QString::fromUtf8(token.sliced(at + 1));
}
} // namespace

int listLocks(Inspector &inspector, const QStringList &args)
{
    if (args.size() > 1)
        throw Failure { ExitCode::Usage, QStringLiteral("usage: locks [wrapKey]") };
    const QString wrapKey = args.value(0);
    if (inspector.isCluster())
        throw Failure { ExitCode::Usage,
            QStringLiteral("locks is not supported on a Redis Cluster (SCAN sees one node)") };
    inspector.connectToRedis();
    const QByteArray prefix = inspector.lockPrefix();
    const QByteArray pattern
        = Inspector::globEscape(
              prefix + (wrapKey.isEmpty() ? QByteArray() : inspector.keyAndSeparator(wrapKey)))
        + '*';
    QList<Lock> locks;
    for (const QByteArray &key : inspector.scan(pattern)) {
        Lock lock;
        lock.key = key;
        if (inspector.parseKey(key, prefix, &lock.identity, wrapKey))
            locks.append(lock);
    }
    QList<QList<QByteArray>> commands;
    for (const Lock &lock : std::as_const(locks)) {
        commands.append({ QByteArrayLiteral("GET"), lock.key });
        commands.append({ QByteArrayLiteral("PTTL"), lock.key });
    }
    const QList<Reply> replies = inspector.runAll(commands);
    QList<Lock> held;
    for (qsizetype i = 0; i < locks.size(); ++i) {
        Lock lock = locks.at(i);
        if (!replies.at(2 * i).isString())
            continue; // released since SCAN saw it
        lock.token = replies.at(2 * i).string;
        lock.pttlMs = replies.at(2 * i + 1).integer;
        held.append(lock);
    }
    std::sort(held.begin(), held.end(), [](const Lock &a, const Lock &b) { return a.key < b.key; });

    if (inspector.settings().json) {
        QJsonArray array;
        for (const Lock &lock : std::as_const(held)) {
            array.append(QJsonObject { { QStringLiteral("key"), QString::fromUtf8(lock.key) },
                { QStringLiteral("wrapKey"), lock.identity.wrapKey },
                { QStringLiteral("generation"), lock.identity.generation },
                { QStringLiteral("arguments"), QString::fromUtf8(lock.identity.arguments) },
                { QStringLiteral("holder"), holderOf(lock.token) },
                { QStringLiteral("token"), QString::fromUtf8(lock.token) },
                { QStringLiteral("pttlMs"), lock.pttlMs } });
        }
        Inspector::printJson({ { QStringLiteral("locks"), array } });
        return ExitCode::Success;
    }
    QList<QStringList> table { { QStringLiteral("WRAP KEY"), QStringLiteral("ARGUMENTS"),
        QStringLiteral("HOLDER"), QStringLiteral("EXPIRES IN") } };
    for (const Lock &lock : std::as_const(held)) {
        QString wrap = lock.identity.wrapKey;
        if (lock.identity.generation > 0)
            wrap += QStringLiteral(" (gen %1)").arg(lock.identity.generation);
        table.append({ wrap, inspector.truncated(QString::fromUtf8(lock.identity.arguments)),
            holderOf(lock.token),
            lock.pttlMs == -1 ? QStringLiteral("no expiry") : Inspector::duration(lock.pttlMs) });
    }
    if (!held.isEmpty())
        Inspector::printTable(table);
    Inspector::print(QStringLiteral("%1 %2 held")
                         .arg(held.size())
                         .arg(held.size() == 1 ? QStringLiteral("lock") : QStringLiteral("locks")));
    return ExitCode::Success;
}

} // namespace DistributedPromiseInspect
