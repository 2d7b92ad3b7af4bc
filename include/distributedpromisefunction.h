// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromisedetail.h"

#include <QtCore/QFuture>
#include <QtCore/QString>

#include <memory>

/*!
    \class DistributedPromiseFunction
    \brief Wrapped work as a value: what DistributedPromiseWrapper::wrap() returns.

    Copyable, callable from any thread, and cheap to copy (copies share one registration).
    Every call returns a QFuture that always finishes (value, error, timeout or cancellation).
    Calls with equal arguments share one execution across all processes using the same Redis
    and prefixes.

    A default-constructed function is empty: isValid() is false and its calls fail with
    InvalidArgument. So it can be a class member that is assigned later:

    \code
    class ReportView : public QWidget {
        DistributedPromiseFunction<QString(int)> m_report; // empty until the constructor body
    public:
        explicit ReportView(DistributedPromiseWrapper &wrapper)
        {
            m_report = wrapper.wrap(QStringLiteral("report"), [](int year) { ... });
        }
    };
    \endcode

    \since 0.1 (default constructor and isValid() since 0.2)
*/
template<typename Signature>
class DistributedPromiseFunction;

template<typename T, typename... Args>
class DistributedPromiseFunction<T(Args...)>
{
    static_assert(DistributedPromiseDetail::carriesAll<T, Args...>(),
        "every argument and the result of a DistributedPromiseFunction need a "
        "DistributedPromiseCodec");

public:
    /*! An empty function: isValid() is false, and calls fail with InvalidArgument. */
    DistributedPromiseFunction() = default;

    /*! Used by DistributedPromiseWrapper::wrap(); not for direct use. */
    explicit DistributedPromiseFunction(std::shared_ptr<DistributedPromiseDetail::Registration> r)
        : m_registration(std::move(r))
    { }

    /*! True when this function came from DistributedPromiseWrapper::wrap(). No Redis. */
    bool isValid() const { return m_registration != nullptr; }

    /*!
        Asks for the work's outcome for \a args. Cost: one Redis round trip on a cache hit;
        nothing extra when the same call is already in flight in this process; on a miss three
        round trips for the process that runs the work (check, lock, publish) and a SUBSCRIBE
        plus one re-check for the others. The first call of a wrap key in a process also reads
        the key's generation (one GET and a SUBSCRIBE, see invalidateAll()). Fails with
        InvalidArgument, before any Redis command, when an argument cannot be encoded, when
        this function is empty, or when its key was already wrapped by the same wrapper; with
        Cancelled when the wrapper is gone.

        With staleFor > 0, an entry past its ttl is served stale after softTimeout while one
        process refreshes it (see DistributedPromiseConfig::staleFor).
    */
    QFuture<T> operator()(const Args &...args) const
    {
        return start<DistributedPromiseDetail::TypedWaiter<T>>(
            DistributedPromiseDetail::CallKind::Call, args...);
    }

    /*!
        Runs the work for \a args now, once across every process (a refresh already in flight
        anywhere is joined, not repeated), and replaces the cached entry; the future gets the new
        outcome. Cost: the lock and finish scripts (two round trips) in the process that runs it,
        a SUBSCRIBE and a re-check in the others. Fails as a call does; a failing refresh leaves
        the entry as it was.
        \since 0.3
    */
    QFuture<T> refresh(const Args &...args) const
    {
        return start<DistributedPromiseDetail::TypedWaiter<T>>(
            DistributedPromiseDetail::CallKind::Refresh, args...);
    }

    /*!
        The cached value for \a args, fresh or stale, or std::nullopt (for void work: whether an
        entry exists). Never runs the work, takes no lock, joins no call in flight. One round
        trip (GET). Fails with RedisError or ConnectionFailed when Redis cannot answer, and with
        DecodeFailed when the entry does not decode into T.
        \since 0.3
    */
    QFuture<typename DistributedPromiseDetail::PeekWaiter<T>::Result> peek(
        const Args &...args) const
    {
        return start<DistributedPromiseDetail::PeekWaiter<T>>(
            DistributedPromiseDetail::CallKind::Peek, args...);
    }

    /*!
        Removes the entry for \a args, so that the next call runs the work. One round trip (DEL).
        Once the future has finished, no call started later in this process returns the removed
        value (a call already in flight keeps what it read); other processes read Redis, which no
        longer has it. Work already running when the entry is removed still caches its result.
        Fails with ConnectionFailed or RedisError when Redis cannot do it.
        \since 0.3
    */
    QFuture<void> invalidate(const Args &...args) const
    {
        return start<DistributedPromiseDetail::TypedWaiter<void>>(
            DistributedPromiseDetail::CallKind::Invalidate, args...);
    }

    /*!
        Removes every entry of this wrap key, whatever the arguments, in O(1): one round trip
        (a script that increments the key's generation and publishes it). Entries of the old
        generation are no longer read by anyone and expire with their ttl; every process learns
        the new generation from the message within milliseconds, and this one before the
        future finishes. Processes of versions before 0.3 do not know generations and keep
        reading the old entries. Fails with ConnectionFailed or RedisError.
        \since 0.3
    */
    QFuture<void> invalidateAll() const
    {
        return start<DistributedPromiseDetail::TypedWaiter<void>>(
            DistributedPromiseDetail::CallKind::InvalidateAll);
    }

    /*! The wrap key, or empty when this function is empty. No Redis. */
    QString key() const { return m_registration ? m_registration->key : QString(); }

private:
    template<typename W, typename... A>
    auto start(DistributedPromiseDetail::CallKind kind, const A &...args) const
    {
        auto waiter = std::make_unique<W>();
        auto future = waiter->future();
        if (!m_registration) {
            waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
                QStringLiteral("an empty DistributedPromiseFunction was called; assign it the "
                               "result of DistributedPromiseWrapper::wrap() first")));
            return future;
        }
        QJsonArray json;
        try {
            (json.append(DistributedPromiseCodec<A>::encode(args)), ...);
        } catch (...) {
            // Whatever a codec throws, the caller gets a failed future, not an exception.
            waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
                QStringLiteral("an argument of '%1' cannot be encoded: %2")
                    .arg(m_registration->key,
                        DistributedPromiseDetail::outcomeFromCurrentException().message),
                m_registration->key));
            return future;
        }
        DistributedPromiseDetail::submit(m_registration, std::move(json), std::move(waiter), kind);
        return future;
    }

    std::shared_ptr<DistributedPromiseDetail::Registration> m_registration;
};
