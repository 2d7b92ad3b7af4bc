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

/*! JSON nesting the library writes at most: Qt's reader refuses deeper documents. */
constexpr int maxNesting = 1000;

/*! What makes a value unfit for the wire: it would not read back as it was written. */
enum class ValueProblem { None, NonFinite, TooDeep };
/*! Why a value with \a problem is refused, for an error message ("it holds ..."). */
QString describe(ValueProblem problem);

/*! Checks prefixes and separator; returns what to fix, or empty. */
QString validate(const DistributedPromiseConfig &config);

/*!
    Compact JSON of \a args (objects have sorted keys, so equal arguments encode equally): the
    very bytes of QJsonDocument(args).toJson(QJsonDocument::Compact), written directly.
*/
QByteArray encodeArguments(const QJsonArray &args);
/*! Appends encodeArguments(\a args) to \a out; returns what makes them unfit, if anything. */
ValueProblem appendArguments(QByteArray &out, const QJsonArray &args);

/*! The call's identity: wrap key, separator, arguments (or '#' + SHA-256 hex when long). */
QByteArray identity(const QString &key, const QByteArray &separator, const QByteArray &arguments);
/*!
    The same, from the UTF-8 of wrap key and separator (\a keyAndSeparator) and the arguments
    themselves, in one buffer. \a argumentsBytes gets the length of the encoded arguments, and
    \a problem what makes them unfit for the wire (then the identity must not be used).
*/
QByteArray identity(const QByteArray &keyAndSeparator, const QJsonArray &args,
    qsizetype *argumentsBytes, ValueProblem *problem);

struct Keys
{
    QByteArray data; ///< P S {I}
    QByteArray lock; ///< P S lockPrefix S {I}
    /*! P S notifPrefix S {I}: the channel, and the name of the key that records the last
        outcome not cached (an error, ttl 0) for the waiters of that execution. */
    QByteArray channel;
};
/*! Makes the key names of identities; the prefixes are built once. */
class KeyNames
{
public:
    explicit KeyNames(const DistributedPromiseConfig &config);
    /*! The data key only: all a cache hit needs. */
    QByteArray dataKey(const QByteArray &identity) const { return name(m_data, identity); }
    /*! The channel of \a identity (also the name of its record key). */
    QByteArray channel(const QByteArray &identity) const { return name(m_channel, identity); }
    /*! Every channel's name matches this glob (for ACL rules). */
    QString channelPattern() const { return QString::fromUtf8(m_channel.chopped(1)) + u'*'; }
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
QByteArray encodeEnvelope(
    const DistributedPromiseDetail::Outcome &outcome, ValueProblem *problem = nullptr);
/*! Parses an envelope; false for anything else (garbage, other versions, missing fields). */
bool decodeEnvelope(const QByteArray &bytes, DistributedPromiseDetail::Outcome *outcome);

/*!
    For a value envelope whose value is a string without escapes (the usual cache hit), that
    string, as decodeEnvelope() would read it; false for anything else (then use decodeEnvelope).
*/
bool decodePlainString(const QByteArray &bytes, QString *text);

/*! Compact JSON text of any JSON value, including scalars (as QJsonDocument writes it). */
QByteArray encodeValue(const QJsonValue &value, ValueProblem *problem = nullptr);

/*! What the lock script answers first. */
enum AcquireResult : qint64 {
    Cached = 1, ///< {1, envelope}: the cached value
    Won = 2, ///< {2}: the lock is this attempt's
    Busy = 3, ///< {3, lock pttl, holder's token}
    Unreadable = 4, ///< {4, error}: the data key holds something GET can't read (wrong type)
    Recorded = 5, ///< {5, envelope}: the outcome of the execution waited for, not cached
};
/*! Separates the token from the outcome in the record of a finished execution. */
constexpr char recordSeparator = ' ';

extern const QByteArray acquireScript;
extern const QByteArray renewScript;
extern const QByteArray finishScript;
extern const QByteArray releaseScript;
extern const QByteArray discardScript;
/*! The message that tells waiters a holder gave its lock back without an outcome. */
extern const QByteArray abandonedMessage;

} // namespace DistributedPromiseProtocol
