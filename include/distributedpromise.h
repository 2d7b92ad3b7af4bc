// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise_export.h"
#include "distributedpromiseerror.h"

#include <QtCore/QDateTime>
#include <QtCore/QFuture>
#include <QtCore/QJsonValue>
#include <QtCore/QObject>
#include <QtCore/QVariant>

#include <memory>

class DistributedPromisePrivate;

/*!
    \class DistributedPromise
    \brief One call's outcome as a QObject, for signals, property bindings and QML.

    Made by DistributedPromiseWrapper::call(). It emits resolved() or failed() at most once, then
    finished() exactly once, always on its own thread and never before the event loop runs (so
    connecting right after call() never misses the outcome).

    Who deletes it: the parent given to call(), or else the caller once it has finished. While it
    is pending, a promise made without a parent has the wrapper as its parent (so that QML's
    garbage collector cannot delete it before its handlers ran); the wrapper lets go of it after
    finished(), or when the wrapper is destroyed. In QML, the JavaScript engine deletes it once it
    has finished and nothing refers to it.

    \since 0.1
*/
class DISTRIBUTEDPROMISE_EXPORT DistributedPromise : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QString key READ key CONSTANT)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QVariant value READ value NOTIFY stateChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY stateChanged)
    Q_PROPERTY(int errorCode READ errorCode NOTIFY stateChanged)
    Q_PROPERTY(bool hasError READ hasError NOTIFY stateChanged)
    Q_PROPERTY(Phase phase READ phase NOTIFY phaseChanged)
    Q_PROPERTY(QString phaseText READ phaseText NOTIFY phaseChanged)
    Q_PROPERTY(bool stale READ isStale NOTIFY stateChanged)
    Q_PROPERTY(QDateTime updatedAt READ updatedAt NOTIFY stateChanged)
public:
    enum State { Pending, Resolved, Failed };
    Q_ENUM(State)
    /*!
        Where the call is. It only moves forward: CheckingCache, then RunningHere or
        WaitingForOther (then TakingOver when the holder went away), then Done. For plain QFuture
        users the same numbers are the future's progressValue(), and phaseText() its
        progressText(); QFutureWatcher::progressValueChanged() follows every step.
        \since 0.2
    */
    enum Phase {
        CheckingCache, ///< looking at the cache (or not started yet); most calls end here
        WaitingForOther, ///< another process runs the work; phaseText() says which, when known
        RunningHere, ///< this process runs the work (or runs it alone while Redis is away)
        TakingOver, ///< the process that held the work went away; this one runs it now
        Done, ///< the outcome arrived
    };
    Q_ENUM(Phase)

    /*! Follows \a future, the outcome of the call named \a key. */
    DistributedPromise(
        const QString &key, const QFuture<QJsonValue> &future, QObject *parent = nullptr);
    ~DistributedPromise() override;

    /*! The wrap key this promise was called with. */
    QString key() const;
    /*! Pending until the outcome arrives, then Resolved or Failed for good. No Redis round trip. */
    State state() const;
    /*! The value once Resolved (JSON converted with QJsonValue::toVariant), else invalid. */
    QVariant value() const;
    /*! The error message once Failed, else empty. */
    QString errorString() const;
    /*! A DistributedPromiseError::Code once Failed, else DistributedPromiseError::NoError (-1).
        WorkFailed is 0: test hasError(), or compare with NoError, never the code's truth. */
    int errorCode() const;
    /*! True once Failed (whatever the code, WorkFailed included), else false. No Redis round
        trip. \since 0.2 */
    bool hasError() const;
    /*! The outcome as a future, for QFuture continuations. */
    QFuture<QJsonValue> future() const;
    /*! Where the call is now. No Redis round trip. \since 0.2 */
    Phase phase() const;
    /*! The phase in words, for a status line: "waiting for host:pid", "running here", ...;
        empty while checking the cache. No Redis round trip. \since 0.2 */
    QString phaseText() const;
    /*! Resolved with a value past its ttl (served within staleFor while it is refreshed, or
        kept by failSafe when the refresh failed). No Redis round trip. \since 0.3 */
    bool isStale() const;
    /*! When the value was computed, in this process's clock (derived from the time Redis says
        the entry has left, so other processes' clocks do not matter); invalid while pending or
        failed. Costs nothing extra: a promise's hit reads the entry's remaining time in its one
        round trip. \since 0.3 */
    QDateTime updatedAt() const;

Q_SIGNALS:
    /*! The call produced \a value; emitted at most once, and never together with failed(). */
    void resolved(const QVariant &value);
    /*! The call failed with a DistributedPromiseError::Code and its message; at most once. */
    void failed(int errorCode, const QString &errorString);
    /*! Emitted exactly once, after resolved() or failed(). */
    void finished();
    /*! state, value, errorString, errorCode and hasError changed (once, when the outcome
        arrives). */
    void stateChanged();
    /*! phase and phaseText changed. \since 0.2 */
    void phaseChanged();

private:
    void settle();

    std::unique_ptr<DistributedPromisePrivate> const d_ptr;
    Q_DECLARE_PRIVATE(DistributedPromise)
};
