// SPDX-License-Identifier: MIT
// When Redis cannot be reached: RunLocally keeps in-process coalescing, Fail fails fast; and
// wrappers going away never leave a future unfinished.

#include "coretest.h"

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;
using namespace std::chrono_literals;

class tst_Unavailable : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void runLocallyStillCoalesces();
    void failModeFailsFast();
    void serverGoesAwayAndComesBack();
    void destroyingWrapperCancelsLocalWork();
    void destroyingWrapperCancelsWaiters();
    void destroyingWrapperCancelsQueuedCallsFromOtherThreads();
    void callAfterWrapperDestroyed();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("unavailable-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }
    DistributedPromiseConfig unreachable(DistributedPromiseConfig::WhenRedisUnavailable when) const
    {
        DistributedPromiseConfig config;
        config.redisUrl = unusedRedisUrl();
        config.whenRedisUnavailable = when;
        return config;
    }

    RedisServer m_server;
};

void tst_Unavailable::initTestCase()
{
    // The reachable server, for the tests that need one; the others point at an unused port.
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
}

void tst_Unavailable::runLocallyStillCoalesces()
{
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("Redis is unavailable, running work")));
    DistributedPromiseWrapper wrapper(unreachable(DistributedPromiseConfig::RunLocally));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return valueLater(200ms, n * 2);
    });
    QList<QFuture<int>> futures;
    for (int i = 0; i < 20; ++i)
        futures.append(work(21));
    // Joining while the local run is under way.
    QTRY_COMPARE(runs, 1);
    for (int i = 0; i < 5; ++i)
        futures.append(work(21));
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), 42);
    }
    QCOMPARE(runs, 1);
    const DistributedPromiseStats stats = wrapper.stats();
    QCOMPARE(stats.localRuns, quint64(1));
    QCOMPARE(stats.coalesced, quint64(24));
    QCOMPARE(stats.errors, quint64(0));
    QVERIFY(!wrapper.isConnected());

    // Errors of local work reach the callers as they would through Redis.
    auto failing = wrapper.wrap(key(QStringLiteral("-failing")),
        []() -> int { throw std::runtime_error("local failure"); });
    const QFuture<int> failed = failing();
    QTRY_VERIFY(failed.isFinished());
    QCOMPARE(codeOf(failed), QStringLiteral("WorkFailed"));
    QCOMPARE(messageOf(failed), QStringLiteral("local failure"));
}

void tst_Unavailable::failModeFailsFast()
{
    DistributedPromiseWrapper wrapper(unreachable(DistributedPromiseConfig::Fail));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs] { return ++runs; });
    QElapsedTimer clock;
    clock.start();
    QList<QFuture<int>> futures { work(), work(), work() };
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 3000);
        QCOMPARE(codeOf(f), QStringLiteral("ConnectionFailed"));
        QVERIFY2(!messageOf(f).isEmpty(), "no message");
    }
    QVERIFY2(clock.elapsed() < 3000, QByteArray::number(clock.elapsed()));
    // Later calls (the connection is known to be down by now) fail too.
    const QFuture<int> later = work();
    QTRY_VERIFY_WITH_TIMEOUT(later.isFinished(), 3000);
    QCOMPARE(codeOf(later), QStringLiteral("ConnectionFailed"));
    QCOMPARE(runs, 0);
    QCOMPARE(wrapper.stats().errors, quint64(4));
}

void tst_Unavailable::serverGoesAwayAndComesBack()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    DistributedPromiseWrapper wrapper(configFor(server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return n + runs * 1000;
    });
    QSignalSpy connectedChanged(&wrapper, &DistributedPromiseWrapper::connectedChanged);
    QTRY_VERIFY(wrapper.isConnected());
    QTRY_COMPARE(connectedChanged.count(), 1);
    QCOMPARE(connectedChanged.at(0).at(0).toBool(), true);
    const QFuture<int> first = work(1);
    QTRY_VERIFY(first.isFinished());
    QCOMPARE(first.result(), 1001);

    server.stop();
    QTRY_VERIFY(!wrapper.isConnected());
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("Redis is unavailable, running work")));
    const QFuture<int> local = work(1);
    QTRY_VERIFY(local.isFinished());
    QCOMPARE(codeOf(local), QStringLiteral("ok"));
    QCOMPARE(local.result(), 2001);
    QCOMPARE(wrapper.stats().localRuns, quint64(1));

    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(wrapper.isConnected(), 5000);
    QCOMPARE(wrapper.stats().reconnects, quint64(1));
    QVERIFY(connectedChanged.count() >= 3);
    QCOMPARE(connectedChanged.at(1).at(0).toBool(), false);
    QCOMPARE(connectedChanged.last().at(0).toBool(), true);
    // Through Redis again (the restarted server is empty): run, cache, hit.
    const QFuture<int> again = work(1);
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), 3001);
    QVERIFY(keyExists(server, dataKey(key(), "[1]")));
    const QFuture<int> hit = work(1);
    QTRY_VERIFY(hit.isFinished());
    QCOMPARE(hit.result(), 3001);
    QCOMPARE(runs, 3);
}

void tst_Unavailable::destroyingWrapperCancelsLocalWork()
{
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("Redis is unavailable, running work")));
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(
        unreachable(DistributedPromiseConfig::RunLocally));
    int runs = 0;
    auto work = wrapper->wrap(key(), [&runs] {
        ++runs;
        return valueLater(10s, 1);
    });
    QList<QFuture<int>> futures { work(), work(), work() };
    QTRY_COMPARE(runs, 1);
    wrapper.reset();
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("Cancelled"));
    }
}

void tst_Unavailable::destroyingWrapperCancelsWaiters()
{
    // Waiting on a lock held elsewhere, and checking the cache: every stage finishes Cancelled.
    const DistributedPromiseConfig config = configFor(m_server);
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), lockKey(key(), "[]"), QStringLiteral("other"),
                 QStringLiteral("PX"), QStringLiteral("10000") }),
        QByteArray("OK"));
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(config);
    int runs = 0;
    auto work = wrapper->wrap(key(), [&runs] { return ++runs; });
    QList<QFuture<int>> waiting { work(), work() };
    QTRY_VERIFY(!m_server
                     .cli({ QStringLiteral("PUBSUB"), QStringLiteral("CHANNELS"),
                         QStringLiteral("*") + key() + QLatin1Char('*') })
                     .isEmpty());
    auto other = wrapper->wrap(key(QStringLiteral("-fresh")), [&runs] { return ++runs; });
    const QFuture<int> checking = other(); // not even sent yet
    wrapper.reset();
    for (const QFuture<int> &f : std::as_const(waiting)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("Cancelled"));
        QVERIFY2(messageOf(f).contains(QLatin1String("destroyed")), qPrintable(messageOf(f)));
    }
    QTRY_VERIFY(checking.isFinished());
    QCOMPARE(codeOf(checking), QStringLiteral("Cancelled"));
    QCOMPARE(runs, 0);
}

void tst_Unavailable::destroyingWrapperCancelsQueuedCallsFromOtherThreads()
{
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(configFor(m_server));
    int runs = 0;
    auto work = wrapper->wrap(key(), [&runs](int n) {
        ++runs;
        return n;
    });
    // Calls from another thread are queued to the wrapper's thread; this thread does not run
    // its event loop before the wrapper goes away, so none of them has started.
    QList<QFuture<int>> futures;
    std::unique_ptr<QThread> thread(QThread::create([&] {
        for (int i = 0; i < 50; ++i)
            futures.append(work(i));
    }));
    thread->start();
    QVERIFY(thread->wait(5000));
    wrapper.reset();
    QCOMPARE(futures.size(), 50);
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("Cancelled"));
    }
    QCOMPARE(runs, 0);
}

void tst_Unavailable::callAfterWrapperDestroyed()
{
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(configFor(m_server));
    int runs = 0;
    auto work = wrapper->wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> before = work();
    QTRY_VERIFY(before.isFinished());
    QCOMPARE(before.result(), 1);
    wrapper.reset();

    const QFuture<int> after = work();
    QTRY_VERIFY(after.isFinished());
    QCOMPARE(codeOf(after), QStringLiteral("Cancelled"));
    QVERIFY2(messageOf(after).contains(key()), qPrintable(messageOf(after)));
    // From another thread too.
    const QFuture<QFuture<int>> fromThread = QtConcurrent::run([work] { return work(); });
    QTRY_VERIFY(fromThread.isFinished());
    const QFuture<int> inner = fromThread.result();
    QTRY_VERIFY(inner.isFinished());
    QCOMPARE(codeOf(inner), QStringLiteral("Cancelled"));
    QCOMPARE(runs, 1);
}

QTEST_GUILESS_MAIN(tst_Unavailable)
#include "tst_unavailable.moc"
