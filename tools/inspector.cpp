// SPDX-License-Identifier: MIT
#include "inspector.h"

#include <QtCore/QEventLoop>
#include <QtCore/QJsonDocument>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

#include <cstdio>

namespace DistributedPromiseInspect {

using DistributedPromiseRedis::Reply;

namespace {
// A command's failure as one line: the server's words or the transport's (they name the server
// by its display name, never with the password).
Failure redisFailure(const Reply &reply)
{
    return Failure { ExitCode::Failed, QString::fromUtf8(reply.string) };
}
} // namespace

Inspector::Inspector(const Settings &settings)
    : m_settings(settings)
    , m_keyNames(settings.config)
{
    const QString problem = DistributedPromiseProtocol::validate(m_settings.config);
    if (!problem.isEmpty())
        throw Failure { ExitCode::Usage, problem };
    QString error;
    if (!DistributedPromiseRedis::Endpoint::parse(m_settings.config.redisUrl, &m_endpoint, &error))
        throw Failure { ExitCode::Usage, error };
}

Inspector::~Inspector() = default;

bool Inspector::isCluster() const
{
    return m_endpoint.topology == DistributedPromiseRedis::Endpoint::Topology::Cluster;
}

void Inspector::connectToRedis()
{
    DistributedPromiseRedis::ConnectionOptions options;
    options.connectTimeout = config().connectTimeout;
    options.commandTimeout = config().commandTimeout;
    options.reconnect = false;
    options.clientName = QByteArrayLiteral("distributed-promise-inspect");
    m_client = DistributedPromiseRedis::Client::create(m_endpoint, options);
    QEventLoop loop;
    QString lost;
    QObject::connect(m_client.get(), &DistributedPromiseRedis::Client::connected, &loop,
        [&loop] { loop.quit(); });
    QObject::connect(m_client.get(), &DistributedPromiseRedis::Client::disconnected, &loop,
        [&loop, &lost](const QString &reason) {
            lost = reason;
            loop.quit();
        });
    QTimer::singleShot(
        config().connectTimeout + std::chrono::milliseconds(500), &loop, [&loop, &lost] {
            lost = QStringLiteral("no answer");
            loop.quit();
        });
    m_client->open();
    if (!m_client->isConnected())
        loop.exec();
    if (!m_client->isConnected())
        throw Failure { ExitCode::Failed,
            QStringLiteral("cannot connect to Redis at %1: %2")
                .arg(where(), lost.isEmpty() ? QStringLiteral("no answer") : lost) };
}

QList<Reply> Inspector::runAll(const QList<QList<QByteArray>> &commands)
{
    if (commands.isEmpty())
        return {};
    QList<Reply> replies(commands.size());
    qsizetype missing = commands.size();
    QEventLoop loop;
    for (qsizetype i = 0; i < commands.size(); ++i) {
        m_client->command(commands.at(i), [&replies, &missing, &loop, i](const Reply &reply) {
            replies[i] = reply;
            if (--missing == 0)
                loop.quit();
        });
    }
    if (missing > 0)
        loop.exec();
    for (const Reply &reply : std::as_const(replies)) {
        if (reply.isFailure())
            throw redisFailure(reply);
    }
    return replies;
}

Reply Inspector::run(const QList<QByteArray> &args)
{
    const Reply reply = runAll({ args }).constFirst();
    if (reply.isError())
        throw Failure { ExitCode::Failed,
            QStringLiteral("Redis at %1 refused %2: %3")
                .arg(where(), QString::fromUtf8(args.constFirst()),
                    QString::fromUtf8(reply.string)) };
    return reply;
}

QList<QByteArray> Inspector::scan(const QByteArray &pattern)
{
    QList<QByteArray> keys;
    QByteArray cursor("0");
    do {
        const Reply reply = run({ QByteArrayLiteral("SCAN"), cursor, QByteArrayLiteral("MATCH"),
            pattern, QByteArrayLiteral("COUNT"), QByteArrayLiteral("1000") });
        if (!reply.isArray() || reply.elements.size() != 2)
            throw Failure { ExitCode::Failed,
                QStringLiteral("Redis at %1 answered SCAN unexpectedly").arg(where()) };
        cursor = reply.elements.at(0).string;
        for (const Reply &key : reply.elements.at(1).elements)
            keys.append(key.string);
    } while (cursor != "0");
    // SCAN may return a key more than once.
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

qint64 Inspector::generation(const QString &key)
{
    const Reply reply = run({ QByteArrayLiteral("GET"), m_keyNames.generationKey(key) });
    if (reply.isNil())
        return 0;
    bool ok = false;
    const qint64 generation = reply.string.toLongLong(&ok);
    if (!ok)
        throw Failure { ExitCode::Failed,
            QStringLiteral("the generation of '%1' is unreadable (%2)")
                .arg(key, QString::fromUtf8(reply.string.left(64))) };
    return generation;
}

QByteArray Inspector::keyAndSeparator(const QString &key) const
{
    return key.toUtf8() + config().keySeparator.toUtf8();
}

QByteArray Inspector::dataPrefix() const { return m_keyNames.dataKey(QByteArray()).chopped(1); }

QByteArray Inspector::lockPrefix() const
{
    DistributedPromiseProtocol::Keys keys;
    m_keyNames.completeKeys(&keys, QByteArray());
    return keys.lock.chopped(1);
}

QByteArray Inspector::channelPrefix() const { return m_keyNames.channel(QByteArray()).chopped(1); }

bool Inspector::parseKey(const QByteArray &key, const QByteArray &prefix, Identity *identity,
    const QString &wrapKey) const
{
    if (!key.startsWith(prefix) || !key.endsWith('}') || key.size() < prefix.size() + 1)
        return false;
    return parseIdentity(
        key.sliced(prefix.size(), key.size() - prefix.size() - 1), identity, wrapKey);
}

bool Inspector::parseIdentity(
    const QByteArray &identity, Identity *parsed, const QString &wrapKey) const
{
    const QByteArray separator = config().keySeparator.toUtf8();
    // The arguments follow the first separator that is followed by '[' or '#'.
    qsizetype at = -1;
    if (!wrapKey.isEmpty()) {
        const QByteArray head = keyAndSeparator(wrapKey);
        if (!identity.startsWith(head))
            return false;
        at = head.size() - separator.size();
    } else {
        for (qsizetype from = 0;; ++from) {
            at = identity.indexOf(separator, from);
            if (at < 0)
                return false;
            const qsizetype next = at + separator.size();
            if (next < identity.size() && (identity.at(next) == '[' || identity.at(next) == '#'))
                break;
        }
        // "key S ~g S [args]": the generation sits between the wrap key and the arguments.
        const qsizetype tilde = identity.lastIndexOf(QByteArray(separator + '~'), at - 1);
        parsed->generation = 0;
        if (tilde >= 0) {
            bool ok = false;
            const qint64 generation
                = identity.sliced(tilde + separator.size() + 1, at - tilde - separator.size() - 1)
                      .toLongLong(&ok);
            if (ok && generation > 0) {
                parsed->wrapKey = QString::fromUtf8(identity.left(tilde));
                parsed->generation = generation;
                parsed->arguments = identity.sliced(at + separator.size());
                return true;
            }
        }
        parsed->wrapKey = QString::fromUtf8(identity.left(at));
        parsed->arguments = identity.sliced(at + separator.size());
        return true;
    }
    // With the wrap key known: "[...]" or "#..." (generation 0), or "~g S" and then those.
    QByteArray rest = identity.sliced(at + separator.size());
    qint64 generation = 0;
    if (rest.startsWith('~')) {
        const qsizetype end = rest.indexOf(separator);
        if (end < 0)
            return false;
        bool ok = false;
        generation = rest.sliced(1, end - 1).toLongLong(&ok);
        if (!ok || generation <= 0)
            return false;
        rest = rest.sliced(end + separator.size());
    }
    if (!rest.startsWith('[') && !rest.startsWith('#'))
        return false;
    parsed->wrapKey = wrapKey;
    parsed->generation = generation;
    parsed->arguments = rest;
    return true;
}

QJsonArray Inspector::parseArguments(const QString &text)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(text.toUtf8(), &error);
    if (error.error != QJsonParseError::NoError || !document.isArray())
        throw Failure { ExitCode::Usage,
            QStringLiteral("the arguments must be a JSON array, like '[2026]' or '[\"a\", 1]'") };
    return document.array();
}

QByteArray Inspector::identity(const QString &key, const QJsonArray &args, qint64 generation) const
{
    const QByteArray separator = config().keySeparator.toUtf8();
    qsizetype bytes = 0;
    DistributedPromiseProtocol::ValueProblem problem
        = DistributedPromiseProtocol::ValueProblem::None;
    const QByteArray identity = DistributedPromiseProtocol::identity(
        DistributedPromiseProtocol::generationPrefix(keyAndSeparator(key), separator, generation),
        args, &bytes, &problem);
    if (problem != DistributedPromiseProtocol::ValueProblem::None)
        throw Failure { ExitCode::Usage,
            QStringLiteral("the arguments cannot be carried: %1")
                .arg(DistributedPromiseProtocol::describe(problem)) };
    return identity;
}

QString Inspector::truncated(const QString &text) const
{
    const int max = m_settings.maxValueChars;
    if (max <= 0 || text.size() <= max)
        return text;
    return text.left(max) + QStringLiteral("…");
}

void Inspector::printJson(const QJsonObject &object)
{
    print(QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact)));
}

void Inspector::print(const QString &text)
{
    const QByteArray line = text.toUtf8() + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fflush(stdout);
}

void Inspector::note(const QString &text)
{
    const QByteArray line = text.toUtf8() + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
}

QString Inspector::duration(qint64 ms)
{
    if (ms < 0)
        return QStringLiteral("-");
    if (ms < 1000)
        return QStringLiteral("%1ms").arg(ms);
    if (ms < 60'000)
        return QStringLiteral("%1s").arg(double(ms) / 1000.0, 0, 'f', 1);
    const qint64 s = ms / 1000;
    if (s < 3600)
        return QStringLiteral("%1m%2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    if (s < 86'400)
        return QStringLiteral("%1h%2m").arg(s / 3600).arg(s / 60 % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1d%2h").arg(s / 86'400).arg(s / 3600 % 24, 2, 10, QLatin1Char('0'));
}

QByteArray Inspector::globEscape(const QByteArray &text)
{
    QByteArray escaped;
    escaped.reserve(text.size());
    for (const char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            escaped.append('\\');
        escaped.append(c);
    }
    return escaped;
}

void Inspector::printTable(const QList<QStringList> &rows)
{
    QList<qsizetype> widths;
    for (const QStringList &row : rows) {
        for (qsizetype i = 0; i < row.size(); ++i) {
            if (widths.size() <= i)
                widths.append(0);
            widths[i] = std::max(widths.at(i), row.at(i).size());
        }
    }
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype i = 0; i < row.size(); ++i) {
            if (i + 1 < row.size())
                line += row.at(i).leftJustified(widths.at(i) + 2);
            else
                line += row.at(i);
        }
        print(line);
    }
}

} // namespace DistributedPromiseInspect
