// SPDX-License-Identifier: MIT
#pragma once

// The wire format (version 1): key names, the JSON envelope and the Lua scripts.

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"

#include <QtCore/QByteArray>
#include <QtCore/QJsonArray>

namespace DistributedPromiseProtocol {

constexpr int envelopeVersion = 1;
/*! Arguments encoded longer than this are replaced by '#' and their SHA-256 in the identity. */
constexpr qsizetype maxPlainArgumentsBytes = 128;

/*! Checks prefixes and separator; returns what to fix, or empty. */
QString validate(const DistributedPromiseConfig &config);

/*!
    Compact JSON of \a args (objects have sorted keys, so equal arguments encode equally): the
    very bytes of QJsonDocument(args).toJson(QJsonDocument::Compact), written directly.
*/
DISTRIBUTEDPROMISE_EXPORT QByteArray encodeArguments(const QJsonArray &args);
/*! Appends encodeArguments(\a args) to \a out. */
void appendArguments(QByteArray &out, const QJsonArray &args);

/*! The call's identity: wrap key, separator, arguments (or '#' + SHA-256 hex when long). */
QByteArray identity(const QString &key, const QByteArray &separator, const QByteArray &arguments);
/*!
    The same, from the UTF-8 of wrap key and separator (\a keyAndSeparator) and the arguments
    themselves, in one buffer. \a argumentsBytes gets the length of the encoded arguments.
*/
QByteArray identity(
    const QByteArray &keyAndSeparator, const QJsonArray &args, qsizetype *argumentsBytes);

struct Keys
{
    QByteArray data; ///< P S {I}
    QByteArray lock; ///< P S lockPrefix S {I}
    QByteArray channel; ///< P S notifPrefix S {I}
};
/*! Makes the key names of identities; the prefixes are built once. */
class KeyNames
{
public:
    explicit KeyNames(const DistributedPromiseConfig &config);
    /*! The data key only: all a cache hit needs. */
    QByteArray dataKey(const QByteArray &identity) const { return name(m_data, identity); }
    /*! Fills in the lock key and the channel of \a keys, once. */
    void completeKeys(Keys *keys, const QByteArray &identity) const
    {
        if (keys->lock.isEmpty()) {
            keys->lock = name(m_lock, identity);
            keys->channel = name(m_channel, identity);
        }
    }

private:
    static QByteArray name(const QByteArray &prefix, const QByteArray &identity)
    {
        QByteArray key;
        key.reserve(prefix.size() + identity.size() + 1);
        key.append(prefix).append(identity).append('}');
        return key;
    }
    QByteArray m_data; ///< "P S {"
    QByteArray m_lock; ///< "P S lockPrefix S {"
    QByteArray m_channel; ///< "P S notifPrefix S {"
};

/*! {"v":1,"ok":true,"value":...} or {"v":1,"ok":false,"error":{"code":...,"message":...}}. */
DISTRIBUTEDPROMISE_EXPORT QByteArray encodeEnvelope(
    const DistributedPromiseDetail::Outcome &outcome);
/*! Parses an envelope; false for anything else (garbage, other versions, missing fields). */
DISTRIBUTEDPROMISE_EXPORT bool decodeEnvelope(
    const QByteArray &bytes, DistributedPromiseDetail::Outcome *outcome);

/*!
    For a value envelope whose value is a string without escapes (the usual cache hit), that
    string, as decodeEnvelope() would read it; false for anything else (then use decodeEnvelope).
*/
DISTRIBUTEDPROMISE_EXPORT bool decodePlainString(const QByteArray &bytes, QString *text);

/*! Compact JSON text of any JSON value, including scalars (as QJsonDocument writes it). */
DISTRIBUTEDPROMISE_EXPORT QByteArray encodeValue(const QJsonValue &value);

extern const QByteArray acquireScript;
extern const QByteArray renewScript;
extern const QByteArray finishScript;
extern const QByteArray discardScript;

} // namespace DistributedPromiseProtocol
