// SPDX-License-Identifier: MIT
// DistributedPromiseWrapper::call() and the DistributedPromise QObject: signals, properties and
// their order.

#include "coretest.h"

#include <QtCore/QMetaEnum>
#include <QtCore/QRegularExpression>
#include <QtTest/QSignalSpy>

#include <stdexcept>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;
using namespace std::chrono_literals;

class tst_DistributedPromiseObject : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void resolves();
    void resolvesFromCache();
    void fails();
    void unknownKey();
    void unsupportedArgument();
    void signalsWaitForTheEventLoop();
    void secondWrapKeepsTheFirstForCall();
    void phases();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("object-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }

    RedisServer m_server;
};

namespace {

/*! Records the signals of one DistributedPromise in order. */
struct Recorder
{
    explicit Recorder(DistributedPromise *promise)
        : resolved(promise, &DistributedPromise::resolved)
        , failed(promise, &DistributedPromise::failed)
        , finished(promise, &DistributedPromise::finished)
        , stateChanged(promise, &DistributedPromise::stateChanged)
    {
        QObject::connect(promise, &DistributedPromise::resolved, promise,
            [this] { order.append(QStringLiteral("resolved")); });
        QObject::connect(promise, &DistributedPromise::failed, promise,
            [this] { order.append(QStringLiteral("failed")); });
        QObject::connect(promise, &DistributedPromise::finished, promise, [this, promise] {
            order.append(QStringLiteral("finished"));
            stateAtFinished = promise->state();
        });
    }
    QSignalSpy resolved;
    QSignalSpy failed;
    QSignalSpy finished;
    QSignalSpy stateChanged;
    QStringList order;
    DistributedPromise::State stateAtFinished = DistributedPromise::Pending;
};

} // namespace

void tst_DistributedPromiseObject::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
}

void tst_DistributedPromiseObject::resolves()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    wrapper.wrap(key(), [&runs](const QString &name, int n) {
        ++runs;
        return valueLater(50ms, QStringLiteral("%1#%2").arg(name).arg(n));
    });
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { QStringLiteral("job"), 4 }));
    QVERIFY(promise);
    QCOMPARE(promise->key(), key());
    QCOMPARE(promise->state(), DistributedPromise::Pending);
    QCOMPARE(promise->errorCode(), -1);
    Recorder recorder(promise.get());
    QTRY_COMPARE(recorder.finished.count(), 1);
    QCoreApplication::processEvents();
    QCOMPARE(
        recorder.order, (QStringList { QStringLiteral("resolved"), QStringLiteral("finished") }));
    QCOMPARE(recorder.resolved.count(), 1);
    QCOMPARE(recorder.failed.count(), 0);
    QCOMPARE(recorder.finished.count(), 1);
    QVERIFY(recorder.stateChanged.count() >= 1);
    QCOMPARE(recorder.resolved.at(0).at(0), QVariant(QStringLiteral("job#4")));
    QCOMPARE(recorder.stateAtFinished, DistributedPromise::Resolved);
    QCOMPARE(promise->state(), DistributedPromise::Resolved);
    QCOMPARE(promise->value(), QVariant(QStringLiteral("job#4")));
    QCOMPARE(promise->property("value"), QVariant(QStringLiteral("job#4")));
    QCOMPARE(promise->property("state").toInt(), int(DistributedPromise::Resolved));
    QCOMPARE(promise->property("key").toString(), key());
    QCOMPARE(promise->errorString(), QString());
    QCOMPARE(promise->errorCode(), -1);
    QCOMPARE(promise->errorCode(), int(DistributedPromiseError::NoError));
    QCOMPARE(promise->property("hasError").toBool(), false);
    QCOMPARE(promise->future().result(), QJsonValue(QStringLiteral("job#4")));
    QCOMPARE(runs, 1);
}

void tst_DistributedPromiseObject::resolvesFromCache()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto typed = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return QVariantMap { { QStringLiteral("n"), n }, { QStringLiteral("zero"), 0 } };
    });
    const QFuture<QVariantMap> first = typed(3);
    QTRY_VERIFY(first.isFinished());
    // The same identity through call(): a hit, the same value.
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { 3 }));
    Recorder recorder(promise.get());
    QTRY_COMPARE(recorder.finished.count(), 1);
    QCOMPARE(recorder.resolved.count(), 1);
    QCOMPARE(runs, 1);
    QCOMPARE(wrapper.stats().hits, quint64(1));
    const QVariantMap value = promise->value().toMap();
    QCOMPARE(value.value(QStringLiteral("n")).toInt(), 3);
    QCOMPARE(value.value(QStringLiteral("zero")).toInt(), 0);
}

void tst_DistributedPromiseObject::fails()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    wrapper.wrap(key(), [](int) -> int { throw std::runtime_error("call failed"); });
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { 1 }));
    Recorder recorder(promise.get());
    QTRY_COMPARE(recorder.finished.count(), 1);
    QCoreApplication::processEvents();
    QCOMPARE(
        recorder.order, (QStringList { QStringLiteral("failed"), QStringLiteral("finished") }));
    QCOMPARE(recorder.failed.count(), 1);
    QCOMPARE(recorder.resolved.count(), 0);
    QCOMPARE(recorder.failed.at(0).at(0).toInt(), int(DistributedPromiseError::WorkFailed));
    QCOMPARE(recorder.failed.at(0).at(1).toString(), QStringLiteral("call failed"));
    QCOMPARE(recorder.stateAtFinished, DistributedPromise::Failed);
    QCOMPARE(promise->state(), DistributedPromise::Failed);
    QCOMPARE(promise->errorCode(), int(DistributedPromiseError::WorkFailed));
    QCOMPARE(promise->property("errorCode").toInt(), int(DistributedPromiseError::WorkFailed));
    QCOMPARE(promise->errorString(), QStringLiteral("call failed"));
    QCOMPARE(promise->property("errorString").toString(), QStringLiteral("call failed"));
    // WorkFailed is 0: hasError is what tells a failure from no error.
    QCOMPARE(promise->property("hasError").toBool(), true);
    QVERIFY(!promise->value().isValid());
    QCOMPARE(codeOf(promise->future()), QStringLiteral("WorkFailed"));
}

void tst_DistributedPromiseObject::unknownKey()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), {}));
    QCOMPARE(promise->state(), DistributedPromise::Pending);
    Recorder recorder(promise.get());
    QTRY_COMPARE(recorder.finished.count(), 1);
    QCOMPARE(recorder.failed.count(), 1);
    QCOMPARE(recorder.resolved.count(), 0);
    QCOMPARE(promise->errorCode(), int(DistributedPromiseError::InvalidArgument));
    QVERIFY2(promise->errorString().contains(key()), qPrintable(promise->errorString()));
    QCOMPARE(promise->key(), key());
}

void tst_DistributedPromiseObject::unsupportedArgument()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    wrapper.wrap(key(), [&runs](const QJsonValue &v) {
        ++runs;
        return v;
    });
    // A QObject pointer cannot be carried as JSON.
    std::unique_ptr<DistributedPromise> promise(
        wrapper.call(key(), { QVariant::fromValue<QObject *>(&wrapper) }));
    Recorder recorder(promise.get());
    QTRY_COMPARE(recorder.finished.count(), 1);
    QCOMPARE(recorder.failed.count(), 1);
    QCOMPARE(promise->errorCode(), int(DistributedPromiseError::InvalidArgument));
    QCOMPARE(runs, 0);
}

void tst_DistributedPromiseObject::signalsWaitForTheEventLoop()
{
    // Even when the outcome is known at once (unknown key, bad configuration), nothing is
    // emitted before the event loop runs: connecting right after call() never misses it.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    wrapper.wrap(key(), [] { return 1; });
    DistributedPromiseConfig bad = configFor(m_server);
    bad.keySeparator.clear();
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("keySeparator")));
    DistributedPromiseWrapper broken(bad);
    broken.wrap(key(), [] { return 1; });

    std::unique_ptr<DistributedPromise> ok(wrapper.call(key(), {}));
    std::unique_ptr<DistributedPromise> unknown(wrapper.call(key(QStringLiteral("-unknown")), {}));
    std::unique_ptr<DistributedPromise> misconfigured(broken.call(key(), {}));
    QVERIFY(!ok->future().isFinished()); // needs Redis
    QVERIFY(unknown->future().isFinished());
    QVERIFY(misconfigured->future().isFinished());
    QCOMPARE(ok->state(), DistributedPromise::Pending);
    QCOMPARE(unknown->state(), DistributedPromise::Pending);
    QCOMPARE(misconfigured->state(), DistributedPromise::Pending);
    Recorder r1(ok.get());
    Recorder r2(unknown.get());
    Recorder r3(misconfigured.get());
    QCOMPARE(r1.finished.count() + r2.finished.count() + r3.finished.count(), 0);
    QTRY_COMPARE(r1.finished.count(), 1);
    QTRY_COMPARE(r2.finished.count(), 1);
    QTRY_COMPARE(r3.finished.count(), 1);
    QCOMPARE(r1.resolved.count(), 1);
    QCOMPARE(r2.failed.count(), 1);
    QCOMPARE(r3.failed.count(), 1);
    QCOMPARE(misconfigured->errorCode(), int(DistributedPromiseError::InvalidArgument));
}

void tst_DistributedPromiseObject::secondWrapKeepsTheFirstForCall()
{
    // A key is wrapped once per wrapper; a second wrap() is refused (see tst_misuse).
    DistributedPromiseWrapper wrapper(configFor(m_server));
    wrapper.wrap(key(), [](int n) { return n; });
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("called twice")));
    wrapper.wrap(key(), [](int n) { return QString::number(n * 2); });
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { 21 }));
    Recorder recorder(promise.get());
    QTRY_COMPARE(recorder.finished.count(), 1);
    QCOMPARE(promise->value(), QVariant(21));
}

void tst_DistributedPromiseObject::phases()
{
    // Where a call is, as a property with a change signal: checking the cache, running here,
    // waiting for another process (named by its host:pid), taking over, done. Plain QFuture users
    // read the same from the future's progress.
    DistributedPromiseConfig config = configFor(m_server);
    config.lockTimeout = 400ms;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    holder.wrap(key(), [] { return valueLater(300ms, 1); });
    auto same = waiter.wrap(key(), [] { return 2; });
    const auto phasesOf = [](DistributedPromise *promise) {
        auto seen = std::make_shared<QStringList>();
        QObject::connect(promise, &DistributedPromise::phaseChanged, promise, [promise, seen] {
            seen->append(
                QString::fromLatin1(
                    QMetaEnum::fromType<DistributedPromise::Phase>().valueToKey(promise->phase()))
                + QLatin1Char(' ') + promise->phaseText());
        });
        return seen;
    };

    std::unique_ptr<DistributedPromise> held(holder.call(key(), {}));
    QCOMPARE(held->phase(), DistributedPromise::CheckingCache);
    const auto heldPhases = phasesOf(held.get());
    QTRY_COMPARE(held->phase(), DistributedPromise::RunningHere);
    std::unique_ptr<DistributedPromise> waited(waiter.call(key(), {}));
    const auto waitedPhases = phasesOf(waited.get());
    QTRY_COMPARE(waited->phase(), DistributedPromise::WaitingForOther);
    QVERIFY2(waited->phaseText().startsWith(QLatin1String("waiting for ")),
        qPrintable(waited->phaseText()));
    QVERIFY2(waited->phaseText().endsWith(
                 QLatin1Char(':') + QString::number(QCoreApplication::applicationPid())),
        qPrintable(waited->phaseText()));
    QTRY_VERIFY(held->state() == DistributedPromise::Resolved
        && waited->state() == DistributedPromise::Resolved);
    QCOMPARE(*heldPhases,
        QStringList({ QStringLiteral("RunningHere running here"), QStringLiteral("Done ") }));
    QCOMPARE(waitedPhases->size(), 2);
    QCOMPARE(waitedPhases->at(1), QStringLiteral("Done "));
    QCOMPARE(waited->value().toInt(), 1);

    // A holder that went away: the waiter takes over, and says from whom.
    const QString lock = lockKey(key(QStringLiteral("-dead")), "[]");
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), lock, QStringLiteral("f00.1@gone-host:42"),
                 QStringLiteral("PX"), QStringLiteral("300") }),
        QByteArray("OK"));
    auto orphan = waiter.wrap(key(QStringLiteral("-dead")), [] { return 3; });
    const QFuture<int> future = orphan();
    std::unique_ptr<DistributedPromise> takingOver(waiter.call(key(QStringLiteral("-dead")), {}));
    const auto takeoverPhases = phasesOf(takingOver.get());
    QTRY_COMPARE(takingOver->state(), DistributedPromise::Resolved);
    QCOMPARE(*takeoverPhases,
        QStringList({ QStringLiteral("WaitingForOther waiting for gone-host:42"),
            QStringLiteral("TakingOver taking over from gone-host:42"), QStringLiteral("Done ") }));
    // The same steps as the future's progress.
    QTRY_VERIFY(future.isFinished());
    QCOMPARE(future.progressValue(), int(DistributedPromise::TakingOver));
    QCOMPARE(future.progressText(), QStringLiteral("taking over from gone-host:42"));
}

QTEST_GUILESS_MAIN(tst_DistributedPromiseObject)
#include "tst_distributedpromiseobject.moc"
