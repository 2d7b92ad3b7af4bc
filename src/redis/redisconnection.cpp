// SPDX-License-Identifier: MIT
// Connection: resolving, connecting, the handshake, losing the connection and reconnecting.
// The commands in flight are in redisconnectioncommands.cpp.
#include "redisconnection_p.h"

#include "logging_p.h"

#include <QtCore/QFile>
#include <QtCore/QPointer>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSocketNotifier>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QHostInfo>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <memory>

namespace DistributedPromiseRedis {

// One per hiredis context; hiredis's ev.data. It outlives the Connection when hiredis frees the
// context later (inside a callback), and it is deleted by the cleanup hook.
struct ContextLink
{
    Connection *owner = nullptr; // null once the connection has let go of this context
    redisAsyncContext *ctx = nullptr; // valid until cleanup() returns
    QString failReason; // what pending commands report when the context is lost
    DistributedPromiseError::Code failCode = DistributedPromiseError::ConnectionFailed;

    static ContextLink *of(const redisAsyncContext *ctx)
    {
        return static_cast<ContextLink *>(ctx->ev.data);
    }
};

namespace {
// hiredis event hooks. They only ever flip the long-lived notifiers of the current context.
Connection *currentOwner(void *data)
{
    auto *link = static_cast<ContextLink *>(data);
    return link ? link->owner : nullptr;
}
} // namespace

// The hooks and callbacks below are called by hiredis (C code): nothing may throw out of them.
struct HiredisHooks
{
    static void addRead(void *data)
    {
        if (Connection *c = currentOwner(data))
            c->m_readNotifier->setEnabled(true);
    }
    static void delRead(void *data)
    {
        if (Connection *c = currentOwner(data))
            c->m_readNotifier->setEnabled(false);
    }
    static void addWrite(void *data)
    {
        if (Connection *c = currentOwner(data))
            c->m_writeNotifier->setEnabled(true);
    }
    static void delWrite(void *data)
    {
        if (Connection *c = currentOwner(data))
            c->m_writeNotifier->setEnabled(false);
    }
    static void cleanup(void *data)
    {
        auto *link = static_cast<ContextLink *>(data);
        if (!link)
            return;
        // Everything about a lost context, the reason included, is handled here: hiredis calls
        // this hook on every path (a disconnect callback would only run after it, when the link
        // is gone, and never for a failed connect). Nothing may find the link after this.
        link->ctx->ev.data = nullptr;
        if (link->failReason.isEmpty() && link->ctx->err)
            link->failReason = QString::fromUtf8(link->ctx->errstr);
        if (Connection *c = link->owner) {
            try {
                c->contextLost(link, link->failReason);
            } catch (...) {
                qCCritical(lcDistributedPromise, "exception while handling a lost connection");
            }
        }
        delete link;
    }
    static void onConnect(const redisAsyncContext *ctx, int status)
    {
        ContextLink *link = ContextLink::of(ctx);
        if (!link || !link->owner)
            return;
        if (status != REDIS_OK)
            link->failReason = QString::fromUtf8(ctx->errstr);
        try {
            link->owner->handleConnectStatus(status, ctx->errstr);
        } catch (...) {
            qCCritical(lcDistributedPromise, "exception in the connect callback");
        }
    }
};

Connection::Connection(const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent)
    : QObject(parent)
    , m_endpoint(endpoint)
    , m_options(options)
    , m_role(QStringLiteral("command connection"))
    , m_backoff(options.reconnectMin)
{
    m_readNotifier = new QSocketNotifier(QSocketNotifier::Read, this);
    m_writeNotifier = new QSocketNotifier(QSocketNotifier::Write, this);
    m_readNotifier->setEnabled(false);
    m_writeNotifier->setEnabled(false);
    connect(m_readNotifier, &QSocketNotifier::activated, this, [this] { onSocketEvent(true); });
    connect(m_writeNotifier, &QSocketNotifier::activated, this, [this] { onSocketEvent(false); });

    m_connectTimer.setSingleShot(true);
    m_reconnectTimer.setSingleShot(true);
    m_commandTimer.setSingleShot(true);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Connection::onRetryTimer);
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        connectionFailed(DistributedPromiseError::ConnectionFailed,
            QStringLiteral("could not connect within %1 ms").arg(m_options.connectTimeout.count()));
    });
    connect(&m_reconnectTimer, &QTimer::timeout, this, &Connection::startConnect);
    connect(&m_commandTimer, &QTimer::timeout, this, &Connection::onCommandTimer);
}

Connection::~Connection()
{
    if (m_deletedFlag) {
        // Destroyed from inside a callback that one of our notifiers started: let the
        // notifiers finish their signal emission first.
        *m_deletedFlag = true;
        m_readNotifier->setParent(nullptr);
        m_writeNotifier->setParent(nullptr);
        m_readNotifier->setEnabled(false);
        m_writeNotifier->setEnabled(false);
        m_readNotifier->deleteLater();
        m_writeNotifier->deleteLater();
    }
    m_wantOpen = false;
    if (m_lookupId >= 0)
        QHostInfo::abortHostLookup(m_lookupId);
    const QString reason = QStringLiteral("the Redis client was destroyed");
    // Take every command from this object before telling anyone, so that a callback that
    // reaches the connection finds nothing left to fail twice.
    std::vector<Callback> callbacks;
    for (Pending *p = m_pending.takeAll(); p;) {
        const std::unique_ptr<Pending> pending(p);
        p = p->next;
        callbacks.push_back(std::move(pending->callback));
    }
    for (auto &[args, pending] : m_deferred) {
        callbacks.push_back(std::move(pending->callback));
        delete pending;
    }
    m_deferred.clear();
    for (auto &[callback, failure] : m_failures)
        callbacks.push_back(std::move(callback));
    m_failures.clear();
    for (const auto &[pending, error] : std::as_const(m_retries)) {
        callbacks.push_back(std::move(pending->callback));
        delete pending;
    }
    m_retries.clear();
    if (m_ctx) {
        m_link->owner = nullptr;
        redisAsyncContext *ctx = m_ctx;
        m_ctx = nullptr;
        m_link = nullptr;
        redisAsyncFree(ctx);
    }
    const Reply failure = Reply::failure(DistributedPromiseError::Cancelled,
        QStringLiteral("Redis at %1: %2").arg(m_endpoint.displayName(), reason));
    for (auto &callback : callbacks) {
        if (callback)
            callback(failure);
    }
}

void Connection::open()
{
    m_wantOpen = true;
    if (m_state == State::Disconnected && !m_reconnectTimer.isActive())
        startConnect();
}

void Connection::close()
{
    m_wantOpen = false;
    m_reconnectTimer.stop();
    m_retryTimer.stop();
    for (const auto &[pending, error] : std::exchange(m_retries, {}))
        failLater(pending,
            QStringLiteral("Redis at %1: the connection was closed").arg(m_endpoint.displayName()),
            DistributedPromiseError::Cancelled);
    connectionFailed(
        DistributedPromiseError::Cancelled, QStringLiteral("the connection was closed"));
}

void Connection::retarget(const Endpoint &endpoint)
{
    if (endpoint.transport == m_endpoint.transport && endpoint.host == m_endpoint.host
        && endpoint.port == m_endpoint.port && endpoint.socketPath == m_endpoint.socketPath)
        return;
    const QString reason = QStringLiteral("moving to %1").arg(endpoint.displayName());
    const bool live = m_ctx || m_state == State::Resolving;
    m_backoff = m_options.reconnectMin;
    if (live)
        connectionFailed(DistributedPromiseError::ConnectionFailed, reason);
    // Reconnects (scheduled by connectionFailed, or later) go to the new address.
    m_endpoint = endpoint;
    if (live)
        return;
    if (m_reconnectTimer.isActive()) {
        // Not at once: this may run inside our own disconnected() signal.
        m_reconnectTimer.start(m_options.reconnectMin);
    }
}

void Connection::startConnect()
{
    if (!m_wantOpen || m_state != State::Disconnected)
        return;
    m_connectTimer.start(m_options.connectTimeout);
    if (m_endpoint.transport == Endpoint::Transport::Unix) {
        connectToAddress(QString());
        return;
    }
    QHostAddress literal;
    if (literal.setAddress(m_endpoint.host)) {
        connectToAddress(literal.toString());
        return;
    }
    m_state = State::Resolving;
    m_lookupId = QHostInfo::lookupHost(m_endpoint.host, this, &Connection::onHostLookedUp);
}

void Connection::onHostLookedUp(const QHostInfo &info)
{
    m_lookupId = -1;
    if (m_state != State::Resolving)
        return;
    if (info.error() != QHostInfo::NoError || info.addresses().isEmpty()) {
        connectionFailed(DistributedPromiseError::ConnectionFailed,
            QStringLiteral("cannot resolve host name '%1': %2")
                .arg(m_endpoint.host, info.errorString()));
        return;
    }
    QHostAddress chosen = info.addresses().constFirst();
    for (const QHostAddress &address : info.addresses()) {
        if (address.protocol() == QAbstractSocket::IPv4Protocol) {
            chosen = address;
            break;
        }
    }
    m_state = State::Disconnected;
    connectToAddress(chosen.toString());
}

void Connection::connectToAddress(const QString &address)
{
    redisAsyncContext *ctx = nullptr;
    if (m_endpoint.transport == Endpoint::Transport::Unix)
        ctx = redisAsyncConnectUnix(QFile::encodeName(m_endpoint.socketPath).constData());
    else
        ctx = redisAsyncConnect(address.toLatin1().constData(), m_endpoint.port);
    if (!ctx) {
        connectionFailed(DistributedPromiseError::ConnectionFailed,
            QStringLiteral("out of memory creating a connection"));
        return;
    }
    QString error;
    if (ctx->err)
        error = QString::fromUtf8(ctx->errstr);
    else if (m_endpoint.tls)
        m_tls.start(ctx, m_endpoint, &error);
    if (!error.isEmpty()) {
        redisAsyncFree(ctx);
        connectionFailed(DistributedPromiseError::ConnectionFailed, error);
        return;
    }
    // Lets the kernel notice a peer that vanished without a word (a black-holed connection
    // still needs the command deadlines, as the kernel waits minutes).
    if (m_endpoint.transport != Endpoint::Transport::Unix
        && redisEnableKeepAlive(&ctx->c) != REDIS_OK) {
        ctx->c.err = 0; // not worth failing the connection for
        ctx->c.errstr[0] = '\0';
    }
    attach(ctx);
    handshake();
    // Commands issued during the host lookup go out now, behind the handshake.
    const auto deferred = std::exchange(m_deferred, {});
    for (const auto &[args, pending] : deferred)
        send(args, pending);
    Q_EMIT attached();
}

void Connection::attach(redisAsyncContext *ctx)
{
    m_ctx = ctx;
    m_link = new ContextLink;
    m_link->owner = this;
    m_link->ctx = ctx;
    m_state = State::Connecting;
    m_socketConnected = false;
    m_answered = false;
    ctx->ev.data = m_link;
    ctx->ev.addRead = &HiredisHooks::addRead;
    ctx->ev.delRead = &HiredisHooks::delRead;
    ctx->ev.addWrite = &HiredisHooks::addWrite;
    ctx->ev.delWrite = &HiredisHooks::delWrite;
    ctx->ev.cleanup = &HiredisHooks::cleanup;
    m_readNotifier->setEnabled(false);
    m_writeNotifier->setEnabled(false);
    m_readNotifier->setSocket(ctx->c.fd);
    m_writeNotifier->setSocket(ctx->c.fd);
    m_readNotifier->setEnabled(true);
    redisAsyncSetConnectCallback(ctx, &HiredisHooks::onConnect);
}

void Connection::handshake()
{
    QList<QList<QByteArray>> commands;
    if (!m_endpoint.password.isEmpty()) {
        QList<QByteArray> auth { QByteArrayLiteral("AUTH") };
        if (!m_endpoint.user.isEmpty())
            auth.append(m_endpoint.user);
        auth.append(m_endpoint.password);
        commands.append(auth);
    }
    if (m_endpoint.db != 0)
        commands.append({ QByteArrayLiteral("SELECT"), QByteArray::number(m_endpoint.db) });
    m_handshakePending = int(commands.size());
    for (const auto &args : commands) {
        const bool isAuth = args.constFirst() == "AUTH";
        send(args, newPending([this, isAuth](const Reply &reply) {
            if (reply.isFailure())
                return; // the connection is going away anyway
            if (reply.isError()) {
                const QString what = isAuth
                    ? QStringLiteral(
                        "authentication failed (check the user and password in the URL)")
                    : QStringLiteral("SELECT failed (check the database number in the URL)");
                connectionFailed(DistributedPromiseError::ConnectionFailed,
                    what + QStringLiteral(": ") + QString::fromUtf8(reply.string));
                return;
            }
            if (--m_handshakePending == 0 && m_socketConnected)
                markReady();
        }));
    }
    if (!m_options.clientName.isEmpty()) {
        // So that operators see whose connection it is (CLIENT LIST); a refusal changes nothing.
        send({ QByteArrayLiteral("CLIENT"), QByteArrayLiteral("SETNAME"), m_options.clientName },
            newPending([](const Reply &reply) {
                if (reply.isError())
                    qCDebug(lcDistributedPromise).noquote()
                        << "CLIENT SETNAME refused:" << QString::fromUtf8(reply.string);
            }));
    }
    for (const QByteArray &script : std::as_const(m_scripts)) {
        send({ QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script },
            newPending([](const Reply &reply) {
                if (reply.isError())
                    qCWarning(lcDistributedPromise).noquote()
                        << "SCRIPT LOAD failed:" << QString::fromUtf8(reply.string);
            }));
    }
}

void Connection::handleConnectStatus(int status, const char *error)
{
    if (status != REDIS_OK) {
        // hiredis frees the context right after this callback; cleanup() reports it.
        m_link->failReason = QString::fromUtf8(error);
        return;
    }
    m_socketConnected = true;
    if (m_handshakePending == 0)
        markReady();
}

void Connection::markReady()
{
    m_connectTimer.stop();
    m_state = State::Connected;
    m_backoff = m_options.reconnectMin;
    m_lastError.clear();
    qCDebug(lcDistributedPromise).noquote()
        << "connected to" << m_endpoint.displayName() << QStringLiteral("(%1)").arg(m_role);
    Q_EMIT connected();
}

void Connection::connectionFailed(DistributedPromiseError::Code code, const QString &reason)
{
    if (m_lookupId >= 0) {
        QHostInfo::abortHostLookup(m_lookupId);
        m_lookupId = -1;
    }
    if (m_ctx) {
        dropContext(code, reason);
        return;
    }
    // No hiredis context: only commands waiting for the host lookup are pending.
    m_connectTimer.stop();
    if (m_state == State::Disconnected && m_deferred.isEmpty()
        && code == DistributedPromiseError::Cancelled)
        return;
    m_state = State::Disconnected;
    m_lastError = reason;
    const auto deferred = std::exchange(m_deferred, {});
    for (const auto &[args, pending] : deferred)
        failLater(pending, QStringLiteral("Redis at %1: %2").arg(m_endpoint.displayName(), reason));
    qCDebug(lcDistributedPromise).noquote()
        << "could not connect to Redis at" << m_endpoint.displayName() << "-" << reason;
    scheduleReconnect();
    Q_EMIT disconnected(reason);
}

void Connection::dropContext(DistributedPromiseError::Code code, const QString &reason)
{
    if (!m_ctx)
        return;
    redisAsyncContext *ctx = m_ctx;
    m_link->failCode = code;
    m_link->failReason = reason;
    // hiredis frees the context (now, or when its current callback returns) and then calls
    // cleanup(), which lands in contextLost().
    redisAsyncFree(ctx);
}

void Connection::contextLost(ContextLink *link, const QString &reason)
{
    if (link != m_link)
        return;
    link->owner = nullptr;
    m_link = nullptr;
    m_ctx = nullptr;
    m_readNotifier->setEnabled(false);
    m_writeNotifier->setEnabled(false);
    m_commandTimer.stop();
    m_connectTimer.stop();
    const bool wasConnected = m_state == State::Connected;
    m_state = State::Disconnected;
    m_lastError = lossReason(reason, link->failCode);
    QPointer<Connection> alive(this);
    while (alive && m_pending.head()) {
        handleReply(std::unique_ptr<Pending>(m_pending.head()),
            Reply::failure(link->failCode,
                QStringLiteral("Redis at %1: %2").arg(m_endpoint.displayName(), m_lastError)));
    }
    if (!alive)
        return;
    if (wasConnected && link->failCode != DistributedPromiseError::Cancelled)
        qCWarning(lcDistributedPromise).noquote()
            << "lost the connection to Redis at" << m_endpoint.displayName() << "-" << m_lastError;
    else
        qCDebug(lcDistributedPromise).noquote()
            << "could not connect to Redis at" << m_endpoint.displayName() << "-" << m_lastError;
    scheduleReconnect();
    Q_EMIT disconnected(m_lastError);
}

QString Connection::lossReason(const QString &reason, DistributedPromiseError::Code code) const
{
    const QString text = reason.isEmpty() ? QStringLiteral("the connection was closed") : reason;
    // A refused TLS handshake surfaces as a bare socket error ("Success", "Connection reset").
    if (m_endpoint.tls && !m_answered && code != DistributedPromiseError::Cancelled)
        return QStringLiteral("the TLS session failed before any reply (%1): %2")
            .arg(TlsContext::hint(m_endpoint), text);
    return text;
}

void Connection::scheduleReconnect()
{
    if (!m_wantOpen || !m_options.reconnect)
        return;
    const double jitter = 0.8 + 0.4 * QRandomGenerator::global()->generateDouble();
    m_reconnectTimer.start(std::chrono::milliseconds(qint64(double(m_backoff.count()) * jitter)));
    m_backoff = std::min(m_backoff * 2, m_options.reconnectMax);
}

} // namespace DistributedPromiseRedis
