// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise.h"
#include "distributedpromisedetail.h"

#include <QtCore/QDateTime>
#include <QtCore/QFutureWatcher>
#include <QtCore/QPointer>

#include <atomic>

namespace DistributedPromiseDetail {
/*! How fresh a promise's value is: written by its waiter before the future finishes. */
struct Freshness
{
    std::atomic<bool> stale { false };
    std::atomic<qint64> ageMs { -1 };
    std::atomic<qint64> resolvedAtMs { 0 }; ///< when the age was measured (ms since the epoch)
};

/*! The waiter of a DistributedPromise: a value waiter that also records the value's age. */
class PromiseWaiter final : public Waiter
{
public:
    QFuture<QJsonValue> future() { return m_inner.future(); }
    std::shared_ptr<Freshness> freshness() const { return m_freshness; }
    void resolve(const QJsonValue &value) override { m_inner.resolve(value); }
    void fail(const DistributedPromiseError &error) override { m_inner.fail(error); }
    bool isCanceled() const override { return m_inner.isCanceled(); }
    void setPhase(int phase, const QString &detail) override { m_inner.setPhase(phase, detail); }
    bool wantsAge() const override { return true; }
    void setAge(bool stale, qint64 ageMs) override
    {
        m_freshness->stale = stale;
        m_freshness->ageMs = ageMs;
        m_freshness->resolvedAtMs = QDateTime::currentMSecsSinceEpoch();
    }

private:
    TypedWaiter<QJsonValue> m_inner;
    std::shared_ptr<Freshness> m_freshness = std::make_shared<Freshness>();
};
} // namespace DistributedPromiseDetail

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
    std::shared_ptr<DistributedPromiseDetail::Freshness> freshness;
    bool stale = false;
    QDateTime updatedAt;
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
