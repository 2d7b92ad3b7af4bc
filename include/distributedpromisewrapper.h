// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseconfig.h"
#include "distributedpromisedetail.h"

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
    quint64 errors = 0; ///< calls that failed, for any reason
    quint64 reconnects = 0; ///< connections to Redis re-established after a loss
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

    A configuration error (bad URL, empty separator, braces in a prefix) does not throw: every
    call then fails with InvalidArgument and configurationError() says what to fix.

    \since 0.1
*/
class DISTRIBUTEDPROMISE_EXPORT DistributedPromiseWrapper : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool connected READ isConnected NOTIFY connectedChanged)
public:
    /*! Validates \a config and starts connecting to Redis (no blocking). */
    explicit DistributedPromiseWrapper(
        const DistributedPromiseConfig &config = {}, QObject *parent = nullptr);
    /*! Fails every call still waiting with Cancelled; work already running is abandoned. */
    ~DistributedPromiseWrapper() override;

    /*!
        Wraps \a work under \a key. \a work may take any arguments a DistributedPromiseCodec
        exists for and return T, QFuture<T> or void. It runs on this wrapper's thread; return a
        QFuture (e.g. from QtConcurrent::run) to keep the event loop free while it works.
        No Redis round trip. An empty key gives a function whose calls fail with InvalidArgument.
        Registers the work for call() too (a later wrap() under the same key replaces it there).
    */
    template<typename F>
    auto wrap(const QString &key, F work)
    {
        return wrap(DistributedPromiseWrapOptions { key, std::nullopt }, std::move(work));
    }

    /*! The same, with a per-work timeout. */
    template<typename F>
    auto wrap(const DistributedPromiseWrapOptions &options, F work)
    {
        using Traits = DistributedPromiseDetail::FunctionTraits<F>;
        using Value =
            typename DistributedPromiseDetail::ResultTraits<typename Traits::Result>::Value;
        using Args = typename Traits::Args;
        auto runner
            = DistributedPromiseDetail::makeRunner(std::move(work), static_cast<Args *>(nullptr));
        return makeFunction<Value>(
            registerWork(options, std::move(runner)), static_cast<Args *>(nullptr));
    }

    /*!
        Runs the work wrapped under \a key with \a args (converted with QJsonValue::fromVariant)
        and returns a new DistributedPromise that the caller owns (in QML: the JavaScript
        engine). An unknown key or an argument JSON cannot carry fails it with InvalidArgument.
        Same cost as calling the wrapped function.
    */
    Q_INVOKABLE DistributedPromise *call(const QString &key, const QVariantList &args);

    /*! The configuration this wrapper uses. */
    DistributedPromiseConfig config() const;
    /*! Why the configuration is unusable, or empty. */
    QString configurationError() const;
    /*! The command connection to Redis is up. */
    bool isConnected() const;
    /*! A snapshot of the counters; no Redis round trip. */
    DistributedPromiseStats stats() const;
    /*! The same counters as a map (calls, hits, misses, coalesced, won, waited, takeovers,
        lostLeases, localRuns, errors, reconnects), for QML. No Redis round trip. */
    Q_INVOKABLE QVariantMap statistics() const;

Q_SIGNALS:
    void connectedChanged(bool connected);

private:
    std::shared_ptr<DistributedPromiseDetail::Registration> registerWork(
        const DistributedPromiseWrapOptions &options, DistributedPromiseDetail::Runner run);

    template<typename T, typename... Args>
    static DistributedPromiseFunction<T(Args...)> makeFunction(
        std::shared_ptr<DistributedPromiseDetail::Registration> registration, std::tuple<Args...> *)
    {
        return DistributedPromiseFunction<T(Args...)>(std::move(registration));
    }

    std::unique_ptr<DistributedPromiseWrapperPrivate> const d_ptr;
    Q_DECLARE_PRIVATE(DistributedPromiseWrapper)
};
