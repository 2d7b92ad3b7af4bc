// SPDX-License-Identifier: MIT
// Work nobody waits for, work that never ends, and work that waits for itself: a call whose
// callers all left takes no lock and runs nothing; work past maxWorkTime fails its callers in
// every process and gives its lock up; a call made from inside its own work chain fails at once
// instead of deadlocking.

#include "coretest.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QTest>

#include <chrono>

using namespace std::chrono_literals;
using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_AbandonedWork : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void cancelledBeforeTheLockRunsNothing();
    void cancelledWhileTakingTheLockGivesItBack();
    void workPastMaxWorkTimeFailsEveryCaller();
    void everyWorkGetsItsWholeMaxWorkTime();
    void callFromInsideItsOwnWorkFails();
    void cycleThroughAnotherWorkFails();
    void timeoutSaysWhatHappensToTheWork();

private:
    QString key(const char *name = "") const
    {
        return QString::fromLatin1(QTest::currentTestFunction()) + QLatin1String(name);
    }
    RedisServer m_server;
};

void tst_AbandonedWork::cancelledBeforeTheLockRunsNothing()
{
    // A superseded call (DistributedCall's args changed, a view closed): cancelled while its
    // cache check is on its way, it never takes the lock nor runs the work.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    QList<int> ran;
    auto work = wrapper.wrap(key(), [&ran](int n) {
        ran.append(n);
        return n;
    });
    QFuture<int> superseded = work(1);
    superseded.cancel();
    // Commands go out in order on one connection: once the next call is done, the first one's
    // cache reply has been handled too.
    const QFuture<int> current = work(2);
    QTRY_VERIFY(current.isFinished());
    QCOMPARE(current.result(), 2);
    QCOMPARE(ran, QList<int> { 2 });
    QCOMPARE(wrapper.stats().won, quint64(1));
    QVERIFY(!keyExists(m_server, lockKey(key(), "[1]")));
    QTRY_VERIFY(superseded.isFinished());
}

void tst_AbandonedWork::cancelledWhileTakingTheLockGivesItBack()
{
    // With ttl 0 the lock attempt goes out at once. The caller leaves before it is answered: the
    // won lock goes back at once (another process's caller need not wait a lease) and nothing
    // runs.
    DistributedPromiseConfig config = configFor(m_server);
    config.ttl = 0ms;
    DistributedPromiseWrapper wrapper(config);
    DistributedPromiseWrapper other(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs] { return ++runs; });
    auto barrier = wrapper.wrap(key("-barrier"), [] { return 0; });
    auto same = other.wrap(key(), [&runs] { return 100 + ++runs; });
    QFuture<int> superseded = work();
    superseded.cancel();
    // The next lock attempt on the same connection is answered after the first one, and its
    // work is queued after a work the first one would have started.
    const QFuture<int> after = barrier();
    QTRY_VERIFY(after.isFinished());
    QCOMPARE(codeOf(after), QStringLiteral("ok"));
    QCOMPARE(runs, 0);
    QVERIFY(!keyExists(m_server, lockKey(key(), "[]")));
    // Another process is not held up by a lock nobody works under.
    const QFuture<int> elsewhere = same();
    QTRY_VERIFY_WITH_TIMEOUT(elsewhere.isFinished(), 1000);
    QCOMPARE(elsewhere.result(), 101);
    QTRY_VERIFY(superseded.isFinished());
}

void tst_AbandonedWork::workPastMaxWorkTimeFailsEveryCaller()
{
    // Work whose future never finishes: without a bound its lease would be renewed for as long
    // as the process lives, and every caller everywhere would wait forever.
    DistributedPromiseConfig config = configFor(m_server);
    config.maxWorkTime = 300ms;
    config.lockTimeout = 5s;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    int runs = 0;
    std::vector<std::shared_ptr<QPromise<int>>> endless;
    auto stuck = holder.wrap(key(), [&] {
        ++runs;
        endless.push_back(std::make_shared<QPromise<int>>());
        endless.back()->start();
        return endless.back()->future();
    });
    auto same = waiter.wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> held = stuck();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<int> waited = same();
    QTRY_VERIFY_WITH_TIMEOUT(held.isFinished() && waited.isFinished(), 3000);
    QCOMPARE(codeOf(held), QStringLiteral("Timeout"));
    QCOMPARE(codeOf(waited), QStringLiteral("Timeout"));
    QVERIFY2(messageOf(waited).contains(QLatin1String("maxWorkTime")), qPrintable(messageOf(held)));
    QCOMPARE(runs, 1);
    QVERIFY(!keyExists(m_server, lockKey(key(), "[]")));
    // A result that still comes is dropped; the next call runs the work again.
    endless.front()->addResult(7);
    endless.front()->finish();
    const QFuture<int> again = same();
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), 2);
}

void tst_AbandonedWork::everyWorkGetsItsWholeMaxWorkTime()
{
    // One timer serves every work of a process: a work started later still gets its whole
    // maxWorkTime, an earlier one is not kept past its own, and one that ends in time changes
    // neither.
    constexpr auto limit = 800ms;
    DistributedPromiseConfig config = configFor(m_server);
    config.maxWorkTime = limit;
    DistributedPromiseWrapper wrapper(config);
    std::vector<std::shared_ptr<QPromise<int>>> open;
    auto stuck = wrapper.wrap(key(), [&open](int) {
        open.push_back(std::make_shared<QPromise<int>>());
        open.back()->start();
        return open.back()->future();
    });
    const QFuture<int> inTime = stuck(1);
    const QFuture<int> first = stuck(2);
    QTRY_COMPARE(open.size(), size_t(2));
    QTest::qWait(500);
    const QFuture<int> second = stuck(3);
    QTRY_COMPARE(open.size(), size_t(3));
    QElapsedTimer sinceSecond;
    sinceSecond.start();
    open.front()->addResult(1);
    open.front()->finish();
    QTRY_VERIFY(inTime.isFinished());
    QCOMPARE(inTime.result(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(first.isFinished(), 5000);
    QCOMPARE(codeOf(first), QStringLiteral("Timeout"));
    QVERIFY(!second.isFinished());
    QTRY_VERIFY_WITH_TIMEOUT(second.isFinished(), 5000);
    QCOMPARE(codeOf(second), QStringLiteral("Timeout"));
    // Started at most one QTRY poll before sinceSecond.
    QVERIFY2(sinceSecond.elapsed() >= (limit - 100ms).count(),
        qPrintable(QString::number(sinceSecond.elapsed())));
}

void tst_AbandonedWork::callFromInsideItsOwnWorkFails()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    DistributedPromiseFunction<int(int)> *self = nullptr;
    auto recursive = wrapper.wrap(key(), [&self](int n) { return (*self)(n); });
    self = &recursive;
    const QFuture<int> f = recursive(1);
    QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 2000);
    QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
    QVERIFY2(
        messageOf(f).contains(QLatin1String("from inside its own work")), qPrintable(messageOf(f)));
    QVERIFY(!keyExists(m_server, lockKey(key(), "[1]")));
}

void tst_AbandonedWork::cycleThroughAnotherWorkFails()
{
    // A(1) returns B(1), which returns A(1): both would hold their locks, renewed, forever.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    DistributedPromiseFunction<int(int)> *b = nullptr;
    auto a = wrapper.wrap(key("-a"), [&b](int n) { return (*b)(n); });
    auto bWork = wrapper.wrap(key("-b"), [&a](int n) { return a(n); });
    b = &bWork;
    const QFuture<int> f = a(1);
    QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 2000);
    QCOMPARE(codeOf(f), QStringLiteral("WorkFailed"));
    const QString message = messageOf(f);
    QVERIFY2(message.contains(key("-a") + QStringLiteral(":[1] -> ") + key("-b")
                 + QStringLiteral(":[1] -> ") + key("-a")),
        qPrintable(message));
    // Called on its own, B(2) is no cycle.
    DistributedPromiseWrapper plain(configFor(m_server));
    auto c = plain.wrap(key("-c"), [](int n) { return n * 3; });
    const QFuture<int> fine = c(2);
    QTRY_VERIFY(fine.isFinished());
    QCOMPARE(fine.result(), 6);
    QVERIFY(!keyExists(m_server, lockKey(key("-a"), "[1]")));
    QVERIFY(!keyExists(m_server, lockKey(key("-b"), "[1]")));
}

void tst_AbandonedWork::timeoutSaysWhatHappensToTheWork()
{
    // A caller that gives up is told the truth about the work: it goes on here, or in another
    // process, and the message never claims it goes on where nobody runs it.
    DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    auto slow = holder.wrap(
        DistributedPromiseWrapOptions { key(), 100ms }, [] { return valueLater(600ms, 1); });
    auto same = waiter.wrap(DistributedPromiseWrapOptions { key(), 100ms }, [] { return 2; });
    const QFuture<int> here = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<int> elsewhere = same();
    QTRY_VERIFY(here.isFinished() && elsewhere.isFinished());
    QCOMPARE(codeOf(here), QStringLiteral("Timeout"));
    QCOMPARE(codeOf(elsewhere), QStringLiteral("Timeout"));
    QVERIFY2(messageOf(here).contains(QLatin1String("the work goes on in this process")),
        qPrintable(messageOf(here)));
    QVERIFY2(messageOf(elsewhere).contains(QLatin1String("another process is still working")),
        qPrintable(messageOf(elsewhere)));
    // The holder's work was paid for: it finishes and is cached for the next caller.
    QTRY_VERIFY_WITH_TIMEOUT(keyExists(m_server, dataKey(key(), "[]")), 3000);
    QVERIFY(!keyExists(m_server, lockKey(key(), "[]")));
}

QTEST_GUILESS_MAIN(tst_AbandonedWork)
#include "tst_abandonedwork.moc"
