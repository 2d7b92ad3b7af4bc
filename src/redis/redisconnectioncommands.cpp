// SPDX-License-Identifier: MIT
// Connection: the commands in flight. Sending, matching replies to commands in order, the
// command deadline, retries on transient errors, and failures delivered from the event loop.
#include "redisconnection_p.h"

#include "logging_p.h"
#include "redisresp_p.h"

#include <QtCore/QSocketNotifier>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <poll.h>

namespace DistributedPromiseRedis {

namespace {
// The command buffer is reused; one grown past this by a large command is let go afterwards.
constexpr qsizetype maxKeptCommandBytes = 64 * 1024;
// Answered commands' Pending kept for reuse, at most (about the commands usually in flight).
constexpr size_t maxSparePending = 256;
} // namespace

Pending *Connection::newPending(Callback callback)
{
    Pending *pending = nullptr;
    if (m_sparePending.empty()) {
        pending = new Pending;
    } else {
        pending = m_sparePending.back().release();
        m_sparePending.pop_back();
    }
    pending->callback = std::move(callback);
    return pending;
}

void Connection::recycle(std::unique_ptr<Pending> pending)
{
    if (m_sparePending.size() >= maxSparePending)
        return;
    *pending = Pending();
    m_sparePending.push_back(std::move(pending));
}

void Connection::command(const QList<QByteArray> &args, Callback callback)
{
    Pending *pending = newPending(std::move(callback));
    if (m_state == State::Resolving) {
        m_deferred.append({ args, pending });
        return;
    }
    if (!m_ctx) {
        failLater(pending, notConnected());
        return;
    }
    send(args, pending);
}

QFuture<Reply> Connection::command(const QList<QByteArray> &args)
{
    return replyFuture([&](Callback callback) { command(args, std::move(callback)); });
}

bool Connection::sendNow(const QList<QByteArray> &args, Callback callback, int replies, quint8 tag)
{
    Q_ASSERT(m_ctx);
    Pending *pending = newPending(std::move(callback));
    pending->awaited = replies;
    pending->tag = tag;
    pending->retry = false;
    return send(args, pending);
}

QString Connection::notConnected() const
{
    return QStringLiteral("not connected to Redis at %1%2")
        .arg(m_endpoint.displayName(),
            m_lastError.isEmpty() ? QString() : QStringLiteral(": ") + m_lastError);
}

bool Connection::send(const QList<QByteArray> &args, Pending *pending)
{
    // One clock read: the first send's deadline is also when transient errors stop being retried.
    if (m_options.commandTimeout.count() > 0) {
        pending->deadline = QDeadlineTimer(m_options.commandTimeout);
        if (pending->attempts == 0)
            pending->giveUpAt = pending->deadline;
    } else if (pending->attempts == 0) {
        pending->giveUpAt = QDeadlineTimer(QDeadlineTimer::Forever);
    }
    ++pending->attempts;
    if (pending->retry)
        pending->args = args;
    // Answered in order by readReplies(), which takes the oldest pending command.
    m_pending.append(pending);
    writeCommand(m_resp, args);
    const int appended
        = redisAppendFormattedCommand(&m_ctx->c, m_resp.constData(), size_t(m_resp.size()));
    // hiredis has copied the command: a buffer grown by a large one is not kept.
    if (m_resp.capacity() > maxKeptCommandBytes)
        m_resp = QByteArray();
    if (appended != REDIS_OK) {
        m_pending.remove(pending);
        failLater(pending,
            QStringLiteral("Redis at %1 refused the command: %2")
                .arg(m_endpoint.displayName(),
                    QString::fromUtf8(m_ctx->errstr[0] ? m_ctx->errstr : "connection closing")));
        return false;
    }
    // hiredis writes its output buffer (connecting first if needed) when the socket is writable.
    m_writeNotifier->setEnabled(true);
    if (!m_commandTimer.isActive())
        armCommandTimer();
    return true;
}

void Connection::onSocketEvent(bool readable)
{
    if (!m_ctx)
        return;
    bool deleted = false;
    m_deletedFlag = &deleted;
    if (readable && (m_ctx->c.flags & REDIS_CONNECTED))
        readReplies(deleted);
    else if (readable)
        redisAsyncHandleRead(m_ctx); // completes the connect
    else
        redisAsyncHandleWrite(m_ctx);
    if (!deleted)
        m_deletedFlag = nullptr;
}

void Connection::readReplies(const bool &deleted)
{
    redisContext *c = &m_ctx->c;
    if (redisBufferRead(c) != REDIS_OK) {
        dropContext(DistributedPromiseError::ConnectionFailed, QString::fromUtf8(c->errstr));
        return;
    }
    for (;;) {
        void *raw = nullptr;
        if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
            dropContext(DistributedPromiseError::ConnectionFailed, QString::fromUtf8(c->errstr));
            return;
        }
        if (!raw)
            return;
        const Reply reply = convertReply(static_cast<redisReply *>(raw));
        freeReplyObject(raw);
        Pending *oldest = m_pending.head();
        bool answers = false;
        if (m_pushReader && m_pushReader->isPush(reply, oldest ? oldest->tag : 0, &answers)) {
            // One of the replies the oldest command waits for: the last one completes it.
            if (answers && oldest && --oldest->awaited == 0)
                complete(reply);
            if (!deleted)
                m_pushReader->onPush(reply);
        } else if (oldest) {
            complete(reply);
        } else if (reply.isError()) {
            qCWarning(lcDistributedPromise).noquote()
                << "Redis at" << m_endpoint.displayName()
                << "sent an unexpected error:" << QString::fromUtf8(reply.string);
        }
        // A handler may have destroyed this object or dropped the context.
        if (deleted || !m_ctx)
            return;
    }
}

void Connection::complete(const Reply &reply)
{
    handleReply(std::unique_ptr<Pending>(m_pending.head()), reply);
}

void Connection::handleReply(std::unique_ptr<Pending> pending, const Reply &reply)
{
    if (!reply.isFailure())
        m_answered = true;
    m_pending.remove(pending.get());
    if (retryLater(pending.get(), reply))
        return;
    Callback callback = std::move(pending->callback);
    recycle(std::move(pending));
    if (callback)
        callback(reply); // may destroy this connection: touch nothing after it
}

bool Connection::retryLater(Pending *pending, const Reply &reply)
{
    if (!pending->retry || !reply.isError())
        return false;
    const QByteArray condition = transientCondition(reply.string);
    if (condition.isEmpty())
        return false;
    if (pending->giveUpAt.hasExpired()) {
        // Given up: the callback gets a transport failure instead of the error reply.
        Callback callback = std::move(pending->callback);
        if (callback)
            callback(unavailable(reply.string)); // may destroy this connection
        return true;
    }
    // The caller deletes its Pending after this: the retry gets a new one.
    auto *retry = newPending(std::move(pending->callback));
    retry->args = std::move(pending->args);
    retry->giveUpAt = pending->giveUpAt;
    retry->attempts = pending->attempts;
    // reconnectMin, doubling with each attempt up to reconnectMax, never past the give-up time.
    const int doublings = std::min(retry->attempts - 1, 16);
    const std::chrono::milliseconds backoff
        = std::min<std::chrono::milliseconds>(m_options.reconnectMin * (1 << doublings),
            std::max(m_options.reconnectMin, m_options.reconnectMax));
    retry->deadline = QDeadlineTimer(backoff);
    if (retry->giveUpAt.deadline() < retry->deadline.deadline())
        retry->deadline = retry->giveUpAt;
    if (retry->attempts == 1)
        qCDebug(lcDistributedPromise).noquote()
            << "Redis at" << m_endpoint.displayName()
            << "is unavailable for now, retrying:" << QString::fromUtf8(reply.string);
    m_retries.append({ retry, reply.string });
    if (!m_retryTimer.isActive() || m_retryTimer.remainingTime() > retry->deadline.remainingTime())
        m_retryTimer.start(
            std::chrono::milliseconds(std::max<qint64>(0, retry->deadline.remainingTime())));
    return true;
}

void Connection::onRetryTimer()
{
    QList<std::pair<Pending *, QByteArray>> due;
    qint64 next = -1;
    for (auto it = m_retries.begin(); it != m_retries.end();) {
        if (it->first->deadline.hasExpired()) {
            due.append(*it);
            it = m_retries.erase(it);
            continue;
        }
        const qint64 remaining = it->first->deadline.remainingTime();
        next = next < 0 ? remaining : std::min(next, remaining);
        ++it;
    }
    if (next >= 0)
        m_retryTimer.start(std::chrono::milliseconds(next));
    std::vector<std::pair<Callback, Reply>> expired;
    for (const auto &[pending, error] : std::as_const(due)) {
        if (pending->giveUpAt.hasExpired()) {
            expired.emplace_back(std::move(pending->callback), unavailable(error));
            delete pending;
        } else if (m_state == State::Resolving) {
            m_deferred.append({ pending->args, pending });
        } else if (!m_ctx) {
            failLater(pending, notConnected());
        } else {
            send(pending->args, pending);
        }
    }
    // Last, as a callback may destroy this connection: touch no member from here on.
    for (const auto &[callback, failure] : expired) {
        if (callback)
            callback(failure);
    }
}

Reply Connection::unavailable(const QByteArray &error) const
{
    const QByteArray condition = transientCondition(error);
    return Reply::failure(DistributedPromiseError::ConnectionFailed,
        QStringLiteral("Redis at %1 stayed unavailable (%2) for %3 ms: %4")
            .arg(m_endpoint.displayName(), QString::fromLatin1(condition))
            .arg(m_options.commandTimeout.count())
            .arg(QString::fromUtf8(error)));
}

void Connection::failLater(
    Pending *pending, const QString &reason, DistributedPromiseError::Code code)
{
    // Never call back re-entrantly from inside command(). Kept in a member (not only in the
    // queued call, which dies with this object) so that the destructor can finish them too.
    m_failures.append({ std::move(pending->callback), Reply::failure(code, reason) });
    delete pending;
    if (m_failures.size() == 1)
        QMetaObject::invokeMethod(this, &Connection::deliverFailures, Qt::QueuedConnection);
}

void Connection::deliverFailures()
{
    const auto failures = std::exchange(m_failures, {});
    for (const auto &[callback, failure] : failures) {
        if (callback)
            callback(failure); // may destroy this connection: touch no member after it
    }
}

void Connection::armCommandTimer()
{
    if (!m_pending.head() || m_options.commandTimeout.count() <= 0)
        return;
    m_commandTimer.start(std::max<qint64>(0, m_pending.head()->deadline.remainingTime()));
}

void Connection::onCommandTimer()
{
    if (!m_pending.head())
        return;
    if (!m_pending.head()->deadline.hasExpired()) {
        armCommandTimer();
        return;
    }
    qCWarning(lcDistributedPromise).noquote()
        << "Redis at" << m_endpoint.displayName() << QStringLiteral("(%1)").arg(m_role)
        << "did not answer within" << m_options.commandTimeout.count() << "ms; reconnecting";
    dropContext(DistributedPromiseError::Timeout,
        QStringLiteral("no reply within %1 ms").arg(m_options.commandTimeout.count()));
}

void Connection::flush(std::chrono::milliseconds timeout)
{
    // hiredis keeps the write notifier enabled while it has output queued.
    const QDeadlineTimer deadline(timeout);
    while (m_ctx && m_state == State::Connected && m_writeNotifier->isEnabled()
        && !deadline.hasExpired()) {
        pollfd descriptor { m_ctx->c.fd, POLLOUT, 0 };
        if (::poll(&descriptor, 1, int(std::max<qint64>(1, deadline.remainingTime()))) <= 0)
            break;
        onSocketEvent(false);
    }
}

} // namespace DistributedPromiseRedis
