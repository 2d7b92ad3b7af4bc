// SPDX-License-Identifier: MIT
#pragma once

// A compact JSON writer: the bytes QJsonDocument::toJson(Compact) writes, without a document.

#include <QtCore/QByteArray>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonValue>

namespace DistributedPromiseProtocol {

/*! JSON nesting the library writes at most: Qt's reader refuses deeper documents. */
constexpr int maxNesting = 1000;

/*! What makes a value unfit for the wire: it would not read back as it was written. */
enum class ValueProblem { None, NonFinite, TooDeep };
/*! Why a value with \a problem is refused, for an error message ("it holds ..."). */
QString describe(ValueProblem problem);

/*!
    Compact JSON of \a args (objects have sorted keys, so equal arguments encode equally): the
    very bytes of QJsonDocument(args).toJson(QJsonDocument::Compact), written directly.
*/
QByteArray encodeArguments(const QJsonArray &args);
/*! Appends encodeArguments(\a args) to \a out; returns what makes them unfit, if anything. */
ValueProblem appendArguments(QByteArray &out, const QJsonArray &args);

/*! Compact JSON text of any JSON value, including scalars (as QJsonDocument writes it). */
QByteArray encodeValue(const QJsonValue &value, ValueProblem *problem = nullptr);

} // namespace DistributedPromiseProtocol
