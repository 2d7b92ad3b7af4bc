// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise.h"

#include <QtCore/QFutureWatcher>
#include <QtCore/QPointer>

class DistributedPromisePrivate
{
public:
    QString key;
    QFuture<QJsonValue> future;
    QFutureWatcher<QJsonValue> watcher;
    DistributedPromise::State state = DistributedPromise::Pending;
    QVariant value;
    QString errorString;
    int errorCode = DistributedPromiseError::NoError;
    DistributedPromise::Phase phase = DistributedPromise::CheckingCache;
    QString phaseText;
    /*! Set by DistributedPromiseWrapper::call() for a promise made without a parent: its parent
        while it is pending, so that QML's garbage collector cannot delete it before its signals
        were emitted (a C++-owned parent keeps its children's JavaScript wrappers alive).
        Released (parent reset) once the promise finished, when the JavaScript engine, or the
        C++ caller, owns it alone. */
    QPointer<QObject> keeper;

    static DistributedPromisePrivate *get(DistributedPromise *promise) { return promise->d_func(); }
};

namespace DistributedPromiseDetail {

/*! Makes \a keeper the parent of \a promise until the promise has finished. */
void keepUntilFinished(DistributedPromise *promise, QObject *keeper);
/*! Lets go of every pending promise \a keeper keeps (it is being destroyed). */
void releaseKept(QObject *keeper);

} // namespace DistributedPromiseDetail
