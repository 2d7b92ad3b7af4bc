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
    /*! Set by DistributedPromiseWrapper::call() for a promise made without a parent: the object
        that is its parent while it is pending, so that QML's garbage collector cannot delete it
        before its signals were emitted. Released (parent reset) once the promise finished. */
    QPointer<QObject> keeper;
    /*! Made by call() without a parent: handed to the releasedHook once finished. */
    bool fromCall = false;

    static DistributedPromisePrivate *get(DistributedPromise *promise) { return promise->d_func(); }
};

namespace DistributedPromiseDetail {

/*!
    Called with each promise made by DistributedPromiseWrapper::call() without a parent, once it
    has emitted finished() and its keeper let it go. The QML module installs one that hands
    JavaScript-owned promises back to the JavaScript engine (or deletes those the engine no
    longer refers to). Main thread only; null by default.
*/
using ReleasedHook = void (*)(DistributedPromise *promise);
DISTRIBUTEDPROMISE_EXPORT void setReleasedPromiseHook(ReleasedHook hook);

/*! Makes \a keeper the parent of \a promise until the promise has finished. */
void keepUntilFinished(DistributedPromise *promise, QObject *keeper);
/*! Lets go of every pending promise \a keeper keeps (it is being destroyed). */
void releaseKept(QObject *keeper);

} // namespace DistributedPromiseDetail
