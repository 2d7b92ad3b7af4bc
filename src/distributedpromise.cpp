// SPDX-License-Identifier: MIT
#include "distributedpromise.h"

#include "distributedpromise_p.h"

namespace DistributedPromiseDetail {

void keepUntilFinished(DistributedPromise *promise, QObject *keeper)
{
    DistributedPromisePrivate *d = DistributedPromisePrivate::get(promise);
    if (promise->state() != DistributedPromise::Pending)
        return;
    d->keeper = keeper;
    promise->setParent(keeper);
}

void releaseKept(QObject *keeper)
{
    const QObjectList children = keeper->children();
    for (QObject *child : children) {
        auto *promise = qobject_cast<DistributedPromise *>(child);
        if (!promise)
            continue;
        DistributedPromisePrivate *d = DistributedPromisePrivate::get(promise);
        if (d->keeper == keeper) {
            d->keeper = nullptr;
            promise->setParent(nullptr);
        }
    }
}

} // namespace DistributedPromiseDetail

DistributedPromise::DistributedPromise(
    const QString &key, const QFuture<QJsonValue> &future, QObject *parent)
    : QObject(parent)
    , d_ptr(std::make_unique<DistributedPromisePrivate>())
{
    Q_D(DistributedPromise);
    d->key = key;
    d->future = future;
    // QFutureWatcher delivers through the event loop, so the outcome never arrives before the
    // caller had a chance to connect.
    connect(&d->watcher, &QFutureWatcherBase::finished, this, &DistributedPromise::settle);
    connect(&d->watcher, &QFutureWatcherBase::progressValueChanged, this, [this](int phase) {
        Q_D(DistributedPromise);
        if (d->phase == Done || phase <= d->phase)
            return;
        d->phase = Phase(phase);
        d->phaseText = d->future.progressText();
        Q_EMIT phaseChanged();
    });
    d->watcher.setFuture(future);
}

DistributedPromise::Phase DistributedPromise::phase() const { return d_func()->phase; }
QString DistributedPromise::phaseText() const { return d_func()->phaseText; }

DistributedPromise::~DistributedPromise() = default;

void DistributedPromise::settle()
{
    Q_D(DistributedPromise);
    try {
        d->future.waitForFinished(); // finished: only rethrows a stored exception
        if (d->future.resultCount() > 0) {
            d->value = d->future.result().toVariant();
            d->state = Resolved;
            if (d->freshness && d->freshness->ageMs >= 0) {
                d->stale = d->freshness->stale;
                d->updatedAt = QDateTime::fromMSecsSinceEpoch(
                    d->freshness->resolvedAtMs - d->freshness->ageMs);
            }
        } else {
            d->errorCode = DistributedPromiseError::Cancelled;
            d->errorString = QStringLiteral("the call was cancelled");
            d->state = Failed;
        }
    } catch (const DistributedPromiseError &error) {
        d->errorCode = error.code();
        d->errorString = error.message();
        d->state = Failed;
    } catch (const std::exception &error) {
        d->errorCode = DistributedPromiseError::WorkFailed;
        d->errorString = QString::fromUtf8(error.what());
        d->state = Failed;
    }
    // A handler may delete this object (deleteLater, or a DistributedCall dropping it).
    QPointer<DistributedPromise> self(this);
    d->phase = Done;
    d->phaseText.clear();
    Q_EMIT phaseChanged();
    Q_EMIT stateChanged();
    if (!self)
        return;
    if (d->state == Resolved)
        Q_EMIT resolved(d->value);
    else
        Q_EMIT failed(d->errorCode, d->errorString);
    if (!self)
        return;
    Q_EMIT finished();
    if (!self)
        return;
    // Pending, the keeper (the wrapper) kept this object from QML's garbage collector; now the
    // caller, or the JavaScript engine, owns it.
    if (d->keeper && parent() == d->keeper)
        setParent(nullptr);
    d->keeper = nullptr;
}

QString DistributedPromise::key() const { return d_func()->key; }
DistributedPromise::State DistributedPromise::state() const { return d_func()->state; }
QVariant DistributedPromise::value() const { return d_func()->value; }
QString DistributedPromise::errorString() const { return d_func()->errorString; }
int DistributedPromise::errorCode() const { return d_func()->errorCode; }
bool DistributedPromise::hasError() const { return d_func()->state == Failed; }
bool DistributedPromise::isStale() const { return d_func()->stale; }
QDateTime DistributedPromise::updatedAt() const { return d_func()->updatedAt; }
QFuture<QJsonValue> DistributedPromise::future() const { return d_func()->future; }
