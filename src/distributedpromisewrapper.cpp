// SPDX-License-Identifier: MIT
#include "distributedpromisewrapper.h"

#include "distributedpromise.h"
#include "distributedpromisewrapper_p.h"
#include "logging_p.h"

#include <QtCore/QException>
#include <QtCore/QMetaObject>
#include <QtCore/QThread>

namespace DistributedPromiseDetail {

Waiter::~Waiter() = default;

void Waiter::resolveString(const QString &text) { resolve(QJsonValue(text)); }

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
    } catch (...) {
        return Outcome::failure(DistributedPromiseError::WorkFailed,
            QStringLiteral("the work threw an exception of unknown type"));
    }
}

void submit(const std::shared_ptr<Registration> &registration, QJsonArray args,
    std::unique_ptr<Waiter> waiter)
{
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
        coordinator->call(registration, args, std::move(waiter));
        return;
    }
    // If the wrapper goes away before this runs, the lambda is destroyed unrun and the waiter's
    // destructor fails the call with Cancelled.
    auto shared = std::make_shared<std::unique_ptr<Waiter>>(std::move(waiter));
    QMetaObject::invokeMethod(
        coordinator,
        [coordinator, registration, args = std::move(args), shared] {
            coordinator->call(registration, args, std::move(*shared));
        },
        Qt::QueuedConnection);
}

} // namespace DistributedPromiseDetail

DistributedPromiseWrapper::DistributedPromiseWrapper(
    const DistributedPromiseConfig &config, QObject *parent)
    : QObject(parent)
    , d_ptr(std::make_unique<DistributedPromiseWrapperPrivate>())
{
    Q_D(DistributedPromiseWrapper);
    d->config = config;
    d->coordinator = std::make_unique<DistributedPromiseDetail::Coordinator>(
        config, DistributedPromiseProtocol::validate(config));
    // The coordinator also checks the Redis URL.
    d->configError = d->coordinator->configurationError();
    if (!d->configError.isEmpty())
        qCWarning(lcDistributedPromise).noquote() << "unusable configuration:" << d->configError;
    d->handle = std::make_shared<DistributedPromiseDetail::CoreHandle>();
    d->handle->coordinator = d->coordinator.get();
    connect(d->coordinator.get(), &DistributedPromiseDetail::Coordinator::connectedChanged, this,
        &DistributedPromiseWrapper::connectedChanged);
}

DistributedPromiseWrapper::~DistributedPromiseWrapper()
{
    Q_D(DistributedPromiseWrapper);
    {
        QMutexLocker locker(&d->handle->mutex);
        d->handle->coordinator = nullptr;
    }
    d->coordinator.reset();
}

std::shared_ptr<DistributedPromiseDetail::Registration> DistributedPromiseWrapper::registerWork(
    const DistributedPromiseWrapOptions &options, DistributedPromiseDetail::Runner run)
{
    Q_D(DistributedPromiseWrapper);
    auto registration = std::make_shared<DistributedPromiseDetail::Registration>();
    registration->key = options.key;
    registration->identityPrefix = options.key.toUtf8() + d->config.keySeparator.toUtf8();
    registration->timeout = options.timeout;
    registration->run = std::move(run);
    registration->core = d->handle;
    if (!options.key.isEmpty())
        d->registry.insert(options.key, registration);
    return registration;
}

DistributedPromise *DistributedPromiseWrapper::call(const QString &key, const QVariantList &args)
{
    Q_D(DistributedPromiseWrapper);
    auto waiter = std::make_unique<DistributedPromiseDetail::TypedWaiter<QJsonValue>>();
    auto *promise = new DistributedPromise(key, waiter->future());
    const auto registration = d->registry.value(key);
    if (!registration) {
        waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
            QStringLiteral("no work is wrapped under the key "
                           "'%1'; call wrap() with it first")
                .arg(key),
            key));
        return promise;
    }
    QJsonArray json;
    for (const QVariant &arg : args) {
        const QJsonValue value = QJsonValue::fromVariant(arg);
        if (value.isUndefined() || (value.isNull() && arg.isValid() && !arg.isNull())) {
            waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
                QStringLiteral("an argument of '%1' of type %2 cannot be carried as JSON")
                    .arg(key, QString::fromLatin1(arg.typeName())),
                key));
            return promise;
        }
        json.append(value);
    }
    DistributedPromiseDetail::submit(registration, std::move(json), std::move(waiter));
    return promise;
}

DistributedPromiseConfig DistributedPromiseWrapper::config() const
{
    Q_D(const DistributedPromiseWrapper);
    return d->config;
}

QString DistributedPromiseWrapper::configurationError() const
{
    Q_D(const DistributedPromiseWrapper);
    return d->configError;
}

bool DistributedPromiseWrapper::isConnected() const
{
    Q_D(const DistributedPromiseWrapper);
    return d->coordinator->isConnected();
}

DistributedPromiseStats DistributedPromiseWrapper::stats() const
{
    Q_D(const DistributedPromiseWrapper);
    return d->coordinator->stats().snapshot();
}

QVariantMap DistributedPromiseWrapper::statistics() const
{
    const DistributedPromiseStats s = stats();
    return {
        { QStringLiteral("calls"), s.calls },
        { QStringLiteral("hits"), s.hits },
        { QStringLiteral("misses"), s.misses },
        { QStringLiteral("coalesced"), s.coalesced },
        { QStringLiteral("won"), s.won },
        { QStringLiteral("waited"), s.waited },
        { QStringLiteral("takeovers"), s.takeovers },
        { QStringLiteral("lostLeases"), s.lostLeases },
        { QStringLiteral("localRuns"), s.localRuns },
        { QStringLiteral("errors"), s.errors },
        { QStringLiteral("reconnects"), s.reconnects },
    };
}
