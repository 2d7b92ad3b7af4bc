// SPDX-License-Identifier: MIT
#pragma once

// The inspection tool's shared machinery: the connection, commands run to completion, SCAN, and
// the key names and identities of the wire format (docs/protocol.md), all from the library's own
// protocol code.

#include "distributedpromiseconfig.h"
#include "protocol_p.h"
#include "redisclient_p.h"

#include <QtCore/QJsonObject>
#include <QtCore/QString>

#include <functional>
#include <memory>

namespace DistributedPromiseInspect {

/*! How the tool exits: a number per kind of failure, so that scripts can branch on it. */
enum ExitCode {
    Success = 0,
    Failed = 1, ///< Redis unreachable, a command refused
    Usage = 2, ///< bad option, URL or arguments
    NotFound = 3, ///< no such entry
};

/*! A failure that ends the command: one line on stderr, then exit with \a exitCode. */
struct Failure
{
    ExitCode exitCode;
    QString message;
};

/*! What the options say. */
struct Settings
{
    DistributedPromiseConfig config;
    bool json = false;
    /*! Values longer than this many characters are cut (0: never). */
    int maxValueChars = 200;
    bool allGenerations = false;
    /*! watch: stop after this many outcomes (0: run until interrupted). */
    int count = 0;
};

/*! Where an identity (docs/protocol.md) comes from: wrap key, generation and arguments. */
struct Identity
{
    QString wrapKey;
    qint64 generation = 0;
    /*! The compact JSON array of the arguments, or '#' and their SHA-256 when they were long. */
    QByteArray arguments;
};

/*!
    One inspection session against one Redis. Commands are run to completion on a local event
    loop (this is a command-line tool; the library itself never blocks). Every Redis failure is
    thrown as a Failure whose message names the server, never its password.
*/
class Inspector
{
public:
    explicit Inspector(const Settings &settings);
    ~Inspector();

    const Settings &settings() const { return m_settings; }
    const DistributedPromiseConfig &config() const { return m_settings.config; }
    const DistributedPromiseProtocol::KeyNames &keyNames() const { return m_keyNames; }
    const DistributedPromiseRedis::Endpoint &endpoint() const { return m_endpoint; }
    /*! host:port or the socket path, never the password. */
    QString where() const { return m_endpoint.displayName(); }
    bool isCluster() const;

    /*! Connects, waiting at most the connect timeout; throws a Failure when Redis is not there. */
    void connectToRedis();
    /*! Runs \a args; one round trip. Throws on a transport failure or an error reply. */
    DistributedPromiseRedis::Reply run(const QList<QByteArray> &args);
    /*! Runs every command of \a commands pipelined, in one round trip; errors are returned as
        replies (a transport failure throws). */
    QList<DistributedPromiseRedis::Reply> runAll(const QList<QList<QByteArray>> &commands);
    /*! Every key matching the glob \a pattern (SCAN ... MATCH, never KEYS), in batches. */
    QList<QByteArray> scan(const QByteArray &pattern);

    /*! The current generation of wrap key \a key (0 until the first invalidateAll). */
    qint64 generation(const QString &key);

    /*! "key S" for \a key, as identities start. */
    QByteArray keyAndSeparator(const QString &key) const;
    /*! The data key prefix "P S {". */
    QByteArray dataPrefix() const;
    /*! The lock key prefix "P S lockPrefix S {". */
    QByteArray lockPrefix() const;
    /*! The channel prefix "P S notifPrefix S {". */
    QByteArray channelPrefix() const;

    /*! The identity inside \a key (a data or lock key, a channel) that starts with \a prefix;
        false when \a key is not one of those (or, with \a wrapKey, not one of its). */
    bool parseKey(const QByteArray &key, const QByteArray &prefix, Identity *identity,
        const QString &wrapKey = QString()) const;
    /*! Splits \a identity into wrap key, generation and arguments: the arguments start with
        '[' or '#' right after a separator. With \a wrapKey given, the identity must belong to it
        (another wrap key that starts the same does not). */
    bool parseIdentity(
        const QByteArray &identity, Identity *parsed, const QString &wrapKey = QString()) const;

    /*! Parses the JSON array \a text given on the command line (throws a Usage failure). */
    static QJsonArray parseArguments(const QString &text);
    /*! The identity of a call of \a key with \a args in \a generation. */
    QByteArray identity(const QString &key, const QJsonArray &args, qint64 generation) const;

    /*! \a text cut to the configured length, with "…" when cut. */
    QString truncated(const QString &text) const;

    /*! Prints \a object as one line of compact JSON. */
    static void printJson(const QJsonObject &object);
    /*! Prints \a text and a newline on stdout. */
    static void print(const QString &text);
    /*! Prints \a text and a newline on stderr. */
    static void note(const QString &text);

    /*! "850ms", "4.2s", "29m59s", "2h03m", "3d04h"; "-" for a negative \a ms. */
    static QString duration(qint64 ms);
    /*! \a text with the glob characters of SCAN MATCH escaped. */
    static QByteArray globEscape(const QByteArray &text);
    /*! Prints \a rows (the first is the header) as columns separated by two spaces. */
    static void printTable(const QList<QStringList> &rows);

private:
    Settings m_settings;
    DistributedPromiseProtocol::KeyNames m_keyNames;
    DistributedPromiseRedis::Endpoint m_endpoint;
    std::unique_ptr<DistributedPromiseRedis::Client> m_client;
};

/*! The commands, one per file; each returns the exit code, or throws a Failure. */
int listEntries(Inspector &inspector, const QStringList &args);
int showEntry(Inspector &inspector, const QStringList &args);
int listLocks(Inspector &inspector, const QStringList &args);
int invalidateEntry(Inspector &inspector, const QStringList &args);
int invalidateAll(Inspector &inspector, const QStringList &args);
int watchOutcomes(Inspector &inspector, const QStringList &args);

} // namespace DistributedPromiseInspect
