// SPDX-License-Identifier: MIT
#include "protocol_p.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

namespace DistributedPromiseProtocol {

QString validate(const DistributedPromiseConfig &config)
{
    if (config.keySeparator.isEmpty())
        return QStringLiteral("keySeparator is empty; use a separator such as \":\"");
    const std::pair<const char *, QString> prefixes[] = {
        { "keyPrefix", config.keyPrefix },
        { "lockPrefix", config.lockPrefix },
        { "notifPrefix", config.notifPrefix },
        { "keySeparator", config.keySeparator },
    };
    for (const auto &[name, value] : prefixes) {
        if (value.contains(QLatin1Char('{')) || value.contains(QLatin1Char('}')))
            return QStringLiteral("%1 \"%2\" contains a brace; braces are reserved for the Redis "
                                  "Cluster hash tag, remove them")
                .arg(QLatin1String(name), value);
    }
    if (config.keyPrefix.isEmpty() || config.lockPrefix.isEmpty() || config.notifPrefix.isEmpty())
        return QStringLiteral("keyPrefix, lockPrefix and notifPrefix must not be empty");
    if (config.lockPrefix == config.notifPrefix)
        return QStringLiteral("lockPrefix and notifPrefix must differ");
    if (config.lockTimeout.count() < 30)
        return QStringLiteral("lockTimeout of %1 ms is too short; use at least 30 ms")
            .arg(config.lockTimeout.count());
    if (config.ttl.count() < 0 || config.timeout.count() < 0)
        return QStringLiteral("ttl and timeout must not be negative");
    if (config.maxValueBytes <= 0)
        return QStringLiteral("maxValueBytes must be positive");
    return QString();
}

QByteArray encodeArguments(const QJsonArray &args)
{
    return QJsonDocument(args).toJson(QJsonDocument::Compact);
}

QByteArray identity(const QString &key, const QByteArray &separator, const QByteArray &arguments)
{
    QByteArray result = key.toUtf8();
    result += separator;
    if (arguments.size() > maxPlainArgumentsBytes) {
        result += '#';
        result += QCryptographicHash::hash(arguments, QCryptographicHash::Sha256).toHex();
    } else {
        result += arguments;
    }
    return result;
}

KeyNames::KeyNames(const DistributedPromiseConfig &config)
{
    const QByteArray separator = config.keySeparator.toUtf8();
    const QByteArray prefix = config.keyPrefix.toUtf8() + separator;
    m_data = prefix + '{';
    m_lock = prefix + config.lockPrefix.toUtf8() + separator + '{';
    m_channel = prefix + config.notifPrefix.toUtf8() + separator + '{';
}

QByteArray encodeValue(const QJsonValue &value)
{
    // QJsonDocument only writes arrays and objects: write [value] and strip the brackets.
    const QByteArray wrapped = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return wrapped.mid(1, wrapped.size() - 2);
}

QByteArray encodeEnvelope(const DistributedPromiseDetail::Outcome &outcome)
{
    if (outcome.ok)
        return QByteArrayLiteral("{\"v\":1,\"ok\":true,\"value\":") + encodeValue(outcome.value)
            + '}';
    const QJsonObject error {
        { QStringLiteral("code"), DistributedPromiseError::codeName(outcome.code) },
        { QStringLiteral("message"), outcome.message },
    };
    return QByteArrayLiteral("{\"v\":1,\"ok\":false,\"error\":") + encodeValue(error) + '}';
}

namespace {
// The value of an envelope this library wrote, when it is a scalar that is cheap to read without
// a JSON document: true, false, null, a short integer, or a string without escapes. Anything else
// returns false and goes through the full parser.
bool decodeSimpleValue(QByteArrayView text, QJsonValue *value)
{
    if (text == "true" || text == "false") {
        *value = QJsonValue(text == "true");
        return true;
    }
    if (text == "null") {
        *value = QJsonValue(QJsonValue::Null);
        return true;
    }
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        const QByteArrayView inner = text.sliced(1, text.size() - 2);
        for (const char c : inner) {
            if (c == '"' || c == '\\' || uchar(c) < 0x20)
                return false;
        }
        *value = QJsonValue(QString::fromUtf8(inner));
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

bool decodeEnvelope(const QByteArray &bytes, DistributedPromiseDetail::Outcome *outcome)
{
    // Fast path for the common case: a value envelope as encodeEnvelope() writes it.
    static constexpr QByteArrayView valuePrefix("{\"v\":1,\"ok\":true,\"value\":");
    const QByteArrayView view(bytes);
    if (view.startsWith(valuePrefix) && view.endsWith('}')
        && decodeSimpleValue(view.sliced(valuePrefix.size(), view.size() - valuePrefix.size() - 1),
            &outcome->value)) {
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

// KEYS: data, lock. ARGV: token, lease ms, "1" to look at the cache first.
// Returns {1, envelope} (cached), {2} (lock taken: run the work) or {3, lock pttl} (busy).
const QByteArray acquireScript = QByteArrayLiteral(R"lua(
if ARGV[3] == '1' then
  local cached = redis.call('GET', KEYS[1])
  if cached then return {1, cached} end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {3, redis.call('PTTL', KEYS[2])}
)lua");

// KEYS: lock. ARGV: token, lease ms. Returns 1 while the token still holds the lock, else 0.
const QByteArray renewScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua");

// KEYS: data, lock. ARGV: token, envelope, ttl ms, "1" to cache, channel.
// Only the lock holder caches, unlocks and publishes; returns 1 then, 0 when the lease was lost.
// The lock goes before the publish, so a failed PUBLISH cannot leave it behind.
const QByteArray finishScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[4] == '1' and tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1
)lua");

// KEYS: data. ARGV: the unreadable bytes that were read. Deletes the entry only if it still holds
// them, so that a good value written meanwhile is kept. Returns 1 when it deleted.
const QByteArray discardScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

} // namespace DistributedPromiseProtocol
