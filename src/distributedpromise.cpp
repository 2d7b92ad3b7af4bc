// SPDX-License-Identifier: MIT
#include "distributedpromise.h"

#include <QtCore/QFutureWatcher>

class DistributedPromisePrivate
{
public:
    QString key;
    QFuture<QJsonValue> future;
    QFutureWatcher<QJsonValue> watcher;
    DistributedPromise::State state = DistributedPromise::Pending;
    QVariant value;
    QString errorString;
    int errorCode = -1;
};

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
    connect(&d->watcher, &QFutureWatcherBase::finished, this, [this] {
        Q_D(DistributedPromise);
        try {
            d->future.waitForFinished(); // finished: only rethrows a stored exception
            if (d->future.resultCount() > 0) {
                d->value = d->future.result().toVariant();
                d->state = Resolved;
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
        Q_EMIT stateChanged();
        if (d->state == Resolved)
            Q_EMIT resolved(d->value);
        else
            Q_EMIT failed(d->errorCode, d->errorString);
        Q_EMIT finished();
    });
    d->watcher.setFuture(future);
}

DistributedPromise::~DistributedPromise() = default;

QString DistributedPromise::key() const { return d_func()->key; }
DistributedPromise::State DistributedPromise::state() const { return d_func()->state; }
QVariant DistributedPromise::value() const { return d_func()->value; }
QString DistributedPromise::errorString() const { return d_func()->errorString; }
int DistributedPromise::errorCode() const { return d_func()->errorCode; }
QFuture<QJsonValue> DistributedPromise::future() const { return d_func()->future; }
