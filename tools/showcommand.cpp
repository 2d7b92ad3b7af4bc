// SPDX-License-Identifier: MIT
// show <wrapKey> <argsJson>: one entry's envelope, decoded, its value cut to --max-value.

#include "entrystate.h"
#include "inspector.h"
#include "json_p.h"

#include "distributedpromiseerror.h"

#include <QtCore/QJsonDocument>

namespace DistributedPromiseInspect {

using DistributedPromiseRedis::Reply;

int showEntry(Inspector &inspector, const QStringList &args)
{
    if (args.size() != 2)
        throw Failure { ExitCode::Usage, QStringLiteral("usage: show <wrapKey> <argsJson>") };
    const QString wrapKey = args.at(0);
    const QJsonArray arguments = Inspector::parseArguments(args.at(1));
    inspector.connectToRedis();
    const qint64 generation = inspector.generation(wrapKey);
    const QByteArray identity = inspector.identity(wrapKey, arguments, generation);
    const QByteArray key = inspector.keyNames().dataKey(identity);
    const QList<Reply> replies = inspector.runAll(
        { { QByteArrayLiteral("GET"), key }, { QByteArrayLiteral("PTTL"), key } });
    const Reply &value = replies.at(0);
    if (value.isNil())
        throw Failure { ExitCode::NotFound,
            QStringLiteral("no entry for %1 %2 in generation %3 (key %4)")
                .arg(wrapKey,
                    QString::fromUtf8(DistributedPromiseProtocol::encodeArguments(arguments)))
                .arg(generation)
                .arg(QString::fromUtf8(key)) };
    const EntryState state = entryState(value.isString() ? value.string.size() : 0,
        replies.at(1).integer, value.isString() ? value.string : QByteArray(), false);
    const QString valueText = state.readable && state.outcome.ok
        ? QString::fromUtf8(DistributedPromiseProtocol::encodeValue(state.outcome.value))
        : QString();
    const bool cut = inspector.truncated(valueText) != valueText;

    if (inspector.settings().json) {
        QJsonObject object = state.toJson();
        object.insert(QStringLiteral("key"), QString::fromUtf8(key));
        object.insert(QStringLiteral("wrapKey"), wrapKey);
        object.insert(QStringLiteral("arguments"),
            QString::fromUtf8(DistributedPromiseProtocol::encodeArguments(arguments)));
        object.insert(QStringLiteral("generation"), generation);
        if (state.readable) {
            object.insert(QStringLiteral("ok"), state.outcome.ok);
            if (state.outcome.ok && cut) {
                object.insert(QStringLiteral("truncated"), true);
                object.insert(QStringLiteral("valuePreview"), inspector.truncated(valueText));
            } else if (state.outcome.ok) {
                object.insert(QStringLiteral("value"), state.outcome.value);
            } else {
                object.insert(QStringLiteral("error"),
                    QJsonObject { { QStringLiteral("code"),
                                      DistributedPromiseError::codeName(state.outcome.code) },
                        { QStringLiteral("message"), state.outcome.message } });
            }
        }
        Inspector::printJson(object);
        return ExitCode::Success;
    }
    QList<QStringList> rows { { QStringLiteral("key"), QString::fromUtf8(key) },
        { QStringLiteral("generation"), QString::number(generation) },
        { QStringLiteral("size"), QStringLiteral("%1 B").arg(state.sizeBytes) },
        { QStringLiteral("ttl"), state.ttlText() },
        { QStringLiteral("state"), state.stateText() } };
    if (state.life.ttlMs >= 0)
        rows.append({ QStringLiteral("written with"),
            QStringLiteral("ttl %1, staleFor %2")
                .arg(Inspector::duration(state.life.ttlMs),
                    Inspector::duration(state.life.staleForMs)) });
    if (!state.readable) {
        rows.append(
            { QStringLiteral("envelope"), inspector.truncated(QString::fromUtf8(value.string)) });
    } else if (state.outcome.ok) {
        rows.append({ QStringLiteral("value"),
            cut ? QStringLiteral("%1 (%2 characters in all)")
                      .arg(inspector.truncated(valueText))
                      .arg(valueText.size())
                : valueText });
    } else {
        rows.append({ QStringLiteral("error"),
            QStringLiteral("%1: %2").arg(DistributedPromiseError::codeName(state.outcome.code),
                inspector.truncated(state.outcome.message)) });
    }
    for (QStringList &row : rows)
        row.first().append(u':');
    Inspector::printTable(rows);
    return ExitCode::Success;
}

} // namespace DistributedPromiseInspect
