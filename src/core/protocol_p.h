// SPDX-License-Identifier: MIT
#pragma once

// The wire format (version 1): key names, the JSON envelope and the Lua scripts.

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"
#include "json_p.h"

#include <QtCore/QByteArray>
#include <QtCore/QJsonArray>

namespace DistributedPromiseProtocol {

constexpr int envelopeVersion = 1;
/*! Arguments encoded longer than this are replaced by '#' and their SHA-256 in the identity. */
constexpr qsizetype maxPlainArgumentsBytes = 128;

/*! Checks the prefixes, the separator and the durations; returns what to fix, or empty. */
QString validate(const DistributedPromiseConfig &config);

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
    /*! "P S generation S {key}": the generation of wrap key \a key (INCR by invalidateAll). */
    QByteArray generationKey(const QString &key) const { return name(m_generation, key.toUtf8()); }
    /*! "P S notifPrefix S generation S {key}": where a new generation of \a key is published. */
    QByteArray generationChannel(const QString &key) const
    {
        return name(m_generationChannel, key.toUtf8());
    }
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
    QByteArray m_generation; ///< "P S generation S {"
    QByteArray m_generationChannel; ///< "P S notifPrefix S generation S {"
};

/*! The identity prefix of wrap key \a keyAndSeparator ("key S") in \a generation: the same for
    generation 0 (so entries of versions before 0.3 are read), "key S ~g S" after. */
QByteArray generationPrefix(
    const QByteArray &keyAndSeparator, const QByteArray &separator, qint64 generation);

/*! How long an entry is fresh and then stale, as its writer decided; written in the envelope
    ("ttl", "staleFor") only when a reader needs it to tell fresh from stale. Redis keeps the
    entry ttl + staleFor, so the entry is stale once its PTTL is at most staleFor. */
struct EntryLife
{
    qint64 ttlMs = -1; ///< -1: not in the envelope (fresh for as long as it exists)
    qint64 staleForMs = 0;
};

/*! {"v":1,"ok":true,"value":...} or {"v":1,"ok":false,"error":{"code":...,"message":...}}; a
    value with \a life set gets {"v":1,"ok":true,"ttl":T,"staleFor":S,"value":...} (readers
    before 0.3 ignore the two fields). */
QByteArray encodeEnvelope(const DistributedPromiseDetail::Outcome &outcome,
    ValueProblem *problem = nullptr, const EntryLife *life = nullptr);
/*! Parses an envelope; false for anything else (garbage, other versions, missing fields).
    \a life, when given, gets the entry's life fields (or stays as it was without them). */
bool decodeEnvelope(
    const QByteArray &bytes, DistributedPromiseDetail::Outcome *outcome, EntryLife *life = nullptr);

/*!
    For a value envelope whose value is a string without escapes (the usual cache hit), that
    string, as decodeEnvelope() would read it; false for anything else (then use decodeEnvelope).
*/
bool decodePlainString(const QByteArray &bytes, QString *text, EntryLife *life = nullptr);

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

extern const QByteArray readScript;
extern const QByteArray acquireScript;
extern const QByteArray renewScript;
extern const QByteArray finishScript;
extern const QByteArray releaseScript;
extern const QByteArray discardScript;
extern const QByteArray invalidateAllScript;
/*! The message that tells waiters a holder gave its lock back without an outcome. */
extern const QByteArray abandonedMessage;

} // namespace DistributedPromiseProtocol
