// SPDX-License-Identifier: MIT
// Several real processes (dpworker, started with QProcess) share one piece of work through a
// private redis-server.

#include "dpworkers.h"
#include "redisserver.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtTest/QtTest>

#include <algorithm>
#include <memory>
#include <vector>

using DistributedPromiseTest::RedisServer;

using DpWorkerTest::Workers;

class tst_MultiProcess : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void stampedeRunsOnce()
    {
        Workers workers(m_server.url(), QStringLiteral("mp-once"));
        for (int i = 0; i < 4; ++i)
            workers.start({ QStringLiteral("--calls"), QStringLiteral("50"),
                QStringLiteral("--work-ms"), QStringLiteral("200") });
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("READY"), 20000);
        workers.goAll();
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), 20000);
        int executions = 0;
        QSet<QString> values;
        for (int i = 0; i < workers.count(); ++i) {
            const QJsonObject result = workers.result(i);
            executions += result.value(QLatin1String("executions")).toInt();
            QCOMPARE(result.value(QLatin1String("errors")).toArray().size(), 0);
            const QJsonArray array = result.value(QLatin1String("values")).toArray();
            QCOMPARE(array.size(), 50);
            for (const QJsonValue &v : array)
                values.insert(v.toString());
        }
        QCOMPARE(executions, 1);
        QCOMPARE(values, QSet<QString> { QStringLiteral("value-of-x") });
    }

    void errorReachesEveryProcess()
    {
        Workers workers(m_server.url(), QStringLiteral("mp-error"));
        for (int i = 0; i < 3; ++i)
            workers.start({ QStringLiteral("--calls"), QStringLiteral("5"),
                QStringLiteral("--fail"), QStringLiteral("the report broke") });
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("READY"), 20000);
        workers.goAll();
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), 20000);
        int executions = 0;
        for (int i = 0; i < workers.count(); ++i) {
            const QJsonObject result = workers.result(i);
            executions += result.value(QLatin1String("executions")).toInt();
            const QJsonArray errors = result.value(QLatin1String("errors")).toArray();
            QCOMPARE(errors.size(), 5);
            for (const QJsonValue &error : errors) {
                QCOMPARE(error[QLatin1String("code")].toString(), QStringLiteral("WorkFailed"));
                QCOMPARE(
                    error[QLatin1String("message")].toString(), QStringLiteral("the report broke"));
            }
        }
        QCOMPARE(executions, 1);
        // Errors are never cached.
        QCOMPARE(
            m_server.cli({ QStringLiteral("EXISTS"), QStringLiteral("mp-error:{slow:[\"x\"]}") }),
            QByteArray("0"));
    }

    void killedHolderIsReplacedOnce()
    {
        Workers workers(m_server.url(), QStringLiteral("mp-kill"));
        const QStringList args { QStringLiteral("--calls"), QStringLiteral("20"),
            QStringLiteral("--work-ms"), QStringLiteral("1500"), QStringLiteral("--lock-ms"),
            QStringLiteral("600") };
        for (int i = 0; i < 4; ++i)
            workers.start(args);
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("READY"), 20000);
        workers.goAll();
        int holder = -1;
        QTRY_VERIFY_WITH_TIMEOUT((holder = workers.firstPrinted("WORKING")) >= 0, 10000);
        QElapsedTimer clock;
        clock.start();
        workers.process(holder)->kill(); // SIGKILL on Unix
        QVERIFY(workers.process(holder)->waitForFinished(5000));
        // Every survivor finishes within lockTimeout + work + margin.
        const auto survivorsDone = [&] {
            for (int i = 0; i < workers.count(); ++i)
                if (i != holder && !workers.hasResult(i))
                    return false;
            return true;
        };
        QTRY_VERIFY_WITH_TIMEOUT(survivorsDone(), 15000);
        qInfo("all survivors finished %lld ms after the kill (lock 600 ms, work 1500 ms)",
            qint64(clock.elapsed()));
        int executions = 0;
        int takeovers = 0;
        for (int i = 0; i < workers.count(); ++i) {
            if (i == holder)
                continue;
            const QJsonObject result = workers.result(i);
            executions += result.value(QLatin1String("executions")).toInt();
            takeovers += result.value(QLatin1String("takeovers")).toInt();
            const QJsonArray values = result.value(QLatin1String("values")).toArray();
            QCOMPARE(values.size(), 20);
            for (const QJsonValue &v : values)
                QCOMPARE(v.toString(), QStringLiteral("value-of-x"));
        }
        QCOMPARE(executions, 1);
        QCOMPARE(takeovers, 1);
    }

    void lateWaitersNeverMissThePublish()
    {
        // Waiters start around the moment the holder publishes; whichever side of the publish
        // their SUBSCRIBE lands on, they must get the value (and never run the work again).
        Workers workers(m_server.url(), QStringLiteral("mp-late"));
        workers.start({ QStringLiteral("--calls"), QStringLiteral("1"), QStringLiteral("--work-ms"),
            QStringLiteral("300"), QStringLiteral("--no-go") });
        QTRY_VERIFY_WITH_TIMEOUT(workers.firstPrinted("WORKING") == 0, 10000);
        for (int i = 0; i < 6; ++i)
            workers.start(
                { QStringLiteral("--calls"), QStringLiteral("3"), QStringLiteral("--no-go") });
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("RESULT"), 20000);
        int executions = 0;
        for (int i = 0; i < workers.count(); ++i) {
            const QJsonObject result = workers.result(i);
            executions += result.value(QLatin1String("executions")).toInt();
            for (const QJsonValue &v : result.value(QLatin1String("values")).toArray())
                QCOMPARE(v.toString(), QStringLiteral("value-of-x"));
            QCOMPARE(result.value(QLatin1String("errors")).toArray().size(), 0);
        }
        QCOMPARE(executions, 1);
    }

private:
    RedisServer m_server;
};

QTEST_GUILESS_MAIN(tst_MultiProcess)
#include "tst_multiprocess.moc"
