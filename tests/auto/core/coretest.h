// SPDX-License-Identifier: MIT
#pragma once

// Small helpers shared by the tests of the coordination and public layers.

#include "redisserver.h"

#include <DistributedPromise>

#include <QtCore/QByteArrayList>
#include <QtCore/QFuture>
#include <QtCore/QPromise>
#include <QtCore/QTimer>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpServer>
#include <QtTest/QTest>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>

namespace CoreTest {

/*! A config that points at \a server and otherwise keeps the defaults. */
inline DistributedPromiseConfig configFor(const DistributedPromiseTest::RedisServer &server)
{
    DistributedPromiseConfig config;
    config.redisUrl = server.url();
    return config;
}

/*! A redis:// URL on a loopback port nothing listens on (bound, then released). */
inline QUrl unusedRedisUrl()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return QUrl(QStringLiteral("redis://127.0.0.1:1"));
    return QUrl(QStringLiteral("redis://127.0.0.1:%1").arg(probe.serverPort()));
}

/*! The Redis data key of a call: P S {wrapKey S argsJson}. */
inline QString dataKey(const QString &wrapKey, const QByteArray &argsJson,
    const QString &prefix = QStringLiteral("distributed-promise"),
    const QString &separator = QStringLiteral(":"))
{
    return prefix + separator + QLatin1Char('{') + wrapKey + separator + QString::fromUtf8(argsJson)
        + QLatin1Char('}');
}

/*! The lock key of a call: P S lockPrefix S {wrapKey S argsJson}. */
inline QString lockKey(const QString &wrapKey, const QByteArray &argsJson,
    const QString &prefix = QStringLiteral("distributed-promise"),
    const QString &lockPrefix = QStringLiteral("lock"),
    const QString &separator = QStringLiteral(":"))
{
    return prefix + separator + lockPrefix + separator + QLatin1Char('{') + wrapKey + separator
        + QString::fromUtf8(argsJson) + QLatin1Char('}');
}

/*! redis-cli EXISTS \a key: true when the key is there. */
/*! The lines of a redis-cli answer, trimmed and sorted. */
inline QByteArrayList sortedLines(const QByteArray &text)
{
    QByteArrayList lines = text.isEmpty() ? QByteArrayList() : text.split('\n');
    for (QByteArray &line : lines)
        line = line.trimmed();
    std::sort(lines.begin(), lines.end());
    return lines;
}

inline bool keyExists(const DistributedPromiseTest::RedisServer &server, const QString &key)
{
    return server.cli({ QStringLiteral("EXISTS"), key }) == "1";
}

/*!
    How a finished future ended: "ok" (it has a result, or a void future finished normally),
    "cancelled" (cancelled without an error), the DistributedPromiseError code name, or
    "foreign: <what>" for any other exception.
*/
template<typename T>
QString codeOf(QFuture<T> future)
{
    try {
        future.waitForFinished(); // already finished: does not block, rethrows a stored error
    } catch (const DistributedPromiseError &error) {
        return DistributedPromiseError::codeName(error.code());
    } catch (const std::exception &error) {
        return QStringLiteral("foreign: ") + QString::fromUtf8(error.what());
    }
    if (future.isCanceled())
        return QStringLiteral("cancelled");
    if constexpr (!std::is_void_v<T>) {
        if (future.resultCount() == 0)
            return QStringLiteral("no result");
    }
    return QStringLiteral("ok");
}

/*! The message of the DistributedPromiseError a finished future failed with, else empty. */
template<typename T>
QString messageOf(QFuture<T> future)
{
    try {
        future.waitForFinished();
    } catch (const DistributedPromiseError &error) {
        return error.message();
    } catch (...) { }
    return QString();
}

/*! A wrapper with one work, square(x), that counts how often it ran. */
struct SquareWrapper
{
    explicit SquareWrapper(const DistributedPromiseConfig &config)
        : wrapper(config)
        , square(wrapper.wrap(QStringLiteral("square"), [this](int x) {
            ++executions;
            return x * x;
        }))
    { }
    int executions = 0;
    DistributedPromiseWrapper wrapper;
    DistributedPromiseFunction<int(int)> square;
};

/*! A future that gets \a value after \a delay, driven by a QTimer on the current thread. */
template<typename T>
QFuture<T> valueLater(std::chrono::milliseconds delay, T value)
{
    auto promise = std::make_shared<QPromise<T>>();
    promise->start();
    QFuture<T> future = promise->future();
    QTimer::singleShot(delay, [promise, value = std::move(value)] {
        promise->addResult(value);
        promise->finish();
    });
    return future;
}

/*! A future that fails with \a error after \a delay, driven by a QTimer on the current thread. */
template<typename T>
QFuture<T> errorLater(std::chrono::milliseconds delay, std::exception_ptr error)
{
    auto promise = std::make_shared<QPromise<T>>();
    promise->start();
    QFuture<T> future = promise->future();
    QTimer::singleShot(delay, [promise, error] {
        promise->setException(error);
        promise->finish();
    });
    return future;
}

/*! The sum of the calls= counts in INFO commandstats, leaving out INFO and CONFIG themselves. */
inline qint64 commandCount(const DistributedPromiseTest::RedisServer &server)
{
    qint64 total = 0;
    const QByteArrayList lines
        = server.cli({ QStringLiteral("INFO"), QStringLiteral("commandstats") }).split('\n');
    for (QByteArray line : lines) {
        line = line.trimmed();
        if (!line.startsWith("cmdstat_") || line.startsWith("cmdstat_info")
            || line.startsWith("cmdstat_config"))
            continue;
        const qsizetype start = line.indexOf("calls=");
        if (start < 0)
            continue;
        const qsizetype end = line.indexOf(',', start);
        total += line.mid(start + 6, end < 0 ? -1 : end - start - 6).toLongLong();
    }
    return total;
}

/*! INFO commandstats without the noise, for failure messages. */
inline QByteArray commandStats(const DistributedPromiseTest::RedisServer &server)
{
    QByteArrayList kept;
    const QByteArrayList lines
        = server.cli({ QStringLiteral("INFO"), QStringLiteral("commandstats") }).split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith("cmdstat_"))
            kept.append(line.trimmed().split(',').constFirst());
    }
    return kept.join(' ');
}

} // namespace CoreTest
