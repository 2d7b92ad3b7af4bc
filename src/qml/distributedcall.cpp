// SPDX-License-Identifier: MIT
#include "distributedcall.h"

#include <QtCore/QFuture>
#include <QtCore/QMetaObject>

#include <utility>

DistributedCall::DistributedCall(QObject *parent)
    : QObject(parent)
{ }

DistributedCall::~DistributedCall() { drop(); }

DistributedPromiseWrapper *DistributedCall::wrapper() const { return m_wrapper; }

void DistributedCall::setWrapper(DistributedPromiseWrapper *wrapper)
{
    if (m_wrapper == wrapper)
        return;
    if (m_wrapper)
        disconnect(m_wrapper, &QObject::destroyed, this, &DistributedCall::onWrapperDestroyed);
    m_wrapper = wrapper;
    if (m_wrapper)
        connect(m_wrapper, &QObject::destroyed, this, &DistributedCall::onWrapperDestroyed);
    Q_EMIT wrapperChanged();
    schedule();
}

QString DistributedCall::key() const { return m_key; }

void DistributedCall::setKey(const QString &key)
{
    if (m_key == key)
        return;
    m_key = key;
    Q_EMIT keyChanged();
    schedule();
}

QVariantList DistributedCall::args() const { return m_args; }

void DistributedCall::setArgs(const QVariantList &args)
{
    if (m_args == args)
        return;
    m_args = args;
    Q_EMIT argsChanged();
    schedule();
}

DistributedPromise::State DistributedCall::state() const { return m_state; }
QVariant DistributedCall::value() const { return m_value; }
QString DistributedCall::errorString() const { return m_errorString; }
int DistributedCall::errorCode() const { return m_errorCode; }
bool DistributedCall::hasError() const { return m_state == DistributedPromise::Failed; }
bool DistributedCall::isRunning() const { return m_running; }

void DistributedCall::refresh() { schedule(); }

void DistributedCall::classBegin() { m_complete = false; }

void DistributedCall::componentComplete()
{
    m_complete = true;
    start();
}

// Supersedes the current call at once (its outcome will be ignored) and makes the new call in
// the next event-loop turn, so that several changes in one turn make one call.
void DistributedCall::schedule()
{
    drop();
    setOutcome(
        DistributedPromise::Pending, QVariant(), QString(), DistributedPromiseError::NoError);
    if (!m_complete)
        return;
    const bool willCall = m_wrapper && !m_key.isEmpty();
    setRunning(willCall);
    if (!willCall || m_scheduled)
        return;
    m_scheduled = true;
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (m_scheduled)
                start();
        },
        Qt::QueuedConnection);
}

void DistributedCall::start()
{
    m_scheduled = false;
    drop();
    setPhase(DistributedPromise::CheckingCache, QString());
    setOutcome(
        DistributedPromise::Pending, QVariant(), QString(), DistributedPromiseError::NoError);
    if (!m_wrapper || m_key.isEmpty()) {
        setRunning(false);
        return;
    }
    m_promise = m_wrapper->call(m_key, m_args, this);
    connect(m_promise, &DistributedPromise::finished, this, &DistributedCall::onPromiseFinished);
    connect(m_promise, &DistributedPromise::phaseChanged, this, [this] {
        if (m_promise && sender() == m_promise)
            setPhase(m_promise->phase(), m_promise->phaseText());
    });
    setRunning(true);
}

// Forgets the current call: its signals are disconnected, its future is cancelled (this caller
// leaves; the shared work goes on for any other caller) and its object is deleted later, since
// this may run inside one of its own signals (a handler that changes args).
void DistributedCall::drop()
{
    if (!m_promise)
        return;
    DistributedPromise *promise = std::exchange(m_promise, nullptr);
    disconnect(promise, nullptr, this, nullptr);
    if (promise->state() == DistributedPromise::Pending) {
        QFuture<QJsonValue> future = promise->future();
        future.cancel();
    }
    promise->deleteLater();
}

void DistributedCall::setOutcome(DistributedPromise::State state, const QVariant &value,
    const QString &errorString, int errorCode, bool stale, const QDateTime &updatedAt)
{
    if (m_state == state && m_value == value && m_errorString == errorString
        && m_errorCode == errorCode && m_stale == stale && m_updatedAt == updatedAt)
        return;
    m_state = state;
    m_value = value;
    m_errorString = errorString;
    m_errorCode = errorCode;
    m_stale = stale;
    m_updatedAt = updatedAt;
    Q_EMIT stateChanged();
}

DistributedPromise::Phase DistributedCall::phase() const { return m_phase; }
bool DistributedCall::isStale() const { return m_stale; }
QDateTime DistributedCall::updatedAt() const { return m_updatedAt; }
QString DistributedCall::phaseText() const { return m_phaseText; }

void DistributedCall::setPhase(DistributedPromise::Phase phase, const QString &text)
{
    if (m_phase == phase && m_phaseText == text)
        return;
    m_phase = phase;
    m_phaseText = text;
    Q_EMIT phaseChanged();
}

void DistributedCall::setRunning(bool running)
{
    if (m_running == running)
        return;
    m_running = running;
    Q_EMIT runningChanged();
}

void DistributedCall::onPromiseFinished()
{
    if (!m_promise || sender() != m_promise)
        return;
    const DistributedPromise::State state = m_promise->state();
    const QVariant value = m_promise->value();
    const QString errorString = m_promise->errorString();
    const int errorCode = m_promise->errorCode();
    setPhase(DistributedPromise::Done, QString());
    setOutcome(state, value, errorString, errorCode, m_promise->isStale(), m_promise->updatedAt());
    setRunning(false);
    // Handlers may change args or key (superseding this call) or destroy this object's
    // QML context; the signals below still describe the call that just finished.
    if (state == DistributedPromise::Resolved)
        Q_EMIT resolved(value);
    else
        Q_EMIT failed(errorCode, errorString);
    Q_EMIT finished();
}

void DistributedCall::onWrapperDestroyed()
{
    m_wrapper = nullptr;
    drop();
    m_scheduled = false;
    setOutcome(
        DistributedPromise::Pending, QVariant(), QString(), DistributedPromiseError::NoError);
    setRunning(false);
    Q_EMIT wrapperChanged();
}
