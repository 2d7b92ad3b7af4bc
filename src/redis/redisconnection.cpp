// SPDX-License-Identifier: MIT
#include "redisconnection_p.h"

#include "logging_p.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QFile>
#include <QtCore/QPointer>
#include <QtCore/QPromise>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSocketNotifier>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QHostInfo>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
#include <hiredis/hiredis_ssl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include <charconv>
#include <poll.h>

namespace DistributedPromiseRedis {

// One per hiredis context; hiredis's ev.data. It outlives the Connection when hiredis frees the
// context later (inside a callback), and it is deleted by the cleanup hook, which hiredis calls
// after every pending callback has run.
struct ContextLink
{
    Connection *owner = nullptr; // null once the connection has let go of this context
    redisAsyncContext *ctx = nullptr; // valid until cleanup() returns
    QString failReason; // what pending callbacks report when they get a NULL reply
    DistributedPromiseError::Code failCode = DistributedPromiseError::ConnectionFailed;

    static ContextLink *of(const redisAsyncContext *ctx)
    {
        return static_cast<ContextLink *>(ctx->ev.data);
    }
};

// One per command: hiredis's privdata; deleted when hiredis runs its callback.
struct Pending
{
    enum class Kind : quint8 { Command, Subscribe, Unsubscribe };

    Connection *owner = nullptr;
    Callback callback;
    QDeadlineTimer deadline; // in flight: answer due; waiting in m_retries: next send due
    Pending *prev = nullptr;
    Pending *next = nullptr;
    QList<QByteArray> args; // Commands mode: kept (shared, not copied) for a retry
    QDeadlineTimer giveUpAt; // first send + commandTimeout: transient errors retried until then
    int attempts = 0; // sends so far
    Kind kind = Kind::Command;
    int awaited = 0; // Subscribe, Unsubscribe: confirmations still to come
};

namespace {

// The error replies that mean "not executed, the server is unavailable for now": the condition's
// name, or empty.
QByteArray transientCondition(const QByteArray &error)
{
    for (const char *name : { "LOADING", "BUSY", "MASTERDOWN" }) {
        const qsizetype length = qsizetype(qstrlen(name));
        if (error.startsWith(name) && (error.size() == length || error.at(length) == ' '))
            return QByteArray(name);
    }
    return QByteArray();
}

QByteArray transientCondition(const Reply &reply)
{
    return reply.isError() ? transientCondition(reply.string) : QByteArray();
}

} // namespace

Reply convertReply(const redisReply *r)
{
    Reply reply;
    switch (r->type) {
    case REDIS_REPLY_STRING:
#ifdef REDIS_REPLY_VERB
    case REDIS_REPLY_VERB:
#endif
#ifdef REDIS_REPLY_BIGNUM
    case REDIS_REPLY_BIGNUM:
#endif
#ifdef REDIS_REPLY_DOUBLE
    case REDIS_REPLY_DOUBLE:
#endif
        reply.type = Reply::Type::String;
        reply.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_STATUS:
        reply.type = Reply::Type::Status;
        reply.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_ERROR:
        reply.type = Reply::Type::Error;
        reply.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_INTEGER:
#ifdef REDIS_REPLY_BOOL
    case REDIS_REPLY_BOOL:
#endif
        reply.type = Reply::Type::Integer;
        reply.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
#ifdef REDIS_REPLY_MAP
    case REDIS_REPLY_MAP:
    case REDIS_REPLY_SET:
#endif
#ifdef REDIS_REPLY_PUSH
    case REDIS_REPLY_PUSH:
#endif
        reply.type = Reply::Type::Array;
        reply.elements.reserve(qsizetype(r->elements));
        for (size_t i = 0; i < r->elements; ++i)
            reply.elements.append(convertReply(r->element[i]));
        break;
    default:
        reply.type = Reply::Type::Nil;
        break;
    }
    return reply;
}

DistributedPromiseError Reply::toError(const QString &key) const
{
    if (type == Type::Failure)
        return DistributedPromiseError(failureCode, QString::fromUtf8(string), key);
    if (type == Type::Error)
        return DistributedPromiseError(DistributedPromiseError::RedisError,
            QStringLiteral("Redis answered with an error: %1").arg(QString::fromUtf8(string)), key);
    return DistributedPromiseError(
        DistributedPromiseError::RedisError, QStringLiteral("unexpected Redis reply"), key);
}

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
    static void onReply(redisAsyncContext *ctx, void *r, void *privdata)
    {
        std::unique_ptr<Pending> pending(static_cast<Pending *>(privdata));
        if (!pending->owner)
            return;
        try {
            if (r) {
                pending->owner->handleReply(
                    pending.get(), convertReply(static_cast<redisReply *>(r)));
            } else {
                const ContextLink *link = ContextLink::of(ctx);
                QString reason = link ? link->failReason : QString();
                if (reason.isEmpty() && ctx->err)
                    reason = QString::fromUtf8(ctx->errstr);
                const auto code = link ? link->failCode : DistributedPromiseError::ConnectionFailed;
                pending->owner->handleReply(pending.get(),
                    Reply::failure(code,
                        QStringLiteral("Redis at %1: %2")
                            .arg(pending->owner->endpoint().displayName(),
                                pending->owner->lossReason(reason, code))));
            }
        } catch (...) {
            qCCritical(lcDistributedPromise, "exception escaped a Redis reply callback");
        }
    }
};

Connection::Connection(
    const Endpoint &endpoint, Mode mode, const ConnectionOptions &options, QObject *parent)
    : QObject(parent)
    , m_endpoint(endpoint)
    , m_mode(mode)
    , m_options(options)
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
    m_resubscribeTimer.setSingleShot(true);
    m_resubscribeBackoff = options.reconnectMin;
    m_heartbeatTimer.setInterval(heartbeatInterval(options));
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &Connection::sendHeartbeat);
    connect(&m_retryTimer, &QTimer::timeout, this, &Connection::onRetryTimer);
    connect(&m_resubscribeTimer, &QTimer::timeout, this, &Connection::resubscribe);
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
        // Destroyed from inside a hiredis callback that one of our notifiers started: let the
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
    // Detach everything from this object before telling anyone, so that callbacks run later by
    // hiredis (it may defer the free until its current callback returns) find no owner.
    std::vector<Callback> callbacks;
    for (Pending *p = m_head; p;) {
        Pending *next = p->next;
        p->owner = nullptr;
        callbacks.push_back(std::move(p->callback));
        if (m_mode == Mode::Subscriber)
            delete p; // ours, not hiredis's (see readRaw())
        p = next;
    }
    m_head = m_tail = nullptr;
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
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
    if (m_tls)
        SSL_CTX_free(m_tls); // open TLS sessions keep their own reference
#endif
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
        startTls(ctx, &error);
    if (!error.isEmpty()) {
        redisAsyncFree(ctx);
        connectionFailed(DistributedPromiseError::ConnectionFailed, error);
        return;
    }
    // Lets the kernel notice a peer that vanished without a word (a black-holed connection
    // still needs the PING deadlines, as the kernel waits minutes).
    if (m_endpoint.transport != Endpoint::Transport::Unix
        && redisEnableKeepAlive(&ctx->c) != REDIS_OK) {
        ctx->c.err = 0; // not worth failing the connection for
        ctx->c.errstr[0] = '\0';
    }
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
    handshake();
    // Commands issued during the host lookup go out now, behind the handshake.
    const auto deferred = std::exchange(m_deferred, {});
    for (const auto &[args, pending] : deferred)
        send(args, pending);
    if (m_mode == Mode::Subscriber) {
        QList<QByteArray> wanted;
        for (auto it = m_channels.begin(); it != m_channels.end();) {
            if (!it->wanted) {
                it = m_channels.erase(it);
                continue;
            }
            it->confirmed = false;
            it->opsInFlight = 0;
            wanted.append(it.key());
            ++it;
        }
        if (!wanted.isEmpty())
            sendSubscription(true, wanted);
    }
}

bool Connection::startTls(redisAsyncContext *ctx, QString *error)
{
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
    // Our own OpenSSL objects rather than hiredis's redisSSLContext, which checks the chain
    // only: here the certificate must also be issued for the host we connect to.
    static const int openSslReady = redisInitOpenSSL();
    Q_UNUSED(openSslReady)
    if (!m_tls) {
        const QByteArray ca = QFile::encodeName(m_endpoint.caCertFile);
        const QByteArray cert = QFile::encodeName(m_endpoint.certFile);
        const QByteArray key = QFile::encodeName(m_endpoint.keyFile);
        SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
        QString why;
        if (!tls)
            why = QStringLiteral("out of memory");
        else if (SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION) != 1)
            why = QStringLiteral("TLS 1.2 is not available");
        else if (ca.isEmpty() ? SSL_CTX_set_default_verify_paths(tls) != 1
                              : SSL_CTX_load_verify_locations(tls, ca.constData(), nullptr) != 1)
            why = QStringLiteral("cannot load the CA certificates %1")
                      .arg(ca.isEmpty() ? QStringLiteral("of the system") : m_endpoint.caCertFile);
        else if (!cert.isEmpty() && SSL_CTX_use_certificate_chain_file(tls, cert.constData()) != 1)
            why = QStringLiteral("cannot load the client certificate %1").arg(m_endpoint.certFile);
        else if (!key.isEmpty()
            && (SSL_CTX_use_PrivateKey_file(tls, key.constData(), SSL_FILETYPE_PEM) != 1
                || SSL_CTX_check_private_key(tls) != 1))
            why = QStringLiteral("cannot load the client key %1, or it does not match the "
                                 "certificate")
                      .arg(m_endpoint.keyFile);
        if (!why.isEmpty()) {
            SSL_CTX_free(tls);
            *error = QStringLiteral("cannot set up TLS: %1 (check cacert, cert and key in the URL)")
                         .arg(why);
            return false;
        }
        SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, nullptr);
        m_tls = tls;
    }
    // The name the certificate must carry: sni= when given, else the host of the URL.
    const QString expected
        = m_endpoint.serverName.isEmpty() ? m_endpoint.host : m_endpoint.serverName;
    const QByteArray name = expected.toUtf8();
    const bool isAddress = !QHostAddress(expected).isNull();
    SSL *ssl = SSL_new(m_tls);
    bool ready = ssl != nullptr;
    if (ready && !name.isEmpty()) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ready = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(param, name.constData()) == 1
                          : (SSL_set_tlsext_host_name(ssl, name.constData()) == 1
                              && X509_VERIFY_PARAM_set1_host(param, name.constData(), 0) == 1);
    }
    if (!ready) {
        SSL_free(ssl);
        *error = QStringLiteral("cannot set up TLS for '%1'").arg(expected);
        return false;
    }
    if (redisInitiateSSL(&ctx->c, ssl) != REDIS_OK) { // hiredis owns ssl only on success
        SSL_free(ssl);
        *error = QStringLiteral("TLS failed: %1 (%2)")
                     .arg(QString::fromUtf8(ctx->c.errstr), tlsHint());
        return false;
    }
    return true;
#else
    Q_UNUSED(ctx)
    *error = QStringLiteral("this build has no TLS support");
    return false;
#endif
}

QString Connection::tlsHint() const
{
    const QString expected
        = m_endpoint.serverName.isEmpty() ? m_endpoint.host : m_endpoint.serverName;
    return QStringLiteral("is the server's certificate signed by the CA in cacert and issued for "
                          "'%1' (sni= names another host), and does the port speak TLS?")
        .arg(expected);
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
    if (m_endpoint.db != 0 && m_mode == Mode::Commands)
        commands.append({ QByteArrayLiteral("SELECT"), QByteArray::number(m_endpoint.db) });
    m_handshakePending = int(commands.size());
    for (const auto &args : commands) {
        auto *pending = new Pending;
        pending->owner = this;
        const bool isAuth = args.constFirst() == "AUTH";
        pending->callback = [this, isAuth](const Reply &reply) {
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
        };
        send(args, pending);
    }
    if (!m_options.clientName.isEmpty()) {
        // So that operators see whose connection it is (CLIENT LIST); a refusal changes nothing.
        auto *pending = new Pending;
        pending->owner = this;
        pending->callback = [](const Reply &reply) {
            if (reply.isError())
                qCDebug(lcDistributedPromise).noquote()
                    << "CLIENT SETNAME refused:" << QString::fromUtf8(reply.string);
        };
        send({ QByteArrayLiteral("CLIENT"), QByteArrayLiteral("SETNAME"),
                 m_options.clientName + (m_mode == Mode::Subscriber ? ":subscriber" : "") },
            pending);
    }
    if (m_mode != Mode::Commands)
        return;
    for (const QByteArray &script : m_options.scripts) {
        auto *pending = new Pending;
        pending->owner = this;
        pending->callback = [](const Reply &reply) {
            if (reply.isError())
                qCWarning(lcDistributedPromise).noquote()
                    << "SCRIPT LOAD failed:" << QString::fromUtf8(reply.string);
        };
        send({ QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script }, pending);
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
    qCDebug(lcDistributedPromise) << "connected to" << m_endpoint.displayName()
                                  << (m_mode == Mode::Subscriber ? "(subscriber)" : "");
    m_resubscribeBackoff = m_options.reconnectMin;
    if (m_mode == Mode::Subscriber && m_heartbeatTimer.interval() > 0) {
        m_heartbeatInFlight = false;
        m_heartbeatTimer.start();
    }
    Q_EMIT connected();
}

void Connection::onSocketEvent(bool readable)
{
    if (!m_ctx)
        return;
    bool deleted = false;
    m_deletedFlag = &deleted;
    if (readable && m_mode == Mode::Subscriber && (m_ctx->c.flags & REDIS_CONNECTED))
        readRaw(deleted);
    else if (readable)
        redisAsyncHandleRead(m_ctx);
    else
        redisAsyncHandleWrite(m_ctx);
    if (!deleted)
        m_deletedFlag = nullptr;
}

void Connection::command(const QList<QByteArray> &args, Callback callback)
{
    Q_ASSERT(m_mode == Mode::Commands);
    auto *pending = new Pending;
    pending->owner = this;
    pending->callback = std::move(callback);
    if (m_state == State::Resolving) {
        m_deferred.append({ args, pending });
        return;
    }
    if (!m_ctx) {
        failLater(pending,
            QStringLiteral("not connected to Redis at %1%2")
                .arg(m_endpoint.displayName(),
                    m_lastError.isEmpty() ? QString() : QStringLiteral(": ") + m_lastError));
        return;
    }
    send(args, pending);
}

QFuture<Reply> replyFuture(const std::function<void(Callback)> &send)
{
    auto promise = std::make_shared<QPromise<Reply>>();
    promise->start();
    QFuture<Reply> future = promise->future();
    send([promise](const Reply &reply) {
        if (reply.isFailure())
            promise->setException(reply.toError());
        else
            promise->addResult(reply);
        promise->finish();
    });
    return future;
}

QFuture<Reply> Connection::command(const QList<QByteArray> &args)
{
    return replyFuture([&](Callback callback) { command(args, std::move(callback)); });
}

bool Connection::send(const QList<QByteArray> &args, Pending *pending)
{
    if (m_options.commandTimeout.count() > 0)
        pending->deadline = QDeadlineTimer(m_options.commandTimeout);
    if (pending->attempts++ == 0)
        pending->giveUpAt = m_options.commandTimeout.count() > 0
            ? QDeadlineTimer(m_options.commandTimeout)
            : QDeadlineTimer(QDeadlineTimer::Forever);
    link(pending);
    bool sent = false;
    if (m_mode == Mode::Subscriber) {
        // Answered in order by readRaw(), which takes the oldest pending command.
        sent = appendRaw(args);
    } else {
        pending->args = args;
        formatCommand(args);
        sent = redisAsyncFormattedCommand(m_ctx, &HiredisHooks::onReply, pending,
                   m_resp.constData(), size_t(m_resp.size()))
            == REDIS_OK;
    }
    if (!sent) {
        unlink(pending);
        failLater(pending,
            QStringLiteral("Redis at %1 refused the command: %2")
                .arg(m_endpoint.displayName(),
                    QString::fromUtf8(m_ctx->errstr[0] ? m_ctx->errstr : "connection closing")));
        return false;
    }
    if (!m_commandTimer.isActive())
        armCommandTimer();
    return true;
}

void Connection::formatCommand(const QList<QByteArray> &args)
{
    // RESP written straight into a reused buffer: cheaper than hiredis's printf-style builder.
    const auto appendHeader = [this](char kind, qsizetype count) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, count).ptr;
        m_resp.append(kind).append(digits, end - digits).append("\r\n", 2);
    };
    m_resp.clear();
    appendHeader('*', args.size());
    for (const QByteArray &arg : args) {
        appendHeader('$', arg.size());
        m_resp.append(arg).append("\r\n", 2);
    }
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

void Connection::link(Pending *pending)
{
    pending->prev = m_tail;
    pending->next = nullptr;
    if (m_tail)
        m_tail->next = pending;
    else
        m_head = pending;
    m_tail = pending;
    ++m_pendingCount;
}

void Connection::unlink(Pending *pending)
{
    if (pending->prev)
        pending->prev->next = pending->next;
    else
        m_head = pending->next;
    if (pending->next)
        pending->next->prev = pending->prev;
    else
        m_tail = pending->prev;
    pending->prev = pending->next = nullptr;
    --m_pendingCount;
}

QString Connection::lossReason(const QString &reason, DistributedPromiseError::Code code) const
{
    const QString text = reason.isEmpty() ? QStringLiteral("the connection was closed") : reason;
    // A refused TLS handshake surfaces as a bare socket error ("Success", "Connection reset").
    if (m_endpoint.tls && !m_answered && code != DistributedPromiseError::Cancelled)
        return QStringLiteral("the TLS session failed before any reply (%1): %2")
            .arg(tlsHint(), text);
    return text;
}

void Connection::handleReply(Pending *pending, const Reply &reply)
{
    if (!reply.isFailure())
        m_answered = true;
    unlink(pending);
    if (m_mode == Mode::Commands && retryLater(pending, reply))
        return;
    pending->owner = nullptr;
    Callback callback = std::move(pending->callback);
    if (callback)
        callback(reply); // may destroy this connection: touch nothing after it
}

void Connection::armCommandTimer()
{
    if (!m_head || m_options.commandTimeout.count() <= 0)
        return;
    m_commandTimer.start(std::max<qint64>(0, m_head->deadline.remainingTime()));
}

void Connection::onCommandTimer()
{
    if (!m_head)
        return;
    if (!m_head->deadline.hasExpired()) {
        armCommandTimer();
        return;
    }
    qCWarning(lcDistributedPromise).noquote()
        << "Redis at" << m_endpoint.displayName()
        << (m_mode == Mode::Subscriber ? "(subscriber connection)" : "(command connection)")
        << "did not answer within" << m_options.commandTimeout.count() << "ms; reconnecting";
    dropContext(DistributedPromiseError::Timeout,
        QStringLiteral("no reply within %1 ms").arg(m_options.commandTimeout.count()));
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
    // hiredis runs every pending callback with NULL (now, or when its current callback returns)
    // and then calls cleanup(), which lands in contextLost().
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
    m_heartbeatTimer.stop();
    m_resubscribeTimer.stop(); // the next connection subscribes everything wanted
    const bool wasConnected = m_state == State::Connected;
    m_state = State::Disconnected;
    m_lastError = lossReason(reason, link->failCode);
    for (ChannelState &channel : m_channels) {
        channel.confirmed = false;
        channel.opsInFlight = 0;
    }
    // hiredis fails the commands it knows; those written by appendRaw() are failed here.
    QPointer<Connection> alive(this);
    while (m_mode == Mode::Subscriber && m_head && alive) {
        const std::unique_ptr<Pending> pending(m_head);
        handleReply(pending.get(),
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

void Connection::scheduleReconnect()
{
    if (!m_wantOpen || !m_options.reconnect)
        return;
    const double jitter = 0.8 + 0.4 * QRandomGenerator::global()->generateDouble();
    m_reconnectTimer.start(std::chrono::milliseconds(qint64(double(m_backoff.count()) * jitter)));
    m_backoff = std::min(m_backoff * 2, m_options.reconnectMax);
}

void Connection::subscribe(const QByteArray &channel)
{
    Q_ASSERT(m_mode == Mode::Subscriber);
    ChannelState &state = m_channels[channel];
    if (state.wanted)
        return;
    state.wanted = true;
    if (m_ctx)
        sendSubscription(true, { channel });
}

void Connection::unsubscribe(const QByteArray &channel)
{
    Q_ASSERT(m_mode == Mode::Subscriber);
    auto it = m_channels.find(channel);
    if (it == m_channels.end() || !it->wanted)
        return;
    it->wanted = false;
    it->confirmed = false;
    if (m_ctx)
        sendSubscription(false, { channel });
    if (it->opsInFlight == 0)
        m_channels.erase(it);
}

bool Connection::isSubscribed(const QByteArray &channel) const
{
    const auto it = m_channels.constFind(channel);
    return it != m_channels.cend() && it->confirmed;
}

void Connection::sendSubscription(bool subscribe, const QList<QByteArray> &channels)
{
    QList<QByteArray> args;
    args.reserve(channels.size() + 1);
    if (m_options.shardChannels)
        args.append(
            subscribe ? QByteArrayLiteral("SSUBSCRIBE") : QByteArrayLiteral("SUNSUBSCRIBE"));
    else
        args.append(subscribe ? QByteArrayLiteral("SUBSCRIBE") : QByteArrayLiteral("UNSUBSCRIBE"));
    args.append(channels);
    // In the in-flight list like any command: answered (by one confirmation per channel, or one
    // error) in order with the others, and a dead connection when unanswered for too long.
    auto *pending = new Pending;
    pending->owner = this;
    pending->kind = subscribe ? Pending::Kind::Subscribe : Pending::Kind::Unsubscribe;
    pending->awaited = int(channels.size());
    pending->callback = [this, subscribe, channels](const Reply &reply) {
        if (reply.isError())
            handleRefusal(subscribe, channels, reply);
    };
    if (!send(args, pending))
        return; // the context is failing; its loss re-subscribes everything wanted
    for (const QByteArray &channel : channels)
        ++m_channels[channel].opsInFlight;
}

void Connection::handleRefusal(
    bool subscribe, const QList<QByteArray> &channels, const Reply &reply)
{
    const QByteArray condition = transientCondition(reply);
    QList<QByteArray> refused;
    for (const QByteArray &channel : channels) {
        auto it = m_channels.find(channel);
        if (it == m_channels.end())
            continue;
        it->opsInFlight = std::max(0, it->opsInFlight - 1);
        if (it->opsInFlight > 0)
            continue;
        if (!it->wanted)
            m_channels.erase(it);
        else if (subscribe && !it->confirmed)
            refused.append(channel);
    }
    const QString error = QString::fromUtf8(reply.string);
    if (!condition.isEmpty()) {
        if (m_resubscribeBackoff == m_options.reconnectMin) // the first of a row
            qCInfo(lcDistributedPromise).noquote()
                << "Redis at" << m_endpoint.displayName()
                << "cannot (un)subscribe now, retrying:" << error;
        if (subscribe && !m_resubscribeTimer.isActive()) {
            m_resubscribeTimer.start(m_resubscribeBackoff);
            m_resubscribeBackoff = std::min(m_resubscribeBackoff * 2, m_options.reconnectMax);
        }
        return;
    }
    qCWarning(lcDistributedPromise).noquote()
        << "Redis at" << m_endpoint.displayName() << "refused"
        << (subscribe ? "to subscribe" : "to unsubscribe")
        << QString::fromUtf8(channels.constFirst())
        << (channels.size() > 1 ? QStringLiteral("and %1 more channels").arg(channels.size() - 1)
                                : QString())
        << "-" << error;
    QPointer<Connection> alive(this);
    for (const QByteArray &channel : std::as_const(refused)) {
        Q_EMIT subscriptionRefused(channel, error);
        if (!alive)
            return;
    }
}

void Connection::resubscribe()
{
    if (!m_ctx || m_state != State::Connected)
        return;
    QList<QByteArray> channels;
    for (auto it = m_channels.cbegin(); it != m_channels.cend(); ++it) {
        if (it->wanted && !it->confirmed && it->opsInFlight == 0)
            channels.append(it.key());
    }
    if (!channels.isEmpty())
        sendSubscription(true, channels);
}

std::chrono::milliseconds Connection::heartbeatInterval(const ConnectionOptions &options)
{
    if (options.commandTimeout.count() <= 0)
        return std::chrono::milliseconds(0);
    return std::clamp(
        options.commandTimeout / 2, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
}

void Connection::sendHeartbeat()
{
    // Without channels there is nothing to lose: the next SUBSCRIBE has its own deadline.
    if (!m_ctx || m_state != State::Connected || m_heartbeatInFlight || m_channels.isEmpty())
        return;
    // Any answer will do, even an error (a BUSY server is alive): only silence counts.
    auto *pending = new Pending;
    pending->owner = this;
    pending->callback = [this](const Reply &reply) {
        if (!reply.isFailure())
            m_heartbeatInFlight = false;
    };
    m_heartbeatInFlight = send({ QByteArrayLiteral("PING") }, pending);
}

bool Connection::retryLater(Pending *pending, const Reply &reply)
{
    const QByteArray condition = transientCondition(reply);
    if (condition.isEmpty() || !pending->owner)
        return false;
    if (pending->giveUpAt.hasExpired()) {
        // Given up: the callback gets a transport failure instead of the error reply.
        pending->owner = nullptr;
        Callback callback = std::move(pending->callback);
        if (callback)
            callback(unavailable(reply.string)); // may destroy this connection
        return true;
    }
    // hiredis deletes its Pending after this callback: the retry gets a new one.
    auto *retry = new Pending;
    retry->owner = this;
    retry->callback = std::move(pending->callback);
    retry->args = std::move(pending->args);
    retry->giveUpAt = pending->giveUpAt;
    retry->attempts = pending->attempts;
    pending->owner = nullptr;
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
            failLater(pending,
                QStringLiteral("not connected to Redis at %1%2")
                    .arg(m_endpoint.displayName(),
                        m_lastError.isEmpty() ? QString() : QStringLiteral(": ") + m_lastError));
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

bool Connection::appendRaw(const QList<QByteArray> &args)
{
    formatCommand(args);
    if (redisAppendFormattedCommand(&m_ctx->c, m_resp.constData(), size_t(m_resp.size()))
        != REDIS_OK)
        return false;
    // hiredis writes its output buffer (connecting first if needed) when the socket is writable.
    m_writeNotifier->setEnabled(true);
    return true;
}

namespace {
// The pub/sub kinds a subscriber connection receives unasked (RESP2 arrays).
bool isPubSubPush(const Reply &reply)
{
    if (!reply.isArray() || reply.elements.size() < 3 || !reply.elements.at(0).isString())
        return false;
    static const QByteArrayList kinds { "message", "smessage", "subscribe", "ssubscribe",
        "unsubscribe", "sunsubscribe", "pmessage", "psubscribe", "punsubscribe" };
    return kinds.contains(reply.elements.at(0).string);
}
} // namespace

// Whether \a push confirms one channel of the (un)subscribe \a pending: the same kind, for a
// channel with an operation in flight (an unasked sunsubscribe has none).
bool Connection::confirms(const Reply &push, const Pending *pending) const
{
    const QByteArray &kind = push.elements.at(0).string;
    const bool subscribe = kind == "subscribe" || kind == "ssubscribe";
    const bool unsubscribe = kind == "unsubscribe" || kind == "sunsubscribe";
    if (!(subscribe && pending->kind == Pending::Kind::Subscribe)
        && !(unsubscribe && pending->kind == Pending::Kind::Unsubscribe))
        return false;
    const auto it = m_channels.constFind(push.elements.at(1).string);
    return it != m_channels.cend() && it->opsInFlight > 0;
}

void Connection::readRaw(const bool &deleted)
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
        if (isPubSubPush(reply)) {
            // A confirmation of the oldest (un)subscribe in flight: the last one completes it.
            if (m_head && m_head->kind != Pending::Kind::Command && confirms(reply, m_head)
                && --m_head->awaited == 0) {
                const std::unique_ptr<Pending> pending(m_head);
                handleReply(pending.get(), reply);
            }
            handlePubSub(reply);
        } else if (m_head) {
            const std::unique_ptr<Pending> pending(m_head);
            handleReply(pending.get(), reply);
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

void Connection::handlePubSub(const Reply &reply)
{
    const QByteArray &kind = reply.elements.at(0).string;
    const QByteArray &channel = reply.elements.at(1).string;
    if (kind == "message" || kind == "smessage") {
        const auto it = m_channels.constFind(channel);
        if (it != m_channels.cend() && it->wanted)
            Q_EMIT message(channel, reply.elements.at(2).string);
        return;
    }
    const bool isSubscribe = kind == "subscribe" || kind == "ssubscribe";
    if (!isSubscribe && kind != "unsubscribe" && kind != "sunsubscribe")
        return;
    auto it = m_channels.find(channel);
    if (it == m_channels.end())
        return;
    if (!isSubscribe && it->opsInFlight == 0 && it->wanted) {
        // Not asked for: the server dropped a shard channel whose slot moved away.
        m_channels.erase(it);
        Q_EMIT subscriptionLost(channel);
        return;
    }
    it->opsInFlight = std::max(0, it->opsInFlight - 1);
    if (it->opsInFlight > 0)
        return;
    if (!it->wanted) {
        m_channels.erase(it);
        return;
    }
    if (isSubscribe && !it->confirmed) {
        it->confirmed = true;
        m_resubscribeBackoff = m_options.reconnectMin;
        Q_EMIT subscribed(channel);
    }
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
