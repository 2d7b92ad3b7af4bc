// SPDX-License-Identifier: MIT
// Redis goes away while processes wait on a holder: restarted, the waiters subscribe again,
// re-check and finish without redoing the work needlessly; killed for good, every future still
// finishes in bounded time (ConnectionFailed with Fail, a value with RunLocally).

#include "faultstest.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QtTest>

using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisServer;

namespace {
const QByteArray argsJson = R"(["x"])";

QString channelKey(const QString &prefix)
{
    return prefix + QLatin1String(":notif:{slow:") + QString::fromUtf8(argsJson) + QLatin1Char('}');
}

/*! How many clients are subscribed to \a channel (PUBSUB NUMSUB), or -1. */
int subscribers(const RedisServer &server, const QString &channel)
{
    const QByteArrayList reply
        = server.cli({ QStringLiteral("PUBSUB"), QStringLiteral("NUMSUB"), channel }).split('\n');
    return reply.size() == 2 ? reply.at(1).trimmed().toInt() : -1;
}
} // namespace

class tst_RedisRestart : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void restartWhileProcessesWait();
    void killedForGood_data();
    void killedForGood();
};

void tst_RedisRestart::restartWhileProcessesWait()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QString prefix = QStringLiteral("restart");
    Workers workers(server.url(), prefix);
    // A long lease: nobody may take over because a lease ran out, only because of the restart.
    constexpr int lockMs = 8000;
    const QStringList common { QStringLiteral("--lock-ms"), QString::number(lockMs),
        QStringLiteral("--no-go") };
    const int holder = workers.start(common
        + QStringList { QStringLiteral("--calls"), QStringLiteral("3"), QStringLiteral("--work-ms"),
            QStringLiteral("1500") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    const QList<int> waiters {
        workers.start(common
            + QStringList { QStringLiteral("--calls"), QStringLiteral("4"),
                QStringLiteral("--work-ms"), QStringLiteral("200") }),
        workers.start(common
            + QStringList { QStringLiteral("--calls"), QStringLiteral("4"),
                QStringLiteral("--work-ms"), QStringLiteral("200") }),
    };
    QTRY_COMPARE_WITH_TIMEOUT(subscribers(server, channelKey(prefix)), 2, 10000);

    server.stop();
    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QElapsedTimer clock;
    clock.start();
    QTRY_VERIFY_WITH_TIMEOUT(
        workers.allPrinted({ holder, waiters.at(0), waiters.at(1) }, "RESULT"), 15000);
    // The waiters did not sit out the 8 s lease: they looked again as soon as they had
    // reconnected and subscribed again.
    const qint64 elapsed = clock.elapsed();
    QVERIFY2(elapsed < lockMs - 2000, QByteArray::number(elapsed));

    int executions = 0;
    int waiterExecutions = 0;
    for (int i : { holder, waiters.at(0), waiters.at(1) }) {
        const QJsonObject result = workers.result(i);
        QVERIFY2(errorCodesOf(result).isEmpty(), workers.output(i).constData());
        const QStringList values = valuesOf(result);
        QCOMPARE(values.size(), i == holder ? 3 : 4);
        for (const QString &value : values)
            QCOMPARE(value, QStringLiteral("value-of-x"));
        executions += intOf(result, "executions");
        QVERIFY2(intOf(result, "reconnects") >= 1, workers.output(i).constData());
        if (i != holder)
            waiterExecutions += intOf(result, "executions");
    }
    // Two executions are legitimate here, never more: the restarted server has no persistence,
    // so the holder's lock went with the restart. The holder cannot publish any more (its finish
    // script finds no lock of its own: a lost lease, so its callers get its value locally), and
    // the waiters, re-checking after they subscribed again, find neither value nor lock: one of
    // them runs the work once more for both. Had the holder finished and cached before the
    // restart, the cache would be gone just the same.
    QVERIFY2(executions <= 2, QByteArray::number(executions));
    QVERIFY2(waiterExecutions <= 1, QByteArray::number(waiterExecutions));
    QCOMPARE(intOf(workers.result(holder), "executions"), 1);
}

void tst_RedisRestart::killedForGood_data()
{
    QTest::addColumn<QString>("mode");
    QTest::newRow("Fail") << QStringLiteral("fail");
    QTest::newRow("RunLocally") << QStringLiteral("local");
}

void tst_RedisRestart::killedForGood()
{
    QFETCH(QString, mode);
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QString prefix = QStringLiteral("killed");
    Workers workers(server.url(), prefix);
    constexpr int lockMs = 1000;
    const QStringList common { QStringLiteral("--lock-ms"), QString::number(lockMs),
        QStringLiteral("--unavailable"), mode, QStringLiteral("--no-go") };
    const int holder = workers.start(common
        + QStringList { QStringLiteral("--calls"), QStringLiteral("2"), QStringLiteral("--work-ms"),
            QStringLiteral("800") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(holder, "WORKING"), 10000);
    const QList<int> waiters {
        workers.start(common
            + QStringList { QStringLiteral("--calls"), QStringLiteral("3"),
                QStringLiteral("--work-ms"), QStringLiteral("100") }),
        workers.start(common
            + QStringList { QStringLiteral("--calls"), QStringLiteral("3"),
                QStringLiteral("--work-ms"), QStringLiteral("100") }),
    };
    QTRY_COMPARE_WITH_TIMEOUT(subscribers(server, channelKey(prefix)), 2, 10000);

    server.kill();
    QElapsedTimer clock;
    clock.start();
    // A waiter notices at the latest when the lease it waits on runs out (it looks again then
    // and cannot reach Redis); the holder's own work goes on.
    QTRY_VERIFY_WITH_TIMEOUT(
        workers.allPrinted({ holder, waiters.at(0), waiters.at(1) }, "RESULT"), 10000);
    const qint64 elapsed = clock.elapsed();
    QVERIFY2(elapsed < lockMs + 2000, QByteArray::number(elapsed));

    // The holder had its work running: its callers get that value in both modes (it could not
    // publish it; nobody was left to hear it anyway).
    const QJsonObject held = workers.result(holder);
    QCOMPARE(intOf(held, "executions"), 1);
    QCOMPARE(valuesOf(held), QStringList(2, QStringLiteral("value-of-x")));
    for (int i : waiters) {
        const QJsonObject result = workers.result(i);
        if (mode == QLatin1String("fail")) {
            QCOMPARE(intOf(result, "executions"), 0);
            QCOMPARE(valuesOf(result), QStringList());
            QCOMPARE(errorCodesOf(result), QStringList(3, QStringLiteral("ConnectionFailed")));
        } else {
            // Each process computes it for its own callers, once.
            QCOMPARE(intOf(result, "executions"), 1);
            QCOMPARE(intOf(result, "localRuns"), 1);
            QCOMPARE(errorCodesOf(result), QStringList());
            QCOMPARE(valuesOf(result), QStringList(3, QStringLiteral("value-of-x")));
        }
    }
}

QTEST_GUILESS_MAIN(tst_RedisRestart)
#include "tst_redisrestart.moc"
