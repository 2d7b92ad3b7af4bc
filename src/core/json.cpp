// SPDX-License-Identifier: MIT
#include "json_p.h"

#include <QtCore/QCborArray>
#include <QtCore/QCborMap>
#include <QtCore/QCborValue>
#include <QtCore/QLocale>

namespace DistributedPromiseProtocol {

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

} // namespace DistributedPromiseProtocol
