// SPDX-License-Identifier: MIT
#include "protocol_p.h"

#include <QtCore/QCborArray>
#include <QtCore/QCborMap>
#include <QtCore/QCborValue>
#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLocale>

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

namespace {
// A compact JSON writer that produces the very bytes QJsonDocument::toJson(Compact) does: the
// same escapes (lower-case hex), UTF-8 for everything else, a lone surrogate as \uXXXX,
// integers as integers, doubles in their shortest form, non-finite doubles as null, object
// members in their stored (sorted) order. It reads the values through QCborValue, which shares
// the JSON containers' storage and tells integers from doubles as the writer does.
constexpr char hexDigits[] = "0123456789abcdef";

void appendValue(QByteArray &out, const QCborValue &value);

void appendString(QByteArray &out, QStringView text)
{
    // Characters go through a small buffer: one append per chunk, not per character.
    char buffer[256];
    qsizetype used = 0;
    const auto put = [&](char c) { buffer[used++] = c; };
    out.append('"');
    for (qsizetype i = 0; i < text.size(); ++i) {
        if (used > qsizetype(sizeof buffer) - 8) {
            out.append(buffer, used);
            used = 0;
        }
        const char16_t u = text[i].unicode();
        if (u >= 0x20 && u < 0x80 && u != '"' && u != '\\') {
            put(char(u));
        } else if (u < 0x80) {
            put('\\');
            switch (u) {
            case '"':
                put('"');
                break;
            case '\\':
                put('\\');
                break;
            case '\b':
                put('b');
                break;
            case '\f':
                put('f');
                break;
            case '\n':
                put('n');
                break;
            case '\r':
                put('r');
                break;
            case '\t':
                put('t');
                break;
            default:
                put('u');
                put('0');
                put('0');
                put(hexDigits[u >> 4]);
                put(hexDigits[u & 0xf]);
            }
        } else if (u < 0x800) {
            put(char(0xc0 | (u >> 6)));
            put(char(0x80 | (u & 0x3f)));
        } else if (!QChar::isSurrogate(u)) {
            put(char(0xe0 | (u >> 12)));
            put(char(0x80 | ((u >> 6) & 0x3f)));
            put(char(0x80 | (u & 0x3f)));
        } else if (QChar::isHighSurrogate(u) && i + 1 < text.size()
            && QChar::isLowSurrogate(text[i + 1].unicode())) {
            const char32_t c = QChar::surrogateToUcs4(u, text[++i].unicode());
            put(char(0xf0 | (c >> 18)));
            put(char(0x80 | ((c >> 12) & 0x3f)));
            put(char(0x80 | ((c >> 6) & 0x3f)));
            put(char(0x80 | (c & 0x3f)));
        } else {
            put('\\');
            put('u');
            put(hexDigits[u >> 12]);
            put(hexDigits[(u >> 8) & 0xf]);
            put(hexDigits[(u >> 4) & 0xf]);
            put(hexDigits[u & 0xf]);
        }
    }
    out.append(buffer, used);
    out.append('"');
}

void appendInteger(QByteArray &out, qint64 value)
{
    char digits[24];
    char *end = digits + sizeof digits;
    char *begin = end;
    // The magnitude as unsigned, so that the smallest qint64 works too.
    quint64 magnitude = value < 0 ? 0 - quint64(value) : quint64(value);
    do {
        *--begin = char('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        *--begin = '-';
    out.append(begin, end - begin);
}

void appendArray(QByteArray &out, const QCborArray &array)
{
    out.append('[');
    for (qsizetype i = 0; i < array.size(); ++i) {
        if (i > 0)
            out.append(',');
        appendValue(out, array.at(i));
    }
    out.append(']');
}

void appendMap(QByteArray &out, const QCborMap &map)
{
    out.append('{');
    for (auto it = map.cbegin(); it != map.cend(); ++it) {
        if (it != map.cbegin())
            out.append(',');
        appendString(out, it.key().toString());
        out.append(':');
        appendValue(out, it.value());
    }
    out.append('}');
}

void appendValue(QByteArray &out, const QCborValue &value)
{
    switch (value.type()) {
    case QCborValue::False:
        out.append("false");
        break;
    case QCborValue::True:
        out.append("true");
        break;
    case QCborValue::Integer:
        appendInteger(out, value.toInteger());
        break;
    case QCborValue::Double: {
        const double number = value.toDouble();
        if (qIsFinite(number))
            out.append(QByteArray::number(number, 'g', QLocale::FloatingPointShortest));
        else
            out.append("null");
        break;
    }
    case QCborValue::String:
        appendString(out, value.toString());
        break;
    case QCborValue::Array:
        appendArray(out, value.toArray());
        break;
    case QCborValue::Map:
        appendMap(out, value.toMap());
        break;
    default:
        out.append("null");
        break;
    }
}
} // namespace

void appendArguments(QByteArray &out, const QJsonArray &args)
{
    appendArray(out, QCborArray::fromJsonArray(args));
}

QByteArray encodeArguments(const QJsonArray &args)
{
    QByteArray out;
    appendArguments(out, args);
    return out;
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

QByteArray identity(
    const QByteArray &keyAndSeparator, const QJsonArray &args, qsizetype *argumentsBytes)
{
    QByteArray result;
    result.reserve(keyAndSeparator.size() + 64);
    result.append(keyAndSeparator);
    const qsizetype from = result.size();
    appendArguments(result, args);
    *argumentsBytes = result.size() - from;
    if (*argumentsBytes > maxPlainArgumentsBytes) {
        const QByteArray hash = QCryptographicHash::hash(
            QByteArrayView(result).sliced(from), QCryptographicHash::Sha256)
                                    .toHex();
        result.truncate(from);
        result.append('#');
        result.append(hash);
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
    // As a QJsonArray stores it (Undefined becomes null), so that it reads as the writer does.
    QByteArray out;
    appendValue(
        out, value.isUndefined() ? QCborValue(QCborValue::Null) : QCborValue::fromJsonValue(value));
    return out;
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
// The text of the value in an envelope as encodeEnvelope() writes it:
// {"v":1,"ok":true,"value":...}.
bool valueText(QByteArrayView envelope, QByteArrayView *text)
{
    static constexpr QByteArrayView valuePrefix("{\"v\":1,\"ok\":true,\"value\":");
    if (!envelope.startsWith(valuePrefix) || !envelope.endsWith('}'))
        return false;
    *text = envelope.sliced(valuePrefix.size(), envelope.size() - valuePrefix.size() - 1);
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

bool decodePlainString(const QByteArray &bytes, QString *text)
{
    QByteArrayView value;
    QByteArrayView inner;
    if (!valueText(bytes, &value) || !plainString(value, &inner))
        return false;
    *text = QString::fromUtf8(inner);
    return true;
}

bool decodeEnvelope(const QByteArray &bytes, DistributedPromiseDetail::Outcome *outcome)
{
    // Fast path for the common case: a value envelope as encodeEnvelope() writes it.
    QByteArrayView text;
    if (valueText(bytes, &text) && decodeSimpleValue(text, &outcome->value)) {
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

// KEYS: data, lock. ARGV: token, envelope, ttl ms, "1" to cache, channel, publish command.
// Only the lock holder caches, unlocks and publishes; returns 1 then, 0 when the lease was lost.
// The lock goes before the publish, so a failed PUBLISH cannot leave it behind. The publish
// command is PUBLISH, or SPUBLISH on a cluster (the channel shares the keys' slot).
const QByteArray finishScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[4] == '1' and tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
redis.call(ARGV[6], ARGV[5], ARGV[2])
return 1
)lua");

// KEYS: data. ARGV: the unreadable bytes that were read. Deletes the entry only if it still holds
// them, so that a good value written meanwhile is kept. Returns 1 when it deleted.
const QByteArray discardScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

} // namespace DistributedPromiseProtocol
