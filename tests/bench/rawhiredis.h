// SPDX-License-Identifier: MIT
#pragma once

// The baseline of the benchmarks: raw hiredis on Qt's event loop, through a minimal
// QSocketNotifier adapter written here (not the library's), plus a URL parser of its own, so
// that a benchmark can use it without the library's private headers.
//
// Header-only; used by bench_redisclient and bench_library.

#include <QtCore/QByteArray>
#include <QtCore/QEventLoop>
#include <QtCore/QException>
#include <QtCore/QFile>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QPromise>
#include <QtCore/QSocketNotifier>
#include <QtCore/QString>
#include <QtCore/QTimer>
#include <QtCore/QUrl>
#include <QtCore/QUrlQuery>
#include <QtCore/QVarLengthArray>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <functional>
#include <memory>

namespace DistributedPromiseBench {

/*! What a failed GET or command of the baseline sets on its promise. */
class BenchFailure : public QException
{
public:
    void raise() const override { throw *this; }
    BenchFailure *clone() const override { return new BenchFailure(*this); }
};

/*! Where Redis is: redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N&password=P]. */
struct RawEndpoint
{
    bool unixSocket = false;
    QByteArray host = QByteArrayLiteral("127.0.0.1");
    int port = 6379;
    QByteArray socketPath;
    QByteArray user;
    QByteArray password;
    int db = 0;

    static bool parse(const QUrl &url, RawEndpoint *endpoint, QString *error)
    {
        RawEndpoint result;
        if (!url.isValid()) {
            *error = QStringLiteral("'%1' is not a URL").arg(url.toString(QUrl::RemovePassword));
            return false;
        }
        const QString scheme = url.scheme();
        if (scheme == QLatin1String("redis")) {
            if (!url.host().isEmpty())
                result.host = url.host().toUtf8();
            result.port = url.port(6379);
            result.user = url.userName().toUtf8();
            result.password = url.password().toUtf8();
            QString path = url.path();
            while (path.startsWith(QLatin1Char('/')))
                path.remove(0, 1);
            if (!path.isEmpty()) {
                bool ok = false;
                result.db = path.toInt(&ok);
                if (!ok || result.db < 0) {
                    *error = QStringLiteral("the database in '%1' is not a number")
                                 .arg(url.toString(QUrl::RemovePassword));
                    return false;
                }
            }
        } else if (scheme == QLatin1String("unix")) {
            result.unixSocket = true;
            result.socketPath = QFile::encodeName(url.path());
            const QUrlQuery query(url);
            if (query.hasQueryItem(QStringLiteral("db")))
                result.db = query.queryItemValue(QStringLiteral("db")).toInt();
            result.password = query.queryItemValue(QStringLiteral("password")).toUtf8();
            if (result.password.isEmpty())
                result.password = url.password().toUtf8();
            result.user = url.userName().toUtf8();
        } else {
            *error = QStringLiteral("'%1': use redis://host:port[/db] or unix:///path")
                         .arg(url.toString(QUrl::RemovePassword));
            return false;
        }
        *endpoint = result;
        return true;
    }

    /*! AUTH and SELECT, when needed, as argument lists. */
    QList<QList<QByteArray>> handshake() const
    {
        QList<QList<QByteArray>> commands;
        if (!password.isEmpty()) {
            if (user.isEmpty())
                commands.append({ QByteArrayLiteral("AUTH"), password });
            else
                commands.append({ QByteArrayLiteral("AUTH"), user, password });
        }
        if (db != 0)
            commands.append({ QByteArrayLiteral("SELECT"), QByteArray::number(db) });
        return commands;
    }
};

/*! Raw hiredis on Qt's event loop: two notifiers, the five event hooks, nothing else. */
class RawHiredis
{
public:
    /*! Gets the reply, or null when the command failed or the connection went away. */
    using ReplyHandler = std::function<void(const redisReply *)>;

    RawHiredis() = default;
    RawHiredis(const RawHiredis &) = delete;
    RawHiredis &operator=(const RawHiredis &) = delete;
    ~RawHiredis()
    {
        if (m_ctx)
            redisAsyncFree(m_ctx); // runs the pending callbacks with NULL, then cleanup()
    }

    bool connect(const RawEndpoint &endpoint, QString *error)
    {
        if (endpoint.unixSocket)
            m_ctx = redisAsyncConnectUnix(endpoint.socketPath.constData());
        else
            m_ctx = redisAsyncConnect(endpoint.host.constData(), endpoint.port);
        if (!m_ctx || m_ctx->err) {
            *error = m_ctx ? QString::fromUtf8(m_ctx->errstr) : QStringLiteral("out of memory");
            if (m_ctx)
                redisAsyncFree(m_ctx);
            m_ctx = nullptr;
            return false;
        }
        m_read = std::make_unique<QSocketNotifier>(m_ctx->c.fd, QSocketNotifier::Read);
        m_write = std::make_unique<QSocketNotifier>(m_ctx->c.fd, QSocketNotifier::Write);
        m_read->setEnabled(false);
        m_write->setEnabled(false);
        QObject::connect(m_read.get(), &QSocketNotifier::activated, m_read.get(), [this] {
            if (m_ctx)
                redisAsyncHandleRead(m_ctx);
        });
        QObject::connect(m_write.get(), &QSocketNotifier::activated, m_write.get(), [this] {
            if (m_ctx)
                redisAsyncHandleWrite(m_ctx);
        });
        m_ctx->data = this;
        m_ctx->ev.data = this;
        m_ctx->ev.addRead
            = [](void *self) { static_cast<RawHiredis *>(self)->m_read->setEnabled(true); };
        m_ctx->ev.delRead
            = [](void *self) { static_cast<RawHiredis *>(self)->m_read->setEnabled(false); };
        m_ctx->ev.addWrite
            = [](void *self) { static_cast<RawHiredis *>(self)->m_write->setEnabled(true); };
        m_ctx->ev.delWrite
            = [](void *self) { static_cast<RawHiredis *>(self)->m_write->setEnabled(false); };
        m_ctx->ev.cleanup = [](void *self) {
            auto *raw = static_cast<RawHiredis *>(self);
            raw->m_read->setEnabled(false);
            raw->m_write->setEnabled(false);
            raw->m_ctx = nullptr; // hiredis frees it right after this hook
        };
        redisAsyncSetConnectCallback(m_ctx, [](const redisAsyncContext *ctx, int status) {
            auto *raw = static_cast<RawHiredis *>(ctx->data);
            raw->m_connectStatus = status == REDIS_OK ? 1 : -1;
            if (status != REDIS_OK)
                raw->m_error = QString::fromUtf8(ctx->errstr);
        });

        // Log in and select the database like the library does; pipelined behind connect.
        for (const QList<QByteArray> &args : endpoint.handshake()) {
            ++m_handshake;
            command(args, [this](const redisReply *reply) {
                if (!reply || reply->type == REDIS_REPLY_ERROR)
                    m_handshakeOk = false;
                --m_handshake;
            });
        }
        m_read->setEnabled(true);

        QEventLoop loop;
        QTimer deadline;
        deadline.setSingleShot(true);
        QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
        deadline.start(5000);
        while (deadline.isActive() && m_ctx && (m_connectStatus == 0 || m_handshake > 0))
            loop.processEvents(QEventLoop::WaitForMoreEvents);
        if (m_connectStatus != 1 || m_handshake > 0 || !m_handshakeOk || !m_ctx) {
            *error = m_error.isEmpty() ? QStringLiteral("connect/AUTH/SELECT failed or timed out")
                                       : m_error;
            return false;
        }
        return true;
    }

    /*! GET \a key; the promise gets the value (empty for nil) or a BenchFailure. */
    void get(const QByteArray &key, QPromise<QByteArray> promise)
    {
        auto *heapPromise = new QPromise<QByteArray>(std::move(promise));
        const int rc = m_ctx ? redisAsyncCommand(m_ctx, &RawHiredis::onGet, heapPromise, "GET %b",
                           key.constData(), size_t(key.size()))
                             : REDIS_ERR;
        if (rc != REDIS_OK)
            onGet(m_ctx, nullptr, heapPromise);
    }

    /*! Any command (binary-safe arguments); \a handler runs exactly once. */
    void command(const QList<QByteArray> &args, ReplyHandler handler)
    {
        QVarLengthArray<const char *, 16> argv;
        QVarLengthArray<size_t, 16> lengths;
        for (const QByteArray &arg : args) {
            argv.append(arg.constData());
            lengths.append(size_t(arg.size()));
        }
        auto *heapHandler = new ReplyHandler(std::move(handler));
        const int rc = m_ctx ? redisAsyncCommandArgv(m_ctx, &RawHiredis::onReply, heapHandler,
                           int(argv.size()), argv.data(), lengths.constData())
                             : REDIS_ERR;
        if (rc != REDIS_OK)
            onReply(m_ctx, nullptr, heapHandler);
    }

private:
    static void onGet(redisAsyncContext *, void *r, void *privdata)
    {
        std::unique_ptr<QPromise<QByteArray>> promise(
            static_cast<QPromise<QByteArray> *>(privdata));
        const auto *reply = static_cast<redisReply *>(r);
        if (reply && reply->type == REDIS_REPLY_STRING)
            promise->addResult(QByteArray(reply->str, qsizetype(reply->len)));
        else if (reply && reply->type == REDIS_REPLY_NIL)
            promise->addResult(QByteArray());
        else
            promise->setException(BenchFailure());
        promise->finish();
    }

    static void onReply(redisAsyncContext *, void *r, void *privdata)
    {
        std::unique_ptr<ReplyHandler> handler(static_cast<ReplyHandler *>(privdata));
        (*handler)(static_cast<const redisReply *>(r));
    }

    redisAsyncContext *m_ctx = nullptr;
    std::unique_ptr<QSocketNotifier> m_read;
    std::unique_ptr<QSocketNotifier> m_write;
    int m_connectStatus = 0; // 0 pending, 1 connected, -1 failed
    int m_handshake = 0; // AUTH / SELECT replies still expected
    bool m_handshakeOk = true;
    QString m_error;
};

} // namespace DistributedPromiseBench
