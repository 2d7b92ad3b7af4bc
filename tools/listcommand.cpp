// SPDX-License-Identifier: MIT
// list <wrapKey>: the entries of a wrap key with their size, time left and freshness.

#include "entrystate.h"
#include "inspector.h"

#include <QtCore/QJsonArray>

namespace DistributedPromiseInspect {

using DistributedPromiseRedis::Reply;

namespace {
// Bytes read of each entry: enough for the envelope's head (its life fields) and small values.
constexpr qint64 headBytes = 4096;
// Keys looked at per pipelined batch.
constexpr qsizetype batchSize = 200;

struct Row
{
    QByteArray key;
    Identity identity;
    EntryState state;
};
} // namespace

int listEntries(Inspector &inspector, const QStringList &args)
{
    if (args.size() != 1)
        throw Failure { ExitCode::Usage, QStringLiteral("usage: list <wrapKey>") };
    const QString wrapKey = args.at(0);
    if (inspector.isCluster())
        throw Failure { ExitCode::Usage,
            QStringLiteral("list is not supported on a Redis Cluster (SCAN sees one node); use "
                           "show with the arguments") };
    inspector.connectToRedis();
    const qint64 current = inspector.generation(wrapKey);
    const QByteArray prefix = inspector.dataPrefix();
    const QList<QByteArray> keys
        = inspector.scan(Inspector::globEscape(prefix + inspector.keyAndSeparator(wrapKey)) + '*');

    QList<Row> rows;
    qsizetype older = 0;
    QList<Row> batch;
    const auto readBatch = [&] {
        QList<QList<QByteArray>> commands;
        for (const Row &row : std::as_const(batch)) {
            commands.append({ QByteArrayLiteral("STRLEN"), row.key });
            commands.append({ QByteArrayLiteral("PTTL"), row.key });
            commands.append({ QByteArrayLiteral("GETRANGE"), row.key, QByteArrayLiteral("0"),
                QByteArray::number(headBytes - 1) });
        }
        const QList<Reply> replies = inspector.runAll(commands);
        for (qsizetype i = 0; i < batch.size(); ++i) {
            Row row = batch.at(i);
            const Reply &size = replies.at(3 * i);
            const Reply &pttl = replies.at(3 * i + 1);
            const Reply &head = replies.at(3 * i + 2);
            if (pttl.isInteger() && pttl.integer == -2)
                continue; // gone since SCAN saw it
            QByteArray whole = head.string;
            if (size.isInteger() && size.integer > headBytes && !headHoldsLife(head.string)) {
                // An envelope whose head says nothing yet (a long error message): read it all.
                const Reply all = inspector.run({ QByteArrayLiteral("GET"), row.key });
                whole = all.string;
            }
            row.state = entryState(size.isInteger() ? size.integer : -1,
                pttl.isInteger() ? pttl.integer : -2, head.isString() ? whole : QByteArray(),
                size.isInteger() && size.integer > whole.size());
            rows.append(row);
        }
        batch.clear();
    };
    for (const QByteArray &key : keys) {
        Row row;
        row.key = key;
        if (!inspector.parseKey(key, prefix, &row.identity, wrapKey))
            continue; // another wrap key that starts the same
        if (row.identity.generation != current && !inspector.settings().allGenerations) {
            ++older;
            continue;
        }
        batch.append(row);
        if (batch.size() >= batchSize)
            readBatch();
    }
    if (!batch.isEmpty())
        readBatch();
    std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
        return std::tie(a.identity.generation, a.identity.arguments)
            < std::tie(b.identity.generation, b.identity.arguments);
    });

    if (inspector.settings().json) {
        QJsonArray entries;
        for (const Row &row : std::as_const(rows)) {
            QJsonObject entry = row.state.toJson();
            entry.insert(QStringLiteral("key"), QString::fromUtf8(row.key));
            entry.insert(QStringLiteral("arguments"), QString::fromUtf8(row.identity.arguments));
            entry.insert(QStringLiteral("generation"), row.identity.generation);
            entries.append(entry);
        }
        Inspector::printJson({ { QStringLiteral("wrapKey"), wrapKey },
            { QStringLiteral("generation"), current }, { QStringLiteral("entries"), entries },
            { QStringLiteral("olderGenerationEntries"), qint64(older) } });
        return ExitCode::Success;
    }
    const bool withGeneration = inspector.settings().allGenerations;
    QList<QStringList> table;
    QStringList header { QStringLiteral("ARGUMENTS"), QStringLiteral("SIZE"), QStringLiteral("TTL"),
        QStringLiteral("STATE") };
    if (withGeneration)
        header.prepend(QStringLiteral("GEN"));
    table.append(header);
    for (const Row &row : std::as_const(rows)) {
        QStringList line { inspector.truncated(QString::fromUtf8(row.identity.arguments)),
            row.state.sizeText(), row.state.ttlText(), row.state.stateText() };
        if (withGeneration)
            line.prepend(QString::number(row.identity.generation));
        table.append(line);
    }
    if (!rows.isEmpty())
        Inspector::printTable(table);
    QString summary
        = QStringLiteral("%1 %2 of '%3' in generation %4")
              .arg(rows.size())
              .arg(rows.size() == 1 ? QStringLiteral("entry") : QStringLiteral("entries"))
              .arg(wrapKey)
              .arg(current);
    if (withGeneration)
        summary = QStringLiteral("%1 entries of '%2' (current generation %3)")
                      .arg(rows.size())
                      .arg(wrapKey)
                      .arg(current);
    else if (older > 0)
        summary
            += QStringLiteral("; %1 of older generations not shown (--all-generations)").arg(older);
    Inspector::print(summary);
    return ExitCode::Success;
}

} // namespace DistributedPromiseInspect
