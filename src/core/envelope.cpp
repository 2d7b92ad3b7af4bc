// SPDX-License-Identifier: MIT
#include "protocol_p.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

namespace DistributedPromiseProtocol {

QByteArray encodeEnvelope(
    const DistributedPromiseDetail::Outcome &outcome, ValueProblem *problem, const EntryLife *life)
{
    if (problem)
        *problem = ValueProblem::None;
    if (outcome.ok && life) {
        QByteArray out = QByteArrayLiteral("{\"v\":1,\"ok\":true,\"ttl\":");
        out.append(QByteArray::number(life->ttlMs)).append(",\"staleFor\":");
        out.append(QByteArray::number(life->staleForMs)).append(",\"value\":");
        return out + encodeValue(outcome.value, problem) + '}';
    }
    if (outcome.ok)
        return QByteArrayLiteral("{\"v\":1,\"ok\":true,\"value\":")
            + encodeValue(outcome.value, problem) + '}';
    const QJsonObject error {
        { QStringLiteral("code"), DistributedPromiseError::codeName(outcome.code) },
        { QStringLiteral("message"), outcome.message },
    };
    return QByteArrayLiteral("{\"v\":1,\"ok\":false,\"error\":") + encodeValue(error) + '}';
}

namespace {
// Reads `"name":digits,` at the start of \a text into \a number and moves past it.
bool takeNumber(QByteArrayView *text, QByteArrayView name, qint64 *number)
{
    if (!text->startsWith(name))
        return false;
    qsizetype end = name.size();
    while (end < text->size() && text->at(end) >= '0' && text->at(end) <= '9')
        ++end;
    if (end == name.size() || end - name.size() > 15 || end >= text->size() || text->at(end) != ',')
        return false;
    *number = text->sliced(name.size(), end - name.size()).toLongLong();
    *text = text->sliced(end + 1);
    return true;
}

// The text of the value in an envelope as encodeEnvelope() writes it:
// {"v":1,"ok":true,["ttl":T,"staleFor":S,]"value":...}.
bool valueText(QByteArrayView envelope, QByteArrayView *text, EntryLife *life)
{
    static constexpr QByteArrayView head("{\"v\":1,\"ok\":true,");
    static constexpr QByteArrayView valueName("\"value\":");
    if (!envelope.startsWith(head) || !envelope.endsWith('}'))
        return false;
    QByteArrayView rest = envelope.sliced(head.size(), envelope.size() - head.size() - 1);
    EntryLife found;
    if (takeNumber(&rest, "\"ttl\":", &found.ttlMs)
        && !takeNumber(&rest, "\"staleFor\":", &found.staleForMs))
        return false;
    if (!rest.startsWith(valueName))
        return false;
    *text = rest.sliced(valueName.size());
    if (life && found.ttlMs >= 0)
        *life = found;
    return true;
}

// The characters of a JSON string without escapes: no quote, backslash or control character.
bool plainString(QByteArrayView text, QByteArrayView *inner)
{
    if (text.size() < 2 || text.front() != '"' || text.back() != '"')
        return false;
    const QByteArrayView characters = text.sliced(1, text.size() - 2);
    for (const char c : characters) {
        if (c == '"' || c == '\\' || uchar(c) < 0x20)
            return false;
    }
    *inner = characters;
    return true;
}

// The value of an envelope this library wrote, when it is a scalar that is cheap to read without
// a JSON document: true, false, null, a short integer, or a string without escapes. Anything else
// returns false and goes through the full parser.
bool decodeSimpleValue(QByteArrayView text, QJsonValue *value)
{
    QByteArrayView inner;
    if (plainString(text, &inner)) {
        *value = QJsonValue(QString::fromUtf8(inner));
        return true;
    }
    if (text == "true" || text == "false") {
        *value = QJsonValue(text == "true");
        return true;
    }
    if (text == "null") {
        *value = QJsonValue(QJsonValue::Null);
        return true;
    }
    // Integers up to 15 digits are exact in a double too, so they read the same either way.
    const qsizetype digitsFrom = text.startsWith('-') ? 1 : 0;
    const qsizetype digits = text.size() - digitsFrom;
    if (digits < 1 || digits > 15 || (digits > 1 && text.at(digitsFrom) == '0'))
        return false;
    for (qsizetype i = digitsFrom; i < text.size(); ++i) {
        if (text.at(i) < '0' || text.at(i) > '9')
            return false;
    }
    if (text == "-0")
        return false;
    *value = QJsonValue(text.toLongLong());
    return true;
}
} // namespace

bool decodePlainString(const QByteArray &bytes, QString *text, EntryLife *life)
{
    QByteArrayView value;
    QByteArrayView inner;
    if (!valueText(bytes, &value, life) || !plainString(value, &inner))
        return false;
    *text = QString::fromUtf8(inner);
    return true;
}

bool decodeEnvelope(
    const QByteArray &bytes, DistributedPromiseDetail::Outcome *outcome, EntryLife *life)
{
    // Fast path for the common case: a value envelope as encodeEnvelope() writes it.
    QByteArrayView text;
    EntryLife found;
    if (valueText(bytes, &text, &found) && decodeSimpleValue(text, &outcome->value)) {
        if (life && found.ttlMs >= 0)
            *life = found;
        outcome->ok = true;
        return true;
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject())
        return false;
    const QJsonObject envelope = document.object();
    if (envelope.value(QLatin1String("v")).toInteger(-1) != envelopeVersion)
        return false;
    const QJsonValue ok = envelope.value(QLatin1String("ok"));
    if (!ok.isBool())
        return false;
    if (ok.toBool()) {
        const auto value = envelope.constFind(QLatin1String("value"));
        if (value == envelope.constEnd())
            return false;
        outcome->ok = true;
        outcome->value = *value;
        const QJsonValue ttl = envelope.value(QLatin1String("ttl"));
        if (life && ttl.isDouble()) {
            life->ttlMs = ttl.toInteger();
            life->staleForMs = envelope.value(QLatin1String("staleFor")).toInteger();
        }
        return true;
    }
    const QJsonObject error = envelope.value(QLatin1String("error")).toObject();
    const QJsonValue message = error.value(QLatin1String("message"));
    if (!message.isString())
        return false;
    outcome->ok = false;
    outcome->message = message.toString();
    outcome->code
        = DistributedPromiseError::codeFromName(error.value(QLatin1String("code")).toString())
              .value_or(DistributedPromiseError::WorkFailed);
    return true;
}

} // namespace DistributedPromiseProtocol
