// SPDX-License-Identifier: MIT
// Misuse that must fail loudly, and the wrapped function and the call() promise as values: a
// key wrapped twice, a wrapper made before the application, an empty function, who owns the
// promise call() returns, and connectedChanged only on a change.

#include "coretest.h"

#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>

#include <atomic>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;
using namespace std::chrono_literals;

class tst_Misuse : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void secondWrapOfAKeyFails();
    void wrapperBeforeTheApplication();
    void emptyFunction();
    void callWithParent();
    void callWithoutParentIsKeptUntilFinished();
    void promiseOutlivesItsWrapper();
    void connectedChangedOnlyOnChange();
    void destroyedFromAnotherThread();
    void calledAfterItsThreadFinished();
    void moveToThreadIsDiagnosed();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("misuse-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }

    RedisServer m_server;
};

void tst_Misuse::initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

void tst_Misuse::secondWrapOfAKeyFails()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int firstRuns = 0;
    int secondRuns = 0;
    auto first = wrapper.wrap(key(), [&firstRuns](int n) {
        ++firstRuns;
        return n;
    });
    QTest::ignoreMessage(QtWarningMsg,
        QRegularExpression(QStringLiteral("wrap\\(\\) called twice with the key %1").arg(key())));
    auto second = wrapper.wrap(key(), [&secondRuns](int n) {
        ++secondRuns;
        return QString::number(n * 2);
    });
    QVERIFY(second.isValid());

    // The second function never shares the first one's identities: it fails, naming the key.
    const QFuture<QString> replaced = second(21);
    QVERIFY(replaced.isFinished()); // before any Redis command
    QCOMPARE(codeOf(replaced), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(replaced).contains(key()), qPrintable(messageOf(replaced)));
    QVERIFY2(
        messageOf(replaced).contains(QLatin1String("version")), qPrintable(messageOf(replaced)));

    const QFuture<int> kept = first(21);
    QTRY_VERIFY(kept.isFinished());
    QCOMPARE(codeOf(kept), QStringLiteral("ok"));
    QCOMPARE(kept.result(), 21);

    // call() keeps the first work.
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { 5 }));
    QSignalSpy finished(promise.get(), &DistributedPromise::finished);
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(promise->value(), QVariant(5));
    QCOMPARE(firstRuns, 2);
    QCOMPARE(secondRuns, 0);
}

void tst_Misuse::wrapperBeforeTheApplication()
{
    QProcess helper;
    helper.setProcessChannelMode(QProcess::MergedChannels);
    helper.start(QStringLiteral(DPBEFOREAPP_PATH), { m_server.url().toString() });
    QVERIFY2(helper.waitForStarted(10000), qPrintable(helper.errorString()));
    QVERIFY(QTest::qWaitFor([&] { return helper.state() == QProcess::NotRunning; }, 20000));
    const QString output = QString::fromLocal8Bit(helper.readAll());
    QCOMPARE(helper.exitStatus(), QProcess::NormalExit);
    QVERIFY2(helper.exitCode() == 0, qPrintable(output));
    // Reported through configurationError() and by the call itself, which fails at once.
    QVERIFY2(output.contains(QLatin1String("configurationError: the DistributedPromiseWrapper was "
                                           "created before the QCoreApplication")),
        qPrintable(output));
    QVERIFY2(output.contains(QLatin1String("failed InvalidArgument")), qPrintable(output));
}

void tst_Misuse::emptyFunction()
{
    // A member that is assigned later: empty until then, and its calls fail clearly.
    DistributedPromiseFunction<int(int)> square;
    QVERIFY(!square.isValid());
    QCOMPARE(square.key(), QString());
    const QFuture<int> early = square(3);
    QVERIFY(early.isFinished());
    QCOMPARE(codeOf(early), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(early).contains(QLatin1String("empty DistributedPromiseFunction")),
        qPrintable(messageOf(early)));

    DistributedPromiseWrapper wrapper(configFor(m_server));
    square = wrapper.wrap(key(), [](int x) { return x * x; });
    QVERIFY(square.isValid());
    QCOMPARE(square.key(), key());
    const QFuture<int> later = square(3);
    QTRY_VERIFY(later.isFinished());
    QCOMPARE(later.result(), 9);
}

void tst_Misuse::callWithParent()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    wrapper.wrap(key(), [](int x) { return valueLater(50ms, x); });
    auto owner = std::make_unique<QObject>();
    QPointer<DistributedPromise> promise = wrapper.call(key(), { 7 }, owner.get());
    QCOMPARE(promise->parent(), owner.get());
    QSignalSpy finished(promise.data(), &DistributedPromise::finished);
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(promise->value(), QVariant(7));
    QCOMPARE(promise->parent(), owner.get()); // still the owner's, who deletes it
    owner.reset();
    QVERIFY(promise.isNull());
}

void tst_Misuse::callWithoutParentIsKeptUntilFinished()
{
    // While pending, the wrapper keeps the promise (QML's collector cannot take it); once it
    // has finished it is the caller's alone.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    wrapper.wrap(key(), [](int x) { return valueLater(50ms, x); });
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { 8 }));
    QCOMPARE(promise->parent(), &wrapper);
    QSignalSpy finished(promise.get(), &DistributedPromise::finished);
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(promise->value(), QVariant(8));
    QCOMPARE(promise->parent(), nullptr);
    QCOMPARE(promise->hasError(), false);
    QCOMPARE(promise->errorCode(), int(DistributedPromiseError::NoError));

    // A caller that re-parents it keeps its own parent.
    QObject owner;
    QPointer<DistributedPromise> adopted = wrapper.call(key(QStringLiteral("-adopted")), { 9 });
    adopted->setParent(&owner);
    QSignalSpy adoptedFinished(adopted.data(), &DistributedPromise::finished);
    QTRY_COMPARE(adoptedFinished.count(), 1);
    QCOMPARE(adopted->parent(), &owner);
}

void tst_Misuse::promiseOutlivesItsWrapper()
{
    // The wrapper lets go of pending promises when it is destroyed: the caller still owns them
    // and they finish Cancelled.
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(configFor(m_server));
    wrapper->wrap(key(), [](int x) { return valueLater(5s, x); });
    std::unique_ptr<DistributedPromise> promise(wrapper->call(key(), { 1 }));
    QSignalSpy failed(promise.get(), &DistributedPromise::failed);
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[1]")));
    wrapper.reset();
    QCOMPARE(promise->parent(), nullptr);
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(promise->errorCode(), int(DistributedPromiseError::Cancelled));
    QVERIFY(promise->hasError());
}

void tst_Misuse::connectedChangedOnlyOnChange()
{
    // Nothing listens: every attempt fails, and the connection retries with backoff. The
    // attempts are counted from the library's debug messages.
    static std::atomic<int> attempts { 0 };
    attempts = 0;
    QLoggingCategory::setFilterRules(QStringLiteral("distributedpromise.debug=true"));
    static QtMessageHandler previous = nullptr;
    previous = qInstallMessageHandler(
        [](QtMsgType type, const QMessageLogContext &context, const QString &message) {
            if (message.contains(QLatin1String("could not connect to Redis")))
                ++attempts;
            else if (type != QtDebugMsg)
                previous(type, context, message);
        });
    DistributedPromiseConfig config;
    config.redisUrl = unusedRedisUrl();
    {
        DistributedPromiseWrapper wrapper(config);
        QSignalSpy changed(&wrapper, &DistributedPromiseWrapper::connectedChanged);
        QTRY_VERIFY(attempts >= 3);
        QVERIFY(!wrapper.isConnected());
        QCOMPARE(changed.count(), 0); // never connected: nothing changed
    }
    qInstallMessageHandler(previous);
    QLoggingCategory::setFilterRules(QString());

    DistributedPromiseWrapper wrapper(configFor(m_server));
    QSignalSpy changed(&wrapper, &DistributedPromiseWrapper::connectedChanged);
    QTRY_VERIFY(wrapper.isConnected());
    QTRY_COMPARE(changed.count(), 1);
    QCOMPARE(changed.at(0).at(0).toBool(), true);
}

namespace {
/*! A worker thread, and a wrapper with one slow work made in it. */
struct WrapperInThread
{
    explicit WrapperInThread(const DistributedPromiseConfig &config, const QString &key)
    {
        thread.start();
        context.moveToThread(&thread);
        QMetaObject::invokeMethod(
            &context,
            [&] {
                wrapper = new DistributedPromiseWrapper(config);
                slow = wrapper->wrap(key, [](int x) { return valueLater(10s, x); });
            },
            Qt::BlockingQueuedConnection);
    }
    ~WrapperInThread()
    {
        thread.quit();
        thread.wait();
    }
    QThread thread;
    QObject context;
    DistributedPromiseWrapper *wrapper = nullptr;
    DistributedPromiseFunction<int(int)> slow;
};
} // namespace

void tst_Misuse::destroyedFromAnotherThread()
{
    // Deleted from this thread while its own runs: diagnosed, no crash, the calls finish.
    WrapperInThread worker(configFor(m_server), key());
    const QFuture<int> pending = worker.slow(1);
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[1]")));
    QTest::ignoreMessage(
        QtCriticalMsg, QRegularExpression(QStringLiteral("must be destroyed in its own thread")));
    delete worker.wrapper;
    QTRY_VERIFY(pending.isFinished());
    QCOMPARE(codeOf(pending), QStringLiteral("Cancelled"));
    const QFuture<int> after = worker.slow(2);
    QVERIFY(after.isFinished());
    QCOMPARE(codeOf(after), QStringLiteral("Cancelled"));
}

void tst_Misuse::calledAfterItsThreadFinished()
{
    WrapperInThread worker(configFor(m_server), key());
    worker.thread.quit();
    QVERIFY(worker.thread.wait(10000));
    const QFuture<int> late = worker.slow(1);
    QTRY_VERIFY(late.isFinished());
    QCOMPARE(codeOf(late), QStringLiteral("Cancelled"));
    QVERIFY2(messageOf(late).contains(QLatin1String("thread")), qPrintable(messageOf(late)));
    delete worker.wrapper;
}

void tst_Misuse::moveToThreadIsDiagnosed()
{
    QThread thread; // outlives the wrapper
    DistributedPromiseWrapper wrapper(configFor(m_server));
    QTest::ignoreMessage(QtCriticalMsg, QRegularExpression(QStringLiteral("moveToThread")));
    wrapper.moveToThread(&thread);
}

QTEST_GUILESS_MAIN(tst_Misuse)
#include "tst_misuse.moc"
