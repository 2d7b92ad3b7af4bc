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

// What the writer met that JSON cannot carry back: see ValueProblem.
struct WriteState
{
    int depth = 0;
    ValueProblem problem = ValueProblem::None;
};

void appendValue(QByteArray &out, const QCborValue &value, WriteState &state);

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

void appendArray(QByteArray &out, const QCborArray &array, WriteState &state)
{
    if (++state.depth > maxNesting)
        state.problem = ValueProblem::TooDeep;
    out.append('[');
    for (qsizetype i = 0; i < array.size() && state.problem != ValueProblem::TooDeep; ++i) {
        if (i > 0)
            out.append(',');
        appendValue(out, array.at(i), state);
    }
    out.append(']');
    --state.depth;
}

void appendMap(QByteArray &out, const QCborMap &map, WriteState &state)
{
    if (++state.depth > maxNesting)
        state.problem = ValueProblem::TooDeep;
    out.append('{');
    for (auto it = map.cbegin(); it != map.cend() && state.problem != ValueProblem::TooDeep; ++it) {
        if (it != map.cbegin())
            out.append(',');
        appendString(out, it.key().toString());
        out.append(':');
        appendValue(out, it.value(), state);
    }
    out.append('}');
    --state.depth;
}

void appendValue(QByteArray &out, const QCborValue &value, WriteState &state)
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
        if (qIsFinite(number)) {
            out.append(QByteArray::number(number, 'g', QLocale::FloatingPointShortest));
        } else {
            out.append("null");
            if (state.problem == ValueProblem::None)
                state.problem = ValueProblem::NonFinite;
        }
        break;
    }
    case QCborValue::String:
        appendString(out, value.toString());
        break;
    case QCborValue::Array:
        appendArray(out, value.toArray(), state);
        break;
    case QCborValue::Map:
        appendMap(out, value.toMap(), state);
        break;
    default:
        out.append("null");
        break;
    }
}
} // namespace

ValueProblem appendArguments(QByteArray &out, const QJsonArray &args)
{
    WriteState state;
    appendArray(out, QCborArray::fromJsonArray(args), state);
    return state.problem;
}

QByteArray encodeArguments(const QJsonArray &args)
{
    QByteArray out;
    appendArguments(out, args);
    return out;
}

QString describe(ValueProblem problem)
{
    switch (problem) {
    case ValueProblem::None:
        break;
    case ValueProblem::NonFinite:
        return QStringLiteral("it holds a number that is not finite (NaN or infinity), which "
                              "JSON cannot carry; pass finite numbers or null");
    case ValueProblem::TooDeep:
        return QStringLiteral("it is nested more than %1 levels deep, more than JSON readers "
                              "accept; flatten it")
            .arg(maxNesting);
    }
    return QString();
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

QByteArray identity(const QByteArray &keyAndSeparator, const QJsonArray &args,
    qsizetype *argumentsBytes, ValueProblem *problem)
{
    QByteArray result;
    result.reserve(keyAndSeparator.size() + 64);
    result.append(keyAndSeparator);
    const qsizetype from = result.size();
    *problem = appendArguments(result, args);
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

QByteArray encodeValue(const QJsonValue &value, ValueProblem *problem)
{
    // As a QJsonArray stores it (Undefined becomes null), so that it reads as the writer does.
    QByteArray out;
    WriteState state;
    appendValue(out,
        value.isUndefined() ? QCborValue(QCborValue::Null) : QCborValue::fromJsonValue(value),
        state);
    if (problem)
        *problem = state.problem;
    return out;
}

QByteArray encodeEnvelope(const DistributedPromiseDetail::Outcome &outcome, ValueProblem *problem)
{
    if (problem)
        *problem = ValueProblem::None;
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

// The scripts never let a failed write stop what must happen: under maxmemory with noeviction
// the lock is still taken (allow-oom: a small key with a lease), the cache write is best effort
// (pcall) and unlock and publish always run (DEL, PEXPIRE and PUBLISH are allowed when out of
// memory). A key of another type than the one expected is read as absent or unreadable.

// KEYS: data, lock, record. ARGV: token, lease ms, "1" to look at the cache first, the token of
// the execution this caller waits for ("" for a new caller).
// Returns {1, envelope} (cached), {5, envelope} (the awaited execution's recorded outcome), {2}
// (lock taken:
// run the work), {3, lock pttl, holder's token} (busy; the record key is marked so that the
// holder records an uncached outcome for its waiters) or {4, error} (unreadable data key).
// A lock without expiry (left by another tool) gets the lease, so nobody waits on it forever.
const QByteArray acquireScript = QByteArrayLiteral(R"lua(#!lua flags=allow-oom
if ARGV[3] == '1' then
  local cached = redis.pcall('GET', KEYS[1])
  if type(cached) == 'table' and cached.err then return {4, cached.err} end
  if cached then return {1, cached} end
end
if ARGV[4] ~= '' then
  local record = redis.pcall('GET', KEYS[3])
  local head = ARGV[4] .. ' '
  if type(record) == 'string' and string.sub(record, 1, #head) == head then
    return {5, string.sub(record, #head + 1)}
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  ttl = tonumber(ARGV[2])
end
local holder = redis.pcall('GET', KEYS[2])
if type(holder) ~= 'string' then holder = '' end
redis.pcall('SET', KEYS[3], '', 'NX', 'PX', ARGV[2])
return {3, ttl, holder}
)lua");

// KEYS: lock. ARGV: token, lease ms. Returns 1 while the token still holds the lock (the lease
// is extended), 0 when another attempt holds it, -1 when nobody does (the lease ran out).
const QByteArray renewScript = QByteArrayLiteral(R"lua(
local holder = redis.pcall('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if type(holder) == 'string' then return 0 end
return -1
)lua");

// KEYS: data, lock, record. ARGV: token, envelope, ttl ms, "1" to cache, channel, publish
// command, record ms.
// Returns {0} when another attempt holds the lock (nothing is written or published). Otherwise
// caches the envelope (values with ttl > 0; the waiters' mark goes) or, when a waiter marked the
// record key, records
// "token envelope" there for record ms (errors, ttl 0: what a waiter that missed the message
// finds); unlocks; publishes; returns {1, write error or "", publish error or ""}. A lock that
// ran out does not stop the finish, unless a value is cached meanwhile (a newer holder took over
// and finished: its value stands; the very envelope cached means this finish ran already and
// its reply was lost: done). PUBLISH is SPUBLISH on a cluster.
const QByteArray finishScript = QByteArrayLiteral(R"lua(
local holder = redis.pcall('GET', KEYS[2])
if type(holder) == 'string' and holder ~= ARGV[1] then return {0} end
if not holder and redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.pcall('GET', KEYS[1]) == ARGV[2] then return {1, '', ''} end
  return {0}
end
local written = true
if ARGV[4] == '1' and tonumber(ARGV[3]) > 0 then
  written = redis.pcall('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[3])
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  written = redis.pcall('SET', KEYS[3], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[7])
end
if holder == ARGV[1] then redis.call('DEL', KEYS[2]) end
local sent = redis.pcall(ARGV[6], ARGV[5], ARGV[2])
local writeError, sendError = '', ''
if type(written) == 'table' and written.err then writeError = written.err end
if type(sent) == 'table' and sent.err then sendError = sent.err end
return {1, writeError, sendError}
)lua");

// KEYS: lock. ARGV: token, channel, publish command, message. Gives the lock back (only if the
// token still holds it) and tells the waiters, who then try at once. Returns 1 when it unlocked.
const QByteArray releaseScript = QByteArrayLiteral(R"lua(
if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.pcall(ARGV[3], ARGV[2], ARGV[4])
return 1
)lua");

// KEYS: data. ARGV: the unreadable bytes that were read. Deletes the entry only if it still holds
// them (a good value written meanwhile stays), or if it is not a string at all. Returns 1 when it
// deleted.
const QByteArray discardScript = QByteArrayLiteral(R"lua(
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
  return 0
end
if kind ~= 'none' then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

// Not an envelope: readers of every version ignore it (with a warning, in the oldest).
const QByteArray abandonedMessage = QByteArrayLiteral("{\"v\":1,\"abandoned\":true}");

} // namespace DistributedPromiseProtocol
