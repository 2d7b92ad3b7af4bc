// SPDX-License-Identifier: MIT
#pragma once

// Small helpers shared by the tests of the private Redis layer.

#include "redisconnection_p.h"
#include "redisserver.h"

#include <QtCore/QFuture>
#include <QtTest/QTest>

namespace RedisTest {

using DistributedPromiseRedis::Endpoint;
using DistributedPromiseRedis::Reply;

/*! The endpoint for \a url; \a ok (if given) says whether it parsed. */
inline Endpoint endpointOf(const QUrl &url, bool *ok = nullptr)
{
    Endpoint endpoint;
    QString error;
    const bool parsed = Endpoint::parse(url, &endpoint, &error);
    if (!parsed)
        qWarning("cannot parse %s: %s", qPrintable(url.toString(QUrl::RemovePassword)),
            qPrintable(error));
    if (ok)
        *ok = parsed;
    return endpoint;
}

/*! Runs the event loop until \a future is finished or \a timeoutMs have passed. */
template<typename T>
bool waitFor(const QFuture<T> &future, int timeoutMs = 5000)
{
    return QTest::qWaitFor([&] { return future.isFinished(); }, timeoutMs);
}

/*! The reply of a finished future, or a Failure reply describing why the future failed. */
inline Reply replyOf(QFuture<Reply> future)
{
    try {
        future.waitForFinished(); // already finished: does not block, rethrows a failure
        if (future.resultCount() > 0)
            return future.result();
        return Reply::failure(
            DistributedPromiseError::Cancelled, QStringLiteral("the future has no result"));
    } catch (const DistributedPromiseError &error) {
        return Reply::failure(error.code(), error.message());
    }
}

/*! Sends \a args and waits (bounded) for the reply; a Failure reply when none came in time. */
inline Reply call(DistributedPromiseRedis::Connection &connection, const QList<QByteArray> &args,
    int timeoutMs = 5000)
{
    const QFuture<Reply> future = connection.command(args);
    if (!waitFor(future, timeoutMs))
        return Reply::failure(DistributedPromiseError::Timeout,
            QStringLiteral("the test saw no reply within %1 ms").arg(timeoutMs));
    return replyOf(future);
}

/*! For QCOMPARE / failure messages. */
inline QByteArray describe(const Reply &reply)
{
    switch (reply.type) {
    case Reply::Type::Nil:
        return QByteArrayLiteral("nil");
    case Reply::Type::Status:
        return "status " + reply.string;
    case Reply::Type::Error:
        return "error " + reply.string;
    case Reply::Type::Integer:
        return "integer " + QByteArray::number(reply.integer);
    case Reply::Type::String:
        return "string " + reply.string.toPercentEncoding();
    case Reply::Type::Array: {
        QByteArrayList parts;
        for (const Reply &element : reply.elements)
            parts.append(describe(element));
        return "[" + parts.join(", ") + "]";
    }
    case Reply::Type::Failure:
        return "failure " + DistributedPromiseError::codeName(reply.failureCode).toUtf8() + " "
            + reply.string;
    }
    return QByteArrayLiteral("?");
}

} // namespace RedisTest
