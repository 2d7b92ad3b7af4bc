// SPDX-License-Identifier: MIT
#include "distributedpromisewrapper.h"

#include "distributedpromise.h"
#include "distributedpromise_p.h"
#include "distributedpromisewrapper_p.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QMetaMethod>
#include <QtCore/QMetaObject>
#include <QtCore/QThread>

DistributedPromiseWrapper::DistributedPromiseWrapper(
    const DistributedPromiseConfig &config, QObject *parent)
    : QObject(parent)
    , d_ptr(std::make_unique<DistributedPromiseWrapperPrivate>())
{
    Q_D(DistributedPromiseWrapper);
    d->config = config;
    QString configError = DistributedPromiseProtocol::validate(config);
    // Without the application object there is no event loop to connect from (and Qt only
    // warns about timers): say so instead of hanging every call.
    if (configError.isEmpty() && !QCoreApplication::instance())
        configError = QStringLiteral(
            "the DistributedPromiseWrapper was created before the QCoreApplication; create the "
            "application object (QCoreApplication, QGuiApplication or QApplication) first");
    d->coordinator = std::make_unique<DistributedPromiseDetail::Coordinator>(config, configError);
    // The coordinator also checks the Redis URL.
    d->configError = d->coordinator->configurationError();
    if (!d->configError.isEmpty())
        qCWarning(lcDistributedPromise).noquote() << "unusable configuration:" << d->configError;
    d->handle = std::make_shared<DistributedPromiseDetail::CoreHandle>();
    d->handle->coordinator = d->coordinator.get();
    // The connection reports every failed attempt; the property changes only with the state.
    connect(d->coordinator.get(), &DistributedPromiseDetail::Coordinator::callFinished, this,
        &DistributedPromiseWrapper::callFinished);
    connect(d->coordinator.get(), &DistributedPromiseDetail::Coordinator::connectedChanged, this,
        [this](bool connected) {
            Q_D(DistributedPromiseWrapper);
            if (connected == d->lastConnected)
                return;
            d->lastConnected = connected;
            Q_EMIT connectedChanged(connected);
        });
}

DistributedPromiseWrapper::~DistributedPromiseWrapper()
{
    Q_D(DistributedPromiseWrapper);
    // Pending promises made by call() are the callers' (or the JavaScript engine's), not ours.
    DistributedPromiseDetail::releaseKept(this);
    {
        QMutexLocker locker(&d->handle->mutex);
        d->handle->coordinator = nullptr;
    }
    if (QThread::currentThread() != thread() && thread()->isRunning()) {
        // The Redis connections belong to that thread, which may be using them right now:
        // closing them here would race with it. They are closed there instead, where the calls
        // still in flight then finish Cancelled.
        qCCritical(lcDistributedPromise)
            << "a DistributedPromiseWrapper must be destroyed in its own thread" << thread()
            << "not in" << QThread::currentThread()
            << "- use deleteLater(); its connections are closed in its thread instead";
        d->coordinator.release()->deleteLater();
        return;
    }
    d->coordinator.reset();
}

void DistributedPromiseWrapper::connectNotify(const QMetaMethod &signal)
{
    Q_D(DistributedPromiseWrapper);
    if (signal == QMetaMethod::fromSignal(&DistributedPromiseWrapper::callFinished))
        d->coordinator->measureCalls();
    QObject::connectNotify(signal);
}

bool DistributedPromiseWrapper::event(QEvent *event)
{
    if (event->type() == QEvent::ThreadChange)
        qCCritical(lcDistributedPromise)
            << "moveToThread() does not move a DistributedPromiseWrapper's Redis connections: "
               "they and the work stay in the thread that created the wrapper; create the "
               "wrapper in the thread that should own it instead";
    return QObject::event(event);
}

std::shared_ptr<DistributedPromiseDetail::Registration> DistributedPromiseWrapper::registerWork(
    const DistributedPromiseWrapOptions &options, DistributedPromiseDetail::Runner run,
    QString (*check)(const QJsonArray &))
{
    Q_D(DistributedPromiseWrapper);
    auto registration = std::make_shared<DistributedPromiseDetail::Registration>();
    registration->key = options.key;
    registration->identityPrefix = options.key.toUtf8() + d->config.keySeparator.toUtf8();
    registration->timeout = options.timeout;
    registration->ttl = options.ttl;
    registration->staleFor = options.staleFor;
    registration->softTimeout = options.softTimeout;
    registration->run = std::move(run);
    registration->check = check;
    registration->core = d->handle;
    if (options.key.isEmpty())
        return registration;
    if (options.key.contains(QLatin1Char('{')) || options.key.contains(QLatin1Char('}'))) {
        // On a Redis Cluster the hash tag is what lies between the first '{' and the next '}':
        // a brace in the key would split a call's keys over slots, or pin them all to one.
        registration->error = QStringLiteral("the wrap key '%1' contains a brace; braces are "
                                             "reserved for the Redis Cluster hash tag, remove "
                                             "them from the key")
                                  .arg(options.key);
        return registration;
    }
    QMutexLocker locker(&d->registryMutex);
    if (d->registry.contains(options.key)) {
        // Two works under one key would share identities: one would answer the other's calls.
        registration->error
            = QStringLiteral("'%1' is already wrapped by this DistributedPromiseWrapper; give "
                             "each work its own key (and version it, e.g. '%1:v2', when the "
                             "work or its types change)")
                  .arg(options.key);
        qCWarning(lcDistributedPromise).noquote()
            << "wrap() called twice with the key" << options.key
            << "- the second function's calls will fail; call() keeps the first work";
        return registration;
    }
    d->registry.insert(options.key, registration);
    return registration;
}

DistributedPromise *DistributedPromiseWrapper::call(
    const QString &key, const QVariantList &args, QObject *parent)
{
    return start(DistributedPromiseDetail::CallKind::Call, key, args, parent);
}

DistributedPromise *DistributedPromiseWrapper::refresh(
    const QString &key, const QVariantList &args, QObject *parent)
{
    return start(DistributedPromiseDetail::CallKind::Refresh, key, args, parent);
}

DistributedPromise *DistributedPromiseWrapper::invalidate(
    const QString &key, const QVariantList &args, QObject *parent)
{
    return start(DistributedPromiseDetail::CallKind::Invalidate, key, args, parent);
}

DistributedPromise *DistributedPromiseWrapper::invalidateAll(const QString &key, QObject *parent)
{
    return start(DistributedPromiseDetail::CallKind::InvalidateAll, key, {}, parent);
}

DistributedPromise *DistributedPromiseWrapper::start(DistributedPromiseDetail::CallKind kind,
    const QString &key, const QVariantList &args, QObject *parent)
{
    Q_D(DistributedPromiseWrapper);
    auto waiter = std::make_unique<DistributedPromiseDetail::PromiseWaiter>();
    auto *promise = new DistributedPromise(key, waiter->future(), parent);
    DistributedPromisePrivate::get(promise)->freshness = waiter->freshness();
    // Until it has finished, nothing (QML's garbage collector included) may delete it unseen.
    if (!parent && QThread::currentThread() == thread())
        DistributedPromiseDetail::keepUntilFinished(promise, this);
    const auto registration = [d, &key] {
        QMutexLocker locker(&d->registryMutex);
        return d->registry.value(key);
    }();
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
    // Arguments the work cannot take fail here, before the lock is taken for a call that could
    // never run.
    if (registration->check && kind != DistributedPromiseDetail::CallKind::InvalidateAll) {
        const QString error = registration->check(json);
        if (!error.isEmpty()) {
            waiter->fail(DistributedPromiseError(DistributedPromiseError::InvalidArgument,
                QStringLiteral("cannot call '%1': %2").arg(key, error), key));
            return promise;
        }
    }
    DistributedPromiseDetail::submit(registration, std::move(json), std::move(waiter), kind);
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
    return DistributedPromiseDetail::Stats::toMap(stats());
}
