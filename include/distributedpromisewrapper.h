// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"
#include "distributedpromisefunction.h"

#include <QtCore/QObject>
#include <QtCore/QVariantList>
#include <QtCore/QVariantMap>

#include <memory>

class DistributedPromise;
class DistributedPromiseWrapperPrivate;

/*!
    \struct DistributedPromiseWrapOptions
    \brief The key of a wrapped work and how long its callers wait.
    \since 0.1
*/
struct DistributedPromiseWrapOptions
{
    /*! Names the work; calls are identified by this key plus their arguments. Not empty. */
    QString key;
    /*! How long a caller waits before its future fails with Timeout; 0 = no limit; unset = the
        config's timeout. The work itself is never run twice because a caller gave up. */
    std::optional<std::chrono::milliseconds> timeout;
    /*! Unset: the config's ttl, staleFor, softTimeout, for this work only. \since 0.3 */
    std::optional<std::chrono::milliseconds> ttl = std::nullopt;
    std::optional<std::chrono::milliseconds> staleFor = std::nullopt;
    std::optional<std::chrono::milliseconds> softTimeout = std::nullopt;
};

/*!
    \struct DistributedPromiseStats
    \brief Counters of what one wrapper did since it was created.
    \since 0.1
*/
struct DistributedPromiseStats
{
    quint64 calls = 0; ///< calls made through this wrapper
    quint64 hits = 0; ///< answered from the Redis cache
    quint64 misses = 0; ///< not in the cache
    quint64 coalesced = 0; ///< joined a call already in flight in this process
    quint64 won = 0; ///< this process took the lock and ran the work
    quint64 waited = 0; ///< another process held the lock; this one waited for its result
    quint64 takeovers = 0; ///< took the lock after a holder's lease expired
    quint64 lostLeases = 0; ///< finished work after another process had taken the lock over
    quint64 localRuns = 0; ///< ran the work without Redis (RunLocally)
    quint64 errors = 0; ///< calls that failed, for any reason but cancellation
    quint64 reconnects = 0; ///< connections to Redis re-established after a loss
    quint64 cancelled = 0; ///< calls whose caller cancelled its future (not in errors); \since 0.2
    quint64 stale
        = 0; ///< calls answered with a stale value (past ttl, within staleFor); \since 0.3
    quint64 refreshes
        = 0; ///< executions here that replaced an entry (stale, refresh()); \since 0.3
    quint64 eagerRefreshes = 0; ///< background refreshes run here before expiry; \since 0.3
    quint64 invalidations = 0; ///< invalidate() and invalidateAll() done; \since 0.3
};

/*!
    \struct DistributedPromiseCallEvent
    \brief What happened to one call, for an application's own metrics (see
    DistributedPromiseWrapper::callFinished()).
    \since 0.3
*/
struct DISTRIBUTEDPROMISE_EXPORT DistributedPromiseCallEvent
{
    Q_GADGET
    Q_PROPERTY(QString key MEMBER key)
    Q_PROPERTY(Outcome outcome MEMBER outcome)
    Q_PROPERTY(bool coalesced MEMBER coalesced)
    Q_PROPERTY(qint64 waitedMs MEMBER waitedMs)
    Q_PROPERTY(qint64 workMs MEMBER workMs)
    Q_PROPERTY(int errorCode MEMBER errorCode)
public:
    enum Outcome {
        Hit, ///< answered from the Redis cache
        Won, ///< this process took the lock and ran the work
        Waited, ///< another process ran the work; this call waited for its outcome
        TookOver, ///< the process that held the work went away; this one ran it
        Stale, ///< answered with a stale value (staleFor) while the entry is refreshed
        Local, ///< Redis was unavailable: the work ran here alone (RunLocally)
        Failed, ///< the call failed (errorCode says why: WorkFailed, Timeout, Cancelled...)
    };
    Q_ENUM(Outcome)

    QString key; ///< the wrap key
    Outcome outcome = Hit;
    bool coalesced = false; ///< joined a call of the same identity already in flight here
    qint64 waitedMs = 0; ///< from the call to its outcome
    qint64 workMs = -1; ///< how long the work ran, when it ran in this process; else -1
    int errorCode = -1; ///< a DistributedPromiseError::Code when Failed; else NoError (-1)
};

/*!
    \class DistributedPromiseWrapper
    \brief Makes the same call in many processes run once, through Redis.

    A QObject that owns two Redis connections (commands and pub/sub) and lives in the thread
    that created it. wrap() turns a function into a DistributedPromiseFunction that returns a
    QFuture; call() runs wrapped work by key and returns a DistributedPromise QObject.

    \code
    DistributedPromiseWrapper wrapper(config);
    auto joinStr = wrapper.wrap(QStringLiteral("joinStr"),
                                [](const QString &a, const QString &b) { return a + b; });
    joinStr(QStringLiteral("foo"), QStringLiteral("bar")).then([](const QString &s) { ... });
    \endcode

    A configuration error (bad URL, empty separator, braces in a prefix, no QCoreApplication yet)
    does not throw: every call then fails with InvalidArgument and configurationError() says
    what to fix.

    \since 0.1
*/
class DISTRIBUTEDPROMISE_EXPORT DistributedPromiseWrapper : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool connected READ isConnected NOTIFY connectedChanged)
public:
    /*! Validates \a config and starts connecting to Redis (no blocking). Create it after the
        QCoreApplication (or QGuiApplication, QApplication): without one it cannot connect,
        reports that through configurationError(), and its calls fail with InvalidArgument. */
    explicit DistributedPromiseWrapper(
        const DistributedPromiseConfig &config = {}, QObject *parent = nullptr);
    /*! Fails every call still waiting with Cancelled; work already running is abandoned.
        Destroy it in its own thread (deleteLater() from elsewhere). Destroyed from another
        thread while its own still runs, it logs a critical message and closes its connections
        in its own thread, where the calls in flight then fail with Cancelled. */
    ~DistributedPromiseWrapper() override;

    /*!
        Wraps \a work under \a key. \a work may take any arguments a DistributedPromiseCodec
        exists for (by value or const reference) and return T, QFuture<T> or void. It runs on this
        wrapper's thread; return a QFuture (e.g. from QtConcurrent::run) to keep the event loop
        free while it works. No Redis round trip. Registers the work for call() too.

        Each key can be wrapped once per wrapper. A second wrap() of the same key logs a warning
        and returns a function whose calls fail with InvalidArgument (call() keeps using the
        first). An empty key gives a function whose calls fail with InvalidArgument.

        Across processes the key is the contract: whoever wins the lock serves everyone, so two
        programs that wrap different work (or different types) under one key answer each other's
        calls. Version the key when the work or its types change (\c{"report:v2"}), so that a
        rolling deploy runs old and new side by side without mixing their results.

        Compile errors (static_assert) name what cannot be wrapped: a generic lambda or an
        overloaded call operator, a member-function pointer, a parameter taken by non-const
        reference, a parameter or result type without a DistributedPromiseCodec.

        Work whose first parameter is a DistributedPromiseContext gets one per execution, to set
        its own entry's ttl or staleFor, or not to cache it; the context is not one of the call's
        arguments.
    */
    template<typename F>
    auto wrap(const QString &key, F work)
    {
        DistributedPromiseWrapOptions options;
        options.key = key;
        return wrap(options, std::move(work));
    }

    /*! The same, with per-work options (timeout, ttl, staleFor, softTimeout). */
    template<typename F>
    auto wrap(const DistributedPromiseWrapOptions &options, F work)
    {
        using Traits = DistributedPromiseDetail::FunctionTraits<F>;
        static_assert(!std::is_member_function_pointer_v<F>,
            "DistributedPromiseWrapper::wrap() cannot wrap a member-function pointer: wrap a "
            "lambda that calls it on its object, e.g. [object](int x) { return object->f(x); }");
        static_assert(Traits::isCallable || std::is_member_function_pointer_v<F>,
            "DistributedPromiseWrapper::wrap() needs work with one call signature and concrete "
            "parameter types: a generic lambda (auto parameters) or an overloaded call operator "
            "cannot be wrapped");
        static_assert(!Traits::takesNonConstReference,
            "DistributedPromiseWrapper::wrap(): the work takes a parameter by non-const "
            "reference, but it only ever gets decoded copies of the arguments: take it by value "
            "or by const reference");
        using Value =
            typename DistributedPromiseDetail::ResultTraits<typename Traits::Result>::Value;
        using Split = DistributedPromiseDetail::ContextSplit<typename Traits::Args>;
        using Args = typename Split::CallArgs;
        if constexpr (Traits::isCallable && !Traits::takesNonConstReference
            && DistributedPromiseDetail::carriesSignature<Value>(static_cast<Args *>(nullptr))) {
            auto runner = DistributedPromiseDetail::makeRunner<Split::hasContext>(
                std::move(work), static_cast<Args *>(nullptr));
            return makeFunction<Value>(
                registerWork(options, std::move(runner), checkerFor(static_cast<Args *>(nullptr))),
                static_cast<Args *>(nullptr));
        } else {
            return; // a static_assert above says why
        }
    }

    /*!
        Runs the work wrapped under \a key with \a args (converted with QJsonValue::fromVariant)
        and returns a new DistributedPromise. Same cost as calling the wrapped function.

        Who deletes it: \a parent when given; else the caller, once it has finished (in QML the
        JavaScript engine, which collects it once it has finished and nothing refers to it).
        Until it has finished, a promise made without a parent on this wrapper's thread has this
        wrapper as its parent, so that a garbage collection cannot delete it while its handlers
        wait; the wrapper lets go of it after finished() or when the wrapper is destroyed.

        \code
        std::unique_ptr<DistributedPromise> mine(wrapper.call(key, { 2026 }));
        DistributedPromise *owned = wrapper.call(key, { 2026 }, this); // this deletes it
        \endcode

        Fails the promise with InvalidArgument, before any Redis command, when no work is
        wrapped under \a key, when an argument cannot be carried as JSON, or when the arguments
        do not decode into the work's parameters (count or types).
    */
    Q_INVOKABLE DistributedPromise *call(
        const QString &key, const QVariantList &args, QObject *parent = nullptr);
    /*! DistributedPromiseFunction::refresh() by key: runs the work now, once fleet-wide, and
        resolves with the new value. Ownership and errors as for call(). \since 0.3 */
    Q_INVOKABLE DistributedPromise *refresh(
        const QString &key, const QVariantList &args, QObject *parent = nullptr);
    /*! DistributedPromiseFunction::invalidate() by key: removes the entry (one DEL); resolves
        with null. Ownership and errors as for call(). \since 0.3 */
    Q_INVOKABLE DistributedPromise *invalidate(
        const QString &key, const QVariantList &args, QObject *parent = nullptr);
    /*! DistributedPromiseFunction::invalidateAll() by key: removes every entry of \a key in
        O(1); resolves with null. Ownership and errors as for call(). \since 0.3 */
    Q_INVOKABLE DistributedPromise *invalidateAll(const QString &key, QObject *parent = nullptr);

    /*! The configuration this wrapper uses. */
    DistributedPromiseConfig config() const;
    /*! Why the configuration is unusable, or empty. Also set when the wrapper was created before
        the QCoreApplication (it needs the application's event loop): then every call fails with
        InvalidArgument saying so. No Redis round trip. */
    QString configurationError() const;
    /*! The command connection to Redis is up. No Redis round trip. */
    bool isConnected() const;
    /*! A snapshot of the counters; no Redis round trip. */
    DistributedPromiseStats stats() const;
    /*! The same counters as a map (calls, hits, misses, coalesced, won, waited, takeovers,
        lostLeases, localRuns, errors, cancelled, reconnects, stale, refreshes, eagerRefreshes,
        invalidations), for QML. No Redis round trip. */
    Q_INVOKABLE QVariantMap statistics() const;

protected:
    /*! Logs a critical message on moveToThread(): the Redis connections and the work stay in
        the thread that created the wrapper. */
    bool event(QEvent *event) override;
    /*! Starts measuring calls when callFinished() gets its first receiver. */
    void connectNotify(const QMetaMethod &signal) override;

Q_SIGNALS:
    /*! The command connection to Redis went up or down; emitted only when isConnected()
        changes, not on every failed reconnection attempt. */
    void connectedChanged(bool connected);
    /*!
        A call finished (value or error), with what happened to it and how long it took. Emitted
        on this wrapper's thread for every call, refresh() included, once someone is connected
        (until then nothing is measured: it costs nothing); not for calls still in flight when
        the wrapper is destroyed or the application quits. \since 0.3
    */
    void callFinished(const DistributedPromiseCallEvent &event);

private:
    DistributedPromise *start(DistributedPromiseDetail::CallKind kind, const QString &key,
        const QVariantList &args, QObject *parent);
    std::shared_ptr<DistributedPromiseDetail::Registration> registerWork(
        const DistributedPromiseWrapOptions &options, DistributedPromiseDetail::Runner run,
        QString (*check)(const QJsonArray &));

    template<typename... Args>
    static auto checkerFor(std::tuple<Args...> *)
    {
        return &DistributedPromiseDetail::checkArguments<Args...>;
    }

    template<typename T, typename... Args>
    static DistributedPromiseFunction<T(Args...)> makeFunction(
        std::shared_ptr<DistributedPromiseDetail::Registration> registration, std::tuple<Args...> *)
    {
        return DistributedPromiseFunction<T(Args...)>(std::move(registration));
    }

    std::unique_ptr<DistributedPromiseWrapperPrivate> const d_ptr;
    Q_DECLARE_PRIVATE(DistributedPromiseWrapper)
};
