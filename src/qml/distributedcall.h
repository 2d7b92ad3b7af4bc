// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise.h"
#include "distributedpromisewrapper.h"

#include <QtCore/QObject>
#include <QtCore/QVariant>
#include <QtCore/QVariantList>
#include <QtQml/QQmlParserStatus>
#include <QtQml/qqmlregistration.h>

/*!
    \class DistributedCall
    \brief A declarative call of wrapped work: bind key and args, get state and value.

    QML type \c DistributedCall in \c {import DistributedPromise}. When the component is complete,
    and again whenever \l wrapper, \l key or \l args change, it calls
    \c{wrapper.call(key, args)}. Several changes in one event-loop turn make one call. A new
    call supersedes the previous one: the previous one's outcome is ignored (its future is
    cancelled, which detaches this caller only; the shared work goes on for the others) and its
    DistributedPromise object is deleted. The properties always describe the current call.

    \qml
    import DistributedPromise
    DistributedCall {
        id: report
        wrapper: reportWrapper           // a DistributedPromiseWrapper exposed from C++
        key: "report"                    // wrapped in C++ with wrapper.wrap("report", ...)
        args: [yearSelector.year]
        onFailed: (code, message) => console.warn(message)
    }
    Text {
        text: report.state === DistributedPromise.Resolved ? report.value
            : report.running ? "computing..." : report.errorString
    }
    \endqml

    No call is made while \l wrapper is null or \l key is empty. Each call costs what
    DistributedPromiseWrapper::call() costs: one round trip (GET) on a cache hit, none when the
    same call is already in flight in this process, three when this process runs the work.

    \since 0.1
*/
class DistributedCall : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_ELEMENT
    Q_PROPERTY(
        DistributedPromiseWrapper *wrapper READ wrapper WRITE setWrapper NOTIFY wrapperChanged)
    Q_PROPERTY(QString key READ key WRITE setKey NOTIFY keyChanged)
    Q_PROPERTY(QVariantList args READ args WRITE setArgs NOTIFY argsChanged)
    Q_PROPERTY(DistributedPromise::State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QVariant value READ value NOTIFY stateChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY stateChanged)
    Q_PROPERTY(int errorCode READ errorCode NOTIFY stateChanged)
    Q_PROPERTY(bool hasError READ hasError NOTIFY stateChanged)
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    Q_PROPERTY(DistributedPromise::Phase phase READ phase NOTIFY phaseChanged)
    Q_PROPERTY(QString phaseText READ phaseText NOTIFY phaseChanged)
    Q_PROPERTY(bool stale READ isStale NOTIFY stateChanged)
    Q_PROPERTY(QDateTime updatedAt READ updatedAt NOTIFY stateChanged)

public:
    /*! Creates an idle call. From QML it first calls when the component is complete; from C++
        (no QQmlParserStatus calls) it first calls in the event-loop turn after a property is
        set. No Redis round trip. */
    explicit DistributedCall(QObject *parent = nullptr);
    /*! Cancels the current call's future (this caller leaves; the shared work goes on for the
        others) and deletes its DistributedPromise. No Redis round trip. */
    ~DistributedCall() override;

    /*! The wrapper whose work is called; null (the default) makes no call. If the wrapper is
        destroyed, this becomes null and the current call is dropped. */
    DistributedPromiseWrapper *wrapper() const;
    /*! Sets the wrapper to call through and schedules a new call (coalesced with other changes
        in this event-loop turn). Setting the same wrapper again does nothing. No Redis round
        trip by itself. */
    void setWrapper(DistributedPromiseWrapper *wrapper);

    /*! The key the work was wrapped under in C++; empty (the default) makes no call. */
    QString key() const;
    /*! Sets the key and schedules a new call (coalesced). An unchanged key does nothing. A key
        no work is wrapped under makes the call fail with DistributedPromiseError.InvalidArgument.
    */
    void setKey(const QString &key);

    /*! The arguments, converted to JSON with QJsonValue::fromVariant. */
    QVariantList args() const;
    /*! Sets the arguments and schedules a new call (coalesced). Equal arguments do nothing. An
        argument JSON cannot carry (e.g. a QObject) makes the call fail with InvalidArgument. */
    void setArgs(const QVariantList &args);

    /*! Pending until the current call's outcome arrives (also while no call is made), then
        Resolved or Failed. */
    DistributedPromise::State state() const;
    /*! The current call's value once Resolved (JSON converted with QJsonValue::toVariant);
        undefined otherwise, including while a new call is pending. */
    QVariant value() const;
    /*! The current call's error message once Failed, else empty. */
    QString errorString() const;
    /*! A DistributedPromiseError code once Failed (compare with DistributedPromiseError.Timeout
        etc.), else DistributedPromiseError.NoError (-1). WorkFailed is 0, so never test the code
        for truth: use hasError. */
    int errorCode() const;
    /*! True while the current call's outcome is a failure (any code, WorkFailed included). */
    bool hasError() const;
    /*! True from the moment a call is scheduled until its outcome arrives. */
    bool isRunning() const;
    /*! Where the current call is (DistributedPromise.CheckingCache, WaitingForOther,
        RunningHere, TakingOver, Done); CheckingCache again when a new call starts. \since 0.2 */
    DistributedPromise::Phase phase() const;
    /*! The phase in words ("waiting for host:pid", "running here"); empty while checking.
        \since 0.2 */
    QString phaseText() const;
    /*! The current value was served past its ttl (see DistributedPromise::isStale()). \since 0.3
     */
    bool isStale() const;
    /*! When the current value was computed (see DistributedPromise::updatedAt()); invalid while
        pending or failed. \since 0.3 */
    QDateTime updatedAt() const;

    /*!
        Supersedes the current call with a new one using the same wrapper, key and args, in the
        next event-loop turn (coalesced with other changes). It does not bypass the cache: a
        cached value comes back with one round trip (GET); a call of the same identity still in
        flight in this process is joined without a round trip. Fails like any call (see
        errorCode); does nothing while the wrapper is null or the key is empty.
    */
    Q_INVOKABLE void refresh();

    /*! QQmlParserStatus: holds calls back until componentComplete(). */
    void classBegin() override;
    /*! QQmlParserStatus: makes the first call (synchronously) if wrapper and key are set. */
    void componentComplete() override;

Q_SIGNALS:
    void wrapperChanged();
    void keyChanged();
    void argsChanged();
    /*! The outcome properties (state, value, errorString, errorCode, hasError, stale,
        updatedAt) changed. */
    void stateChanged();
    void runningChanged();
    /*! phase and phaseText changed. */
    void phaseChanged();
    /*! The current call resolved with \a value; at most once per call. */
    void resolved(const QVariant &value);
    /*! The current call failed with a DistributedPromiseError \a errorCode and \a errorString;
        at most once per call. */
    void failed(int errorCode, const QString &errorString);
    /*! The current call finished (after resolved() or failed()); exactly once per call that
        is not superseded first. */
    void finished();

private:
    void schedule();
    void start();
    void drop();
    void setOutcome(DistributedPromise::State state, const QVariant &value,
        const QString &errorString, int errorCode, bool stale = false,
        const QDateTime &updatedAt = QDateTime());
    void setRunning(bool running);
    void setPhase(DistributedPromise::Phase phase, const QString &text);
    void onPromiseFinished();
    void onWrapperDestroyed();

    DistributedPromiseWrapper *m_wrapper = nullptr;
    QString m_key;
    QVariantList m_args;
    DistributedPromise *m_promise = nullptr;
    DistributedPromise::State m_state = DistributedPromise::Pending;
    QVariant m_value;
    QString m_errorString;
    int m_errorCode = DistributedPromiseError::NoError;
    bool m_running = false;
    DistributedPromise::Phase m_phase = DistributedPromise::CheckingCache;
    QString m_phaseText;
    bool m_stale = false;
    QDateTime m_updatedAt;
    bool m_complete = true;
    bool m_scheduled = false;
};
