// SPDX-License-Identifier: MIT
#pragma once

// Implementation details of DistributedPromiseWrapper::wrap(); not part of the API.

#include "distributedpromisecodec.h"
#include "distributedpromisecontext.h"
#include "distributedpromiseerror.h"

#include <QtCore/QFuture>
#include <QtCore/QFutureWatcher>
#include <QtCore/QJsonArray>
#include <QtCore/QPromise>
#include <QtCore/QStringBuilder>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

class DistributedPromiseWrapper;

namespace DistributedPromiseDetail {

/*! The outcome of one execution of the work. */
struct Outcome
{
    bool ok = false;
    QJsonValue value;
    DistributedPromiseError::Code code = DistributedPromiseError::WorkFailed;
    QString message;
    /*! What the work set through its DistributedPromiseContext (negative: not set). */
    qint64 ttlMs = -1;
    qint64 staleForMs = -1;
    bool doNotCache = false;

    static Outcome success(const QJsonValue &value)
    {
        Outcome outcome;
        outcome.ok = true;
        outcome.value = value;
        return outcome;
    }
    static Outcome failure(DistributedPromiseError::Code code, const QString &message)
    {
        Outcome outcome;
        outcome.code = code;
        outcome.message = message;
        return outcome;
    }
};

/*! What the exception being handled says, as a WorkFailed outcome (unwraps QUnhandledException). */
DISTRIBUTEDPROMISE_EXPORT Outcome outcomeFromCurrentException();

using Done = std::function<void(const Outcome &)>;
/*! Decodes the arguments, runs the work and calls done exactly once (maybe later). */
using Runner = std::function<void(const QJsonArray &args, QObject *context, const Done &done)>;

/*! One caller waiting for an outcome. The wrapper finishes it exactly once. */
class DISTRIBUTEDPROMISE_EXPORT Waiter
{
public:
    virtual ~Waiter();
    virtual void resolve(const QJsonValue &value) = 0;
    /*! resolve(QJsonValue(text)), without the QJsonValue where the result is a QString. */
    virtual void resolveString(const QString &text);
    virtual void fail(const DistributedPromiseError &error) = 0;
    virtual bool isCanceled() const = 0;
    /*! The call moved on to \a phase (a DistributedPromise::Phase, rising only); \a detail says
        more, such as where the process runs that holds the lock. */
    virtual void setPhase(int phase, const QString &detail) = 0;
    /*! Wants to know the age of a cached value (costs a script instead of a GET on a hit). */
    virtual bool wantsAge() const;
    /*! Called just before resolve(): the value is \a stale (served past its ttl) and was
        computed \a ageMs ago (-1: unknown). */
    virtual void setAge(bool stale, qint64 ageMs);
};

/*! What a call asks of the wrapper. */
enum class CallKind {
    Call, ///< the outcome, from the cache or from one execution
    Refresh, ///< one execution now (joining one in flight), replacing the entry
    Peek, ///< the cached value only; resolves Undefined when there is none; never runs the work
    Invalidate, ///< removes the entry
    InvalidateAll, ///< removes every entry of the wrap key (arguments ignored)
};

template<typename T>
class TypedWaiter final : public Waiter
{
public:
    TypedWaiter() { m_promise.start(); }
    ~TypedWaiter() override
    {
        if (!m_finished)
            fail(DistributedPromiseError(DistributedPromiseError::Cancelled,
                QStringLiteral("the wrapper was destroyed before the call "
                               "finished")));
    }
    QFuture<T> future() { return m_promise.future(); }

    void resolve(const QJsonValue &value) override
    {
        if constexpr (std::is_void_v<T>) {
            Q_UNUSED(value)
            finish();
        } else {
            try {
                m_promise.addResult(DistributedPromiseCodec<T>::decode(value));
            } catch (const DistributedPromiseError &error) {
                m_promise.setException(error);
            } catch (...) {
                // A user codec may throw anything; it must not escape into the event loop.
                m_promise.setException(DistributedPromiseError(
                    DistributedPromiseError::DecodeFailed, outcomeFromCurrentException().message));
            }
            finish();
        }
    }
    void resolveString(const QString &text) override
    {
        if constexpr (std::is_same_v<T, QString>) {
            m_promise.addResult(text);
            finish();
        } else {
            resolve(QJsonValue(text));
        }
    }
    void fail(const DistributedPromiseError &error) override
    {
        m_promise.setException(error);
        finish();
    }
    bool isCanceled() const override { return m_promise.isCanceled(); }
    void setPhase(int phase, const QString &detail) override
    {
        // As the future's progress: value = phase, text = detail. The range ends at the value,
        // so that QFutureWatcher reports every step (Qt throttles steps below the maximum).
        m_promise.setProgressRange(0, phase);
        m_promise.setProgressValueAndText(phase, detail);
    }

private:
    void finish()
    {
        m_finished = true;
        m_promise.finish();
    }
    QPromise<T> m_promise;
    bool m_finished = false;
};

class Core;
struct CoreHandle;

/*! What wrap() registered: the key, the options and the type-erased work. */
struct DISTRIBUTEDPROMISE_EXPORT Registration
{
    QString key;
    /*! Per-wrap overrides of the config (DistributedPromiseWrapOptions). */
    std::optional<std::chrono::milliseconds> ttl;
    std::optional<std::chrono::milliseconds> staleFor;
    std::optional<std::chrono::milliseconds> softTimeout;
    /*! key and the wrapper's keySeparator in UTF-8: where every identity of this work starts. */
    QByteArray identityPrefix;
    std::optional<std::chrono::milliseconds> timeout;
    Runner run;
    /*! Why the arguments cannot be passed to the work (count, types), or empty; no Redis. */
    QString (*check)(const QJsonArray &args) = nullptr;
    /*! Non-empty: every call fails with InvalidArgument and this message, before any Redis
        command (e.g. the key was already wrapped by this wrapper). */
    QString error;
    std::shared_ptr<CoreHandle> core;
};

/*! Hands a call to the wrapper's thread; any thread. The waiter always gets finished. */
DISTRIBUTEDPROMISE_EXPORT void submit(const std::shared_ptr<Registration> &registration,
    QJsonArray args, std::unique_ptr<Waiter> waiter, CallKind kind = CallKind::Call);

/*! Finishes a peek: QFuture<std::optional<T>> (QFuture<bool> for void work: whether an entry
    exists); Undefined means no entry. */
template<typename T>
class PeekWaiter final : public Waiter
{
public:
    using Result = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;
    PeekWaiter() { m_promise.start(); }
    ~PeekWaiter() override
    {
        if (!m_finished)
            fail(DistributedPromiseError(DistributedPromiseError::Cancelled,
                QStringLiteral("the wrapper was destroyed before the peek finished")));
    }
    QFuture<Result> future() { return m_promise.future(); }
    void resolve(const QJsonValue &value) override
    {
        if constexpr (std::is_void_v<T>) {
            m_promise.addResult(!value.isUndefined());
        } else if (value.isUndefined()) {
            m_promise.addResult(std::nullopt);
        } else {
            try {
                m_promise.addResult(Result(DistributedPromiseCodec<T>::decode(value)));
            } catch (...) {
                m_promise.setException(DistributedPromiseError(
                    DistributedPromiseError::DecodeFailed, outcomeFromCurrentException().message));
            }
        }
        m_finished = true;
        m_promise.finish();
    }
    void fail(const DistributedPromiseError &error) override
    {
        m_promise.setException(error);
        m_finished = true;
        m_promise.finish();
    }
    bool isCanceled() const override { return m_promise.isCanceled(); }
    void setPhase(int, const QString &) override { }

private:
    QPromise<Result> m_promise;
    bool m_finished = false;
};

DISTRIBUTEDPROMISE_EXPORT Outcome outcomeFromCurrentException();

template<typename T>
Outcome outcomeFromValue(const T &value)
{
    Outcome outcome;
    try {
        outcome.value = DistributedPromiseCodec<T>::encode(value);
        outcome.ok = true;
    } catch (...) {
        return outcomeFromCurrentException();
    }
    return outcome;
}

template<typename T>
void watchFuture(const QFuture<T> &future, QObject *context, const Done &done)
{
    auto *watcher = new QFutureWatcher<T>(context);
    QObject::connect(watcher, &QFutureWatcherBase::finished, context, [watcher, done] {
        watcher->deleteLater();
        QFuture<T> finished = watcher->future();
        try {
            finished.waitForFinished(); // finished already: only rethrows a stored exception
        } catch (...) {
            done(outcomeFromCurrentException());
            return;
        }
        if constexpr (std::is_void_v<T>) {
            if (finished.isCanceled())
                done(Outcome::failure(DistributedPromiseError::WorkFailed,
                    QStringLiteral("the work's future was cancelled")));
            else
                done(Outcome::success(QJsonValue(QJsonValue::Null)));
        } else {
            if (finished.isCanceled() || finished.resultCount() == 0)
                done(Outcome::failure(DistributedPromiseError::WorkFailed,
                    QStringLiteral("the work's future was cancelled")));
            else
                done(outcomeFromValue<T>(finished.result()));
        }
    });
    watcher->setFuture(future);
}

/*! The signature of a function pointer or of a call operator. */
template<typename S>
struct SignatureTraits;
template<typename R, typename... A>
struct SignatureTraits<R (*)(A...)>
{
    static constexpr bool isCallable = true;
    /*! A parameter is a non-const lvalue reference (the work only ever gets decoded copies). */
    static constexpr bool takesNonConstReference = (false || ...
        || (std::is_lvalue_reference_v<A> && !std::is_const_v<std::remove_reference_t<A>>));
    using Result = R;
    using Args = std::tuple<std::decay_t<A>...>;
};
template<typename R, typename... A>
struct SignatureTraits<R (*)(A...) noexcept> : SignatureTraits<R (*)(A...)>
{
};
template<typename R, typename C, typename... A>
struct SignatureTraits<R (C::*)(A...)> : SignatureTraits<R (*)(A...)>
{
};
template<typename R, typename C, typename... A>
struct SignatureTraits<R (C::*)(A...) const> : SignatureTraits<R (*)(A...)>
{
};
template<typename R, typename C, typename... A>
struct SignatureTraits<R (C::*)(A...) noexcept> : SignatureTraits<R (*)(A...)>
{
};
template<typename R, typename C, typename... A>
struct SignatureTraits<R (C::*)(A...) const noexcept> : SignatureTraits<R (*)(A...)>
{
};

/*!
    What wrap() needs to know about work of type F: a function pointer or an object with one,
    non-template call operator. Anything else (a generic lambda, an overloaded call operator, a
    member-function pointer) has isCallable false, and wrap() says why it cannot be wrapped.
*/
template<typename F, typename Enable = void>
struct FunctionTraits
{
    static constexpr bool isCallable = false;
    static constexpr bool takesNonConstReference = false;
    using Result = void;
    using Args = std::tuple<>;
};
template<typename F>
struct FunctionTraits<F,
    std::enable_if_t<std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>>>
    : SignatureTraits<F>
{
};
template<typename F>
struct FunctionTraits<F, std::void_t<decltype(&F::operator())>>
    : SignatureTraits<decltype(&F::operator())>
{
};

/*! Every type in the tuple Args and Value can be carried; static_asserts name the others. */
template<typename Value, typename... Args>
constexpr bool carriesSignature(std::tuple<Args...> *)
{
    return carriesAll<Value, Args...>();
}

template<typename R>
struct ResultTraits
{
    using Value = R;
    static constexpr bool isFuture = false;
};
template<typename T>
struct ResultTraits<QFuture<T>>
{
    using Value = T;
    static constexpr bool isFuture = true;
};
// With QT_USE_QSTRINGBUILDER, `return a + b;` on strings yields a QStringBuilder: carry what it
// converts to (QString or QByteArray).
template<typename A, typename B>
struct ResultTraits<QStringBuilder<A, B>>
{
    using Value = typename QConcatenable<QStringBuilder<A, B>>::ConvertTo;
    static constexpr bool isFuture = false;
};

template<typename... Args, std::size_t... I>
std::tuple<Args...> decodeArguments(const QJsonArray &json, std::index_sequence<I...>)
{
    // Braced initialisation decodes the arguments left to right.
    return std::tuple<Args...> { DistributedPromiseCodec<Args>::decode(json.at(qsizetype(I)))... };
}

/*!
    The arguments decoded into the work's parameter types, or nullopt with \a error set (wrong
    count, or an argument of the wrong shape: the caller's mistake, not a failure of the work).
*/
template<typename... Args>
std::optional<std::tuple<Args...>> decodeCall(const QJsonArray &json, QString *error)
{
    if (json.size() != qsizetype(sizeof...(Args))) {
        *error
            = QStringLiteral("expected %1 arguments, got %2").arg(sizeof...(Args)).arg(json.size());
        return std::nullopt;
    }
    try {
        return decodeArguments<Args...>(json, std::index_sequence_for<Args...>());
    } catch (...) {
        *error = QStringLiteral("the arguments do not fit the work's parameters: ")
            + outcomeFromCurrentException().message;
        return std::nullopt;
    }
}

/*! Registration::check for work taking Args: why \a json does not decode, or empty. */
template<typename... Args>
QString checkArguments(const QJsonArray &json)
{
    QString error;
    decodeCall<Args...>(json, &error);
    return error;
}

/*! Work whose first parameter is a DistributedPromiseContext: the call's arguments are the
    others. */
template<typename Params>
struct ContextSplit
{
    static constexpr bool hasContext = false;
    using CallArgs = Params;
};
template<typename... Rest>
struct ContextSplit<std::tuple<DistributedPromiseContext, Rest...>>
{
    static constexpr bool hasContext = true;
    using CallArgs = std::tuple<Rest...>;
};

template<bool HasContext, typename F, typename... Args>
Runner makeRunner(F work, std::tuple<Args...> *)
{
    using R = typename FunctionTraits<F>::Result;
    return [work = std::move(work)](
               const QJsonArray &json, QObject *context, const Done &finished) mutable {
        QString error;
        std::optional<std::tuple<Args...>> args = decodeCall<Args...>(json, &error);
        if (!args) {
            finished(Outcome::failure(DistributedPromiseError::InvalidArgument, error));
            return;
        }
        std::shared_ptr<ContextData> data;
        Done done = finished;
        if constexpr (HasContext) {
            data = std::make_shared<ContextData>();
            done = [finished, data](const Outcome &outcome) {
                Outcome withContext = outcome;
                withContext.ttlMs = data->ttlMs;
                withContext.staleForMs = data->staleForMs;
                withContext.doNotCache = data->doNotCache;
                finished(withContext);
            };
        }
        const auto invoke = [&]() -> R {
            if constexpr (HasContext)
                return std::apply(
                    [&](auto &&...a) -> R {
                        return work(DistributedPromiseContext(data), std::move(a)...);
                    },
                    std::move(*args));
            else
                return std::apply(work, std::move(*args));
        };
        try {
            if constexpr (std::is_void_v<R>) {
                invoke();
                done(Outcome::success(QJsonValue(QJsonValue::Null)));
            } else if constexpr (ResultTraits<R>::isFuture) {
                watchFuture(invoke(), context, done);
            } else {
                done(outcomeFromValue<typename ResultTraits<R>::Value>(invoke()));
            }
        } catch (...) {
            done(outcomeFromCurrentException());
        }
    };
}

} // namespace DistributedPromiseDetail
