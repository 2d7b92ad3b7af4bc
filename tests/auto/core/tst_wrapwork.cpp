// SPDX-License-Identifier: MIT
// Work in all its shapes: synchronous, asynchronous (QFuture), throwing, failing futures, and
// wrapped functions called from other threads.

#include "coretest.h"

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QThread>
#include <QtCore/QThreadPool>

#include <atomic>
#include <stdexcept>
#include <string>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_WrapWork : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void synchronousWork();
    void asynchronousWork();
    void throwingWorkFailsAndCachesNothing();
    void throwingDistributedPromiseError();
    void failingFuture();
    void failingConcurrentRun();
    void thrownTextKeepsItsMessage_data();
    void thrownTextKeepsItsMessage();
    void cancelledWorkFuture();
    void wrongArgumentCountFromCall();
    void calledFromOtherThreads();
    void calledFromQThread();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("wrapwork-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }

    RedisServer m_server;
};

void tst_WrapWork::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
}

void tst_WrapWork::synchronousWork()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto joinStr = wrapper.wrap(key(), [&runs](const QString &a, const QString &b) {
        ++runs;
        return a + b;
    });
    const QFuture<QString> f = joinStr(QStringLiteral("foo"), QStringLiteral("bar"));
    // The work never runs inside the call itself.
    QCOMPARE(runs, 0);
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    QCOMPARE(f.result(), QStringLiteral("foobar"));
    QCOMPARE(runs, 1);
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), dataKey(key(), R"(["foo","bar"])") }),
        QByteArray(R"({"v":1,"ok":true,"value":"foobar"})"));

    // Function pointers and copies of the wrapped function work too.
    auto copy = joinStr;
    const QFuture<QString> again = copy(QStringLiteral("foo"), QStringLiteral("bar"));
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), QStringLiteral("foobar"));
    QCOMPARE(runs, 1);
    QCOMPARE(copy.key(), key());
}

static int square(int x) { return x * x; }

void tst_WrapWork::asynchronousWork()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    std::atomic<int> runs { 0 };
    std::atomic<bool> onPoolThread { false };
    QThread *const mainThread = QThread::currentThread();
    auto slowSum = wrapper.wrap(key(), [&](int a, int b) {
        return QtConcurrent::run([&runs, &onPoolThread, mainThread, a, b] {
            ++runs;
            onPoolThread = QThread::currentThread() != mainThread;
            return a + b;
        });
    });
    QList<QFuture<int>> futures;
    for (int i = 0; i < 5; ++i)
        futures.append(slowSum(20, 22));
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), 42);
    }
    QCOMPARE(runs.load(), 1);
    QVERIFY(onPoolThread.load());

    auto pointer = wrapper.wrap(key(QStringLiteral("-pointer")), &square);
    const QFuture<int> squared = pointer(12);
    QTRY_VERIFY(squared.isFinished());
    QCOMPARE(squared.result(), 144);
}

void tst_WrapWork::throwingWorkFailsAndCachesNothing()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto boom = wrapper.wrap(key(), [&runs](const QString &what) -> int {
        ++runs;
        throw std::runtime_error("boom: " + what.toStdString());
    });
    QList<QFuture<int>> futures { boom(QStringLiteral("x")), boom(QStringLiteral("x")) };
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
        QCOMPARE(messageOf(f), QStringLiteral("boom: x"));
    }
    QCOMPARE(runs, 1);
    QVERIFY(!keyExists(m_server, dataKey(key(), R"(["x"])")));
    QVERIFY(!keyExists(m_server, lockKey(key(), R"(["x"])")));
    QCOMPARE(wrapper.stats().errors, quint64(2));

    // Errors are never cached: the next call runs the work again.
    const QFuture<int> again = boom(QStringLiteral("x"));
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(codeOf(again), QStringLiteral("WorkFailed"));
    QCOMPARE(runs, 2);

    // The error carries the call's identity.
    try {
        QFuture<int>(again).waitForFinished();
        QFAIL("the future did not throw");
    } catch (const DistributedPromiseError &error) {
        QCOMPARE(error.key(), key() + QStringLiteral(R"(:["x"])"));
        QCOMPARE(QByteArray(error.what()), QByteArray("WorkFailed: boom: x"));
    }
}

void tst_WrapWork::throwingDistributedPromiseError()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs]() -> QString {
        ++runs;
        throw DistributedPromiseError(
            DistributedPromiseError::Timeout, QStringLiteral("upstream took too long"));
    });
    const QFuture<QString> f = work();
    QTRY_VERIFY(f.isFinished());
    // Whatever the work throws, callers see WorkFailed with the same message.
    QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
    QCOMPARE(messageOf(f), QStringLiteral("upstream took too long"));
    QCOMPARE(runs, 1);
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
}

void tst_WrapWork::failingFuture()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        if (n == 1)
            return errorLater<QString>(std::chrono::milliseconds(20),
                std::make_exception_ptr(std::runtime_error("late failure")));
        return errorLater<QString>(std::chrono::milliseconds(20),
            std::make_exception_ptr(DistributedPromiseError(
                DistributedPromiseError::RedisError, QStringLiteral("own error type"))));
    });
    const QFuture<QString> first = work(1);
    const QFuture<QString> second = work(2);
    QTRY_VERIFY(first.isFinished() && second.isFinished());
    QCOMPARE(codeOf(first), QStringLiteral("WorkFailed"));
    QCOMPARE(messageOf(first), QStringLiteral("late failure"));
    QCOMPARE(codeOf(second), QStringLiteral("WorkFailed"));
    QCOMPARE(messageOf(second), QStringLiteral("own error type"));
    QCOMPARE(runs, 2);
    QVERIFY(!keyExists(m_server, dataKey(key(), "[1]")));
    QVERIFY(!keyExists(m_server, dataKey(key(), "[2]")));
}

void tst_WrapWork::failingConcurrentRun()
{
    // QtConcurrent::run wraps a std::exception in QUnhandledException; callers still get the
    // work's own message.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    auto work = wrapper.wrap(key(), [] {
        return QtConcurrent::run([]() -> int { throw std::runtime_error("thread failure"); });
    });
    const QFuture<int> f = work();
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
    QCOMPARE(messageOf(f), QStringLiteral("thread failure"));
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
}

void tst_WrapWork::thrownTextKeepsItsMessage_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("message");
    QTest::newRow("std::string") << 0 << QStringLiteral("a std::string");
    QTest::newRow("const char *") << 1 << QStringLiteral("a C string");
    QTest::newRow("QString") << 2 << QStringLiteral("a QString");
    QTest::newRow("std::string from QtConcurrent::run") << 3 << QStringLiteral("from a thread");
}

void tst_WrapWork::thrownTextKeepsItsMessage()
{
    // Not every work throws a std::exception; text thrown as such is still the message.
    QFETCH(int, kind);
    QFETCH(QString, message);
    DistributedPromiseWrapper wrapper(configFor(m_server));
    auto work = wrapper.wrap(key(QString::number(kind)), [kind]() -> QFuture<int> {
        switch (kind) {
        case 0:
            throw std::string("a std::string");
        case 1:
            throw "a C string";
        case 2:
            throw QStringLiteral("a QString");
        default:
            return QtConcurrent::run([]() -> int { throw std::string("from a thread"); });
        }
    });
    const QFuture<int> f = work();
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
    QCOMPARE(messageOf(f), message);
}

void tst_WrapWork::cancelledWorkFuture()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    auto work = wrapper.wrap(key(), [] {
        QFuture<int> f = valueLater(std::chrono::milliseconds(20), 1);
        f.cancel();
        return f;
    });
    const QFuture<int> f = work();
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
    QVERIFY2(messageOf(f).contains(QLatin1String("cancel")), qPrintable(messageOf(f)));
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
}

void tst_WrapWork::wrongArgumentCountFromCall()
{
    // call() passes arguments as a list: a wrong count fails cleanly, the work does not run.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    wrapper.wrap(key(), [&runs](int a, int b) {
        ++runs;
        return a + b;
    });
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), { 1 }));
    const QFuture<QJsonValue> f = promise->future();
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
    QVERIFY2(
        messageOf(f).contains(QLatin1String("expected 2 arguments")), qPrintable(messageOf(f)));
    QCOMPARE(runs, 0);

    std::unique_ptr<DistributedPromise> wrongType(wrapper.call(key(), { QStringLiteral("a"), 2 }));
    QTRY_VERIFY(wrongType->future().isFinished());
    QCOMPARE(codeOf(wrongType->future()), QStringLiteral("InvalidArgument"));
    QCOMPARE(runs, 0);
    // Both failed before any Redis command: no cache look-up, no lock taken for work that
    // could never run.
    const DistributedPromiseStats stats = wrapper.stats();
    QCOMPARE(stats.hits + stats.misses + stats.won + stats.waited, quint64(0));
    QVERIFY(!keyExists(m_server, lockKey(key(), R"(["a",2])")));
    QVERIFY2(
        messageOf(wrongType->future()).contains(key()), qPrintable(messageOf(wrongType->future())));
}

void tst_WrapWork::calledFromOtherThreads()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    std::atomic<int> runs { 0 };
    QThread *const mainThread = QThread::currentThread();
    std::atomic<bool> workOnMainThread { true };
    auto work = wrapper.wrap(key(), [&](const QString &s) {
        ++runs;
        if (QThread::currentThread() != mainThread)
            workOnMainThread = false;
        return s.toUpper();
    });
    QThreadPool pool;
    pool.setMaxThreadCount(4);
    // Each task calls the (copied) wrapped function and blocks its own thread on the result;
    // the wrapper's thread (this one) keeps its event loop running meanwhile.
    QList<QFuture<QString>> results;
    for (int i = 0; i < 16; ++i) {
        results.append(QtConcurrent::run(&pool, [work, i] {
            QFuture<QString> f = work(QStringLiteral("value-%1").arg(i % 2));
            f.waitForFinished();
            return f.result();
        }));
    }
    for (int i = 0; i < results.size(); ++i) {
        QTRY_VERIFY(results.at(i).isFinished());
        QCOMPARE(codeOf(results.at(i)), QStringLiteral("ok"));
        QCOMPARE(results.at(i).result(), QStringLiteral("VALUE-%1").arg(i % 2));
    }
    QVERIFY(runs.load() >= 2);
    QVERIFY(workOnMainThread.load());
    QCOMPARE(wrapper.stats().calls, quint64(16));
    // Only two identities: every call was a coalesced join, a cache hit or one of two runs.
    QCOMPARE(runs.load(), 2);
}

void tst_WrapWork::calledFromQThread()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return valueLater(std::chrono::milliseconds(50), n * 2);
    });
    QFuture<int> fromThread;
    std::unique_ptr<QThread> thread(QThread::create([&] { fromThread = work(21); }));
    thread->start();
    QVERIFY(thread->wait(5000));
    QTRY_VERIFY(fromThread.isFinished());
    QCOMPARE(codeOf(fromThread), QStringLiteral("ok"));
    QCOMPARE(fromThread.result(), 42);
    QCOMPARE(runs, 1);

    // A continuation attached in the other thread with that thread's context runs there.
    std::unique_ptr<QThread> worker = std::make_unique<QThread>();
    QObject context;
    context.moveToThread(worker.get());
    worker->start();
    std::atomic<bool> ranOnWorker { false };
    QFuture<void> chained;
    QMetaObject::invokeMethod(
        &context,
        [&] {
            chained = work(5).then(&context, [&](int value) {
                ranOnWorker = QThread::currentThread() == worker.get() && value == 10;
            });
        },
        Qt::BlockingQueuedConnection);
    QTRY_VERIFY(chained.isFinished());
    QVERIFY(ranOnWorker.load());
    worker->quit();
    QVERIFY(worker->wait(5000));
}

QTEST_GUILESS_MAIN(tst_WrapWork)
#include "tst_wrapwork.moc"
