// SPDX-License-Identifier: MIT
// Redis is not there when the wrapper starts. RunLocally: calls work locally with one warning per
// outage, and once a server appears on the port the wrapper connects by itself and calls go
// through Redis again. Fail: calls fail fast with ConnectionFailed.

#include "faultstest.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QLoggingCategory>
#include <QtCore/QScopeGuard>
#include <QtTest/QSignalSpy>
#include <QtTest/QtTest>

using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisServer;
using namespace std::chrono_literals;

namespace {
const QString unavailableWarning = QStringLiteral("Redis is unavailable");
}

class tst_Unreachable : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void runLocallyThenReconnect();
    void failModeFailsFast();
};

void tst_Unreachable::runLocallyThenReconnect()
{
    // A port of our own that nothing listens on yet: the server's first start picks it.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QUrl url = server.url();
    server.stop();

    LogCapture log;
    DistributedPromiseConfig config;
    config.redisUrl = url;
    config.whenRedisUnavailable = DistributedPromiseConfig::RunLocally;
    DistributedPromiseWrapper wrapper(config);
    QSignalSpy connectedChanged(&wrapper, &DistributedPromiseWrapper::connectedChanged);
    int runs = 0;
    auto work = wrapper.wrap(QStringLiteral("unreachable"), [&runs](int n) {
        ++runs;
        return valueLater(20ms, n * 10);
    });
    const auto callAndWait = [&](int n) {
        const QFuture<int> f = work(n);
        if (!QTest::qWaitFor([&] { return f.isFinished(); }, 5000))
            return QStringLiteral("unfinished");
        const QString code = codeOf(f);
        return code == QLatin1String("ok") ? QString::number(f.result()) : code;
    };

    // Many calls, one after the other and at once, on several identities: all computed here,
    // and one warning for the whole outage.
    for (int i = 0; i < 10; ++i)
        QCOMPARE(callAndWait(i % 5), QString::number((i % 5) * 10));
    QList<QFuture<int>> together;
    for (int i = 0; i < 20; ++i)
        together.append(work(i % 4));
    for (const QFuture<int> &f : std::as_const(together)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
    }
    QCOMPARE(wrapper.stats().localRuns, quint64(14));
    QCOMPARE(runs, 14);
    QCOMPARE(wrapper.stats().won, quint64(0));
    QVERIFY(!wrapper.isConnected());
    QVERIFY2(log.count(unavailableWarning) == 1, qPrintable(log.dump()));

    // The server appears on that port: the wrapper connects by itself.
    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QCOMPARE(server.url(), url);
    QTRY_VERIFY_WITH_TIMEOUT(wrapper.isConnected(), 10000);
    QVERIFY(!connectedChanged.isEmpty());
    QCOMPARE(connectedChanged.last().at(0).toBool(), true);
    QCOMPARE(log.count(QStringLiteral("is back")), 1);

    // Calls go through Redis again: the first runs and caches, the next is a hit.
    const DistributedPromiseStats before = wrapper.stats();
    QCOMPARE(callAndWait(7), QStringLiteral("70"));
    QVERIFY(keyExists(server, dataKey(QStringLiteral("unreachable"), "[7]")));
    QCOMPARE(callAndWait(7), QStringLiteral("70"));
    const DistributedPromiseStats after = wrapper.stats();
    QCOMPARE(after.won, before.won + 1);
    QCOMPARE(after.hits, before.hits + 1);
    QCOMPARE(after.localRuns, before.localRuns);
    QCOMPARE(runs, 15);

    // A second outage gets its own single warning.
    server.stop();
    QTRY_VERIFY(!wrapper.isConnected());
    for (int i = 0; i < 5; ++i)
        QCOMPARE(callAndWait(100 + i), QString::number((100 + i) * 10));
    QCOMPARE(wrapper.stats().localRuns, after.localRuns + 5);
    QVERIFY2(log.count(unavailableWarning) == 2, qPrintable(log.dump()));
}

void tst_Unreachable::failModeFailsFast()
{
    DistributedPromiseConfig config;
    config.redisUrl = unusedRedisUrl();
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    // The connection attempts are counted from the library's debug messages.
    QLoggingCategory::setFilterRules(QStringLiteral("distributedpromise.debug=true"));
    auto restoreRules = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
    LogCapture log;
    const auto attempts
        = [&log] { return log.count(QStringLiteral("could not connect to Redis")); };
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(QStringLiteral("unreachable-fail"), [&runs](int n) {
        ++runs;
        return n;
    });
    QSignalSpy connectedChanged(&wrapper, &DistributedPromiseWrapper::connectedChanged);
    // Right after construction (still connecting), then after each failed reconnect attempt.
    for (int round = 0; round < 5; ++round) {
        QElapsedTimer clock;
        clock.start();
        const QFuture<int> f = work(round);
        QVERIFY(QTest::qWaitFor([&] { return f.isFinished(); }, 3000));
        const qint64 elapsed = clock.elapsed();
        QVERIFY2(elapsed < 1000, QByteArray::number(elapsed));
        QCOMPARE(codeOf(f), QStringLiteral("ConnectionFailed"));
        QVERIFY2(messageOf(f).contains(config.redisUrl.host()), qPrintable(messageOf(f)));
        QTRY_VERIFY_WITH_TIMEOUT(attempts() > round, 5000);
    }
    // Never connected: connectedChanged is emitted on a change only, not per failed attempt.
    QCOMPARE(connectedChanged.count(), 0);
    QCOMPARE(runs, 0);
    QCOMPARE(wrapper.stats().errors, quint64(5));
    QCOMPARE(wrapper.stats().localRuns, quint64(0));
}

QTEST_GUILESS_MAIN(tst_Unreachable)
#include "tst_unreachable.moc"
