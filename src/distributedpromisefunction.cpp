// SPDX-License-Identifier: MIT
// The out-of-line half of DistributedPromiseFunction and of the wrap() machinery
// (distributedpromisedetail.h): handing calls to the wrapper's thread, and what the work threw.
#include "distributedpromisefunction.h"

#include "coordinator_p.h"
#include "protocol_p.h"

#include <QtCore/QException>
#include <QtCore/QThread>

#include <string>

namespace DistributedPromiseDetail {

Waiter::~Waiter() = default;

void Waiter::resolveString(const QString &text) { resolve(QJsonValue(text)); }

bool Waiter::wantsAge() const { return false; }

void Waiter::setAge(bool, qint64) { }

void throwDecodeError(const char *expected, const QJsonValue &got)
{
    throw DistributedPromiseError(DistributedPromiseError::DecodeFailed,
        QStringLiteral("expected %1, got %2")
            .arg(QLatin1String(expected),
                QString::fromUtf8(DistributedPromiseProtocol::encodeValue(got).left(80))));
}

Outcome outcomeFromCurrentException()
{
    try {
        throw;
    } catch (const DistributedPromiseError &error) {
        return Outcome::failure(DistributedPromiseError::WorkFailed, error.message());
    } catch (const QUnhandledException &error) {
        // QtConcurrent::run wraps what the work threw; report the work's own exception.
        if (const std::exception_ptr inner = error.exception()) {
            try {
                std::rethrow_exception(inner);
            } catch (...) {
                return outcomeFromCurrentException();
            }
        }
        return Outcome::failure(DistributedPromiseError::WorkFailed,
            QStringLiteral("the work threw an exception of unknown type"));
    } catch (const std::exception &error) {
        return Outcome::failure(
            DistributedPromiseError::WorkFailed, QString::fromUtf8(error.what()));
    } catch (const std::string &text) {
        return Outcome::failure(DistributedPromiseError::WorkFailed, QString::fromStdString(text));
    } catch (const char *text) {
        return Outcome::failure(DistributedPromiseError::WorkFailed, QString::fromUtf8(text));
    } catch (const QString &text) {
        return Outcome::failure(DistributedPromiseError::WorkFailed, text);
    } catch (...) {
        return Outcome::failure(DistributedPromiseError::WorkFailed,
            QStringLiteral("the work threw an exception of unknown type"));
    }
}

void submit(const std::shared_ptr<Registration> &registration, QJsonArray args,
    std::unique_ptr<Waiter> waiter, CallKind kind)
{
    if (!registration->error.isEmpty()) {
        waiter->fail(DistributedPromiseError(
            DistributedPromiseError::InvalidArgument, registration->error, registration->key));
        return;
    }
    CoreHandle *handle = registration->core.get();
    QMutexLocker locker(&handle->mutex);
    Coordinator *coordinator = handle->coordinator;
    if (!coordinator) {
        locker.unlock();
        waiter->fail(DistributedPromiseError(DistributedPromiseError::Cancelled,
            QStringLiteral("'%1' was called after its "
                           "DistributedPromiseWrapper was destroyed")
                .arg(registration->key),
            registration->key));
        return;
    }
    if (coordinator->thread() == QThread::currentThread()) {
        locker.unlock();
        coordinator->call(registration, args, std::move(waiter), kind);
        return;
    }
    if (coordinator->thread()->isFinished()) {
        // No event loop will ever run the call there.
        locker.unlock();
        waiter->fail(DistributedPromiseError(DistributedPromiseError::Cancelled,
            QStringLiteral("'%1' was called after the thread of its DistributedPromiseWrapper "
                           "finished; a wrapper works only while its thread runs an event loop")
                .arg(registration->key),
            registration->key));
        return;
    }
    // If the wrapper goes away before this runs, the lambda is destroyed unrun and the waiter's
    // destructor fails the call with Cancelled.
    auto shared = std::make_shared<std::unique_ptr<Waiter>>(std::move(waiter));
    QMetaObject::invokeMethod(
        coordinator,
        [coordinator, registration, args = std::move(args), shared, kind] {
            coordinator->call(registration, args, std::move(*shared), kind);
        },
        Qt::QueuedConnection);
}

} // namespace DistributedPromiseDetail
