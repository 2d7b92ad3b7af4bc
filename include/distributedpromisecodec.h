// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseerror.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtCore/QVariant>

#include <optional>
#include <type_traits>
#include <vector>

namespace DistributedPromiseDetail {
[[noreturn]] DISTRIBUTEDPROMISE_EXPORT void throwDecodeError(
    const char *expected, const QJsonValue &got);
} // namespace DistributedPromiseDetail

/*!
    \class DistributedPromiseCodec
    \brief Turns arguments and results into JSON and back.

    Built in: bool, integers, floating point, QString, QByteArray (as base64), QStringList,
    QJsonValue, QJsonObject, QJsonArray, QVariant, QVariantMap, QVariantList, and QList,
    std::vector and std::optional of supported types. Support your own type by specialising:

    \code
    template<> struct DistributedPromiseCodec<Point> {
        static QJsonValue encode(const Point &p) { return QJsonArray { p.x, p.y }; }
        static Point decode(const QJsonValue &v) { return { v[0].toInt(), v[1].toInt() }; }
    };
    \endcode

    decode() throws DistributedPromiseError (DecodeFailed) when the JSON has the wrong shape.

    \since 0.1
*/
template<typename T, typename Enable = void>
struct DistributedPromiseCodec
{
    // No encode() or decode(): T is not supported. wrap() and DistributedPromiseFunction say so
    // with a static_assert that names T (DistributedPromiseDetail::CodecRequiredFor<T>).
};

template<>
struct DistributedPromiseCodec<bool>
{
    static QJsonValue encode(bool value) { return value; }
    static bool decode(const QJsonValue &value)
    {
        if (!value.isBool())
            DistributedPromiseDetail::throwDecodeError("a boolean", value);
        return value.toBool();
    }
};

template<typename T>
struct DistributedPromiseCodec<T,
    std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
{
    static QJsonValue encode(T value) { return QJsonValue(qint64(value)); }
    static T decode(const QJsonValue &value)
    {
        if (!value.isDouble())
            DistributedPromiseDetail::throwDecodeError("an integer", value);
        const qint64 integer = value.toInteger(std::numeric_limits<qint64>::min());
        if (double(integer) != value.toDouble() || integer < qint64(std::numeric_limits<T>::min())
            || (integer > 0 && quint64(integer) > quint64(std::numeric_limits<T>::max())))
            DistributedPromiseDetail::throwDecodeError("an integer in range", value);
        return T(integer);
    }
};

template<typename T>
struct DistributedPromiseCodec<T, std::enable_if_t<std::is_floating_point_v<T>>>
{
    static QJsonValue encode(T value) { return double(value); }
    static T decode(const QJsonValue &value)
    {
        if (!value.isDouble())
            DistributedPromiseDetail::throwDecodeError("a number", value);
        return T(value.toDouble());
    }
};

template<>
struct DistributedPromiseCodec<QString>
{
    static QJsonValue encode(const QString &value) { return value; }
    static QString decode(const QJsonValue &value)
    {
        if (!value.isString())
            DistributedPromiseDetail::throwDecodeError("a string", value);
        return value.toString();
    }
};

template<>
struct DistributedPromiseCodec<QByteArray>
{
    static QJsonValue encode(const QByteArray &value)
    {
        return QString::fromLatin1(value.toBase64());
    }
    static QByteArray decode(const QJsonValue &value)
    {
        if (!value.isString())
            DistributedPromiseDetail::throwDecodeError("a base64 string", value);
        const auto result = QByteArray::fromBase64Encoding(
            value.toString().toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
        if (!result)
            DistributedPromiseDetail::throwDecodeError("a base64 string", value);
        return *result;
    }
};

template<>
struct DistributedPromiseCodec<QJsonValue>
{
    static QJsonValue encode(const QJsonValue &value) { return value; }
    static QJsonValue decode(const QJsonValue &value) { return value; }
};

template<>
struct DistributedPromiseCodec<QJsonObject>
{
    static QJsonValue encode(const QJsonObject &value) { return value; }
    static QJsonObject decode(const QJsonValue &value)
    {
        if (!value.isObject())
            DistributedPromiseDetail::throwDecodeError("an object", value);
        return value.toObject();
    }
};

template<>
struct DistributedPromiseCodec<QJsonArray>
{
    static QJsonValue encode(const QJsonArray &value) { return value; }
    static QJsonArray decode(const QJsonValue &value)
    {
        if (!value.isArray())
            DistributedPromiseDetail::throwDecodeError("an array", value);
        return value.toArray();
    }
};

template<>
struct DistributedPromiseCodec<QVariant>
{
    static QJsonValue encode(const QVariant &value) { return QJsonValue::fromVariant(value); }
    static QVariant decode(const QJsonValue &value) { return value.toVariant(); }
};

template<>
struct DistributedPromiseCodec<QVariantMap>
{
    static QJsonValue encode(const QVariantMap &value)
    {
        return QJsonObject::fromVariantMap(value);
    }
    static QVariantMap decode(const QJsonValue &value)
    {
        return DistributedPromiseCodec<QJsonObject>::decode(value).toVariantMap();
    }
};

namespace DistributedPromiseDetail {
template<typename Container>
struct SequenceCodec
{
    using Element = typename Container::value_type;
    static QJsonValue encode(const Container &value)
    {
        QJsonArray array;
        for (const auto &element : value)
            array.append(DistributedPromiseCodec<Element>::encode(element));
        return array;
    }
    static Container decode(const QJsonValue &value)
    {
        if (!value.isArray())
            throwDecodeError("an array", value);
        const QJsonArray array = value.toArray();
        Container result;
        result.reserve(array.size());
        for (const QJsonValue &element : array)
            result.push_back(DistributedPromiseCodec<Element>::decode(element));
        return result;
    }
};
} // namespace DistributedPromiseDetail

template<typename T>
struct DistributedPromiseCodec<QList<T>> : DistributedPromiseDetail::SequenceCodec<QList<T>>
{
};
template<typename T>
struct DistributedPromiseCodec<std::vector<T>>
    : DistributedPromiseDetail::SequenceCodec<std::vector<T>>
{
};

namespace DistributedPromiseDetail {
template<typename T>
struct OptionalCodec
{
    static QJsonValue encode(const std::optional<T> &value)
    {
        return value ? DistributedPromiseCodec<T>::encode(*value) : QJsonValue(QJsonValue::Null);
    }
    static std::optional<T> decode(const QJsonValue &value)
    {
        if (value.isNull())
            return std::nullopt;
        return DistributedPromiseCodec<T>::decode(value);
    }
};
} // namespace DistributedPromiseDetail

template<typename T>
struct DistributedPromiseCodec<std::optional<T>> : DistributedPromiseDetail::OptionalCodec<T>
{
};

namespace DistributedPromiseDetail {

/*! DistributedPromiseCodec<T> has encode() and decode(). */
template<typename T, typename = void>
struct HasCodec : std::false_type
{
};
template<typename T>
struct HasCodec<T,
    std::void_t<decltype(DistributedPromiseCodec<T>::encode(std::declval<const T &>())),
        decltype(DistributedPromiseCodec<T>::decode(std::declval<const QJsonValue &>()))>>
    : std::true_type
{
};

/*! T can be an argument or a result: it has a codec, and so do the elements of the built-in
    container codecs (unless the container's codec is specialised itself). */
template<typename T>
struct IsCarried : HasCodec<T>
{
};
template<>
struct IsCarried<void> : std::true_type
{
};
template<typename T>
struct IsCarried<QList<T>>
    : std::bool_constant<IsCarried<T>::value
          || !std::is_base_of_v<SequenceCodec<QList<T>>, DistributedPromiseCodec<QList<T>>>>
{
};
template<typename T>
struct IsCarried<std::vector<T>> : std::bool_constant<IsCarried<T>::value
                                       || !std::is_base_of_v<SequenceCodec<std::vector<T>>,
                                           DistributedPromiseCodec<std::vector<T>>>>
{
};
template<typename T>
struct IsCarried<std::optional<T>>
    : std::bool_constant<IsCarried<T>::value
          || !std::is_base_of_v<OptionalCodec<T>, DistributedPromiseCodec<std::optional<T>>>>
{
};

/*! Fails to compile, naming T in "CodecRequiredFor<T>", when T cannot be carried. */
template<typename T>
struct CodecRequiredFor
{
    static_assert(IsCarried<T>::value,
        "DistributedPromise cannot carry the type T named in 'CodecRequiredFor<T>' above: "
        "specialise DistributedPromiseCodec<T> with static QJsonValue encode(const T &) and "
        "static T decode(const QJsonValue &), or use a supported type");
    static constexpr bool value = IsCarried<T>::value;
};

/*! Every one of Types can be carried; a static_assert names each one that cannot. */
template<typename... Types>
constexpr bool carriesAll()
{
    return (true && ... && CodecRequiredFor<Types>::value);
}

} // namespace DistributedPromiseDetail
