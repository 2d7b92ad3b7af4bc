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
        plus one re-check for the others. Fails with InvalidArgument, before any Redis command,
        when an argument cannot be encoded, when this function is empty, or when its key was
        already wrapped by the same wrapper; with Cancelled when the wrapper is gone.
    */
    QFuture<T> operator()(const Args &...args) const
    {
        auto waiter = std::make_unique<DistributedPromiseDetail::TypedWaiter<T>>();
        QFuture<T> future = waiter->future();
        if (!m_registration) {
            waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
                QStringLiteral("an empty DistributedPromiseFunction was called; assign it the "
                               "result of DistributedPromiseWrapper::wrap() first")));
            return future;
        }
        QJsonArray json;
        try {
            (json.append(DistributedPromiseCodec<Args>::encode(args)), ...);
        } catch (...) {
            // Whatever a codec throws, the caller gets a failed future, not an exception.
            waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
                QStringLiteral("an argument of '%1' cannot be "
                               "encoded: %2")
                    .arg(m_registration->key,
                        DistributedPromiseDetail::outcomeFromCurrentException().message),
                m_registration->key));
            return future;
        }
        DistributedPromiseDetail::submit(m_registration, std::move(json), std::move(waiter));
        return future;
    }

    /*! The wrap key, or empty when this function is empty. No Redis. */
    QString key() const { return m_registration ? m_registration->key : QString(); }

private:
    std::shared_ptr<DistributedPromiseDetail::Registration> m_registration;
};
