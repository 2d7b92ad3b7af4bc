// SPDX-License-Identifier: MIT
// Freshness across real processes (dpworker): stale-while-revalidate, fail-safe, eager refresh,
// and fresh/stale decisions that do not depend on the processes' clocks.

#include "dpworkers.h"
#include "redisserver.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QStandardPaths>
#include <QtTest/QtTest>

using DistributedPromiseTest::RedisServer;
using DpWorkerTest::dataKeyOf;
using DpWorkerTest::Workers;

namespace {
// An entry as a writer with these settings leaves it: Redis keeps it ttl + staleFor, and it has
// \a leftMs of that left.
void seed(const RedisServer &server, const QString &prefix, const QString &value, qint64 ttlMs,
    qint64 staleForMs, qint64 leftMs)
{
    const QString envelope
        = QStringLiteral(R"({"v":1,"ok":true,"ttl":%1,"staleFor":%2,"value":"%3"})")
              .arg(ttlMs)
              .arg(staleForMs)
              .arg(value);
    QCOMPARE(server.cli({ QStringLiteral("SET"), dataKeyOf(prefix), envelope, QStringLiteral("PX"),
                 QString::number(leftMs) }),
        QByteArray("OK"));
}

struct Totals
{
    int executions = 0;
    qint64 stale = 0;
    QStringList values;
    QStringList errors;
};

Totals totals(Workers &workers)
{
    Totals t;
    for (int i = 0; i < workers.count(); ++i) {
        const QJsonObject result = workers.result(i);
        t.executions += result.value(QLatin1String("executions")).toInt();
        t.stale += result.value(QLatin1String("stale")).toInteger();
        for (const QJsonValue &v : result.value(QLatin1String("values")).toArray())
            t.values.append(v.toString());
        for (const QJsonValue &e : result.value(QLatin1String("errors")).toArray())
            t.errors.append(e.toObject().value(QLatin1String("message")).toString());
    }
    return t;
}
} // namespace

class tst_Freshness : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void staleWhileRevalidate()
    {
        // 4 processes x 50 callers find an entry past its ttl; the refresh takes 1 s, the
        // callers wait 50 ms at most and get the stale value; the work runs once, and caches.
        const QString prefix = QStringLiteral("fresh-swr");
        seed(m_server, prefix, QStringLiteral("old"), 1000, 60000, 30000);
        Workers workers(m_server.url(), prefix);
        for (int i = 0; i < 4; ++i)
            workers.start({ QStringLiteral("--calls"), QStringLiteral("50"),
                QStringLiteral("--work-ms"), QStringLiteral("1000"), QStringLiteral("--ttl-ms"),
                QStringLiteral("60000"), QStringLiteral("--stale-for-ms"), QStringLiteral("60000"),
                QStringLiteral("--soft-timeout-ms"), QStringLiteral("50"),
                QStringLiteral("--linger-ms"), QStringLiteral("3000") });
        // Every caller has the stale value (the fresh one takes a second to come).
        QVERIFY(workers.runAll("RESULT"));
        const Totals t = totals(workers);
        QCOMPARE(t.errors, QStringList());
        QCOMPARE(t.values, QStringList(200, QStringLiteral("old")));
        QCOMPARE(t.stale, 200);
        // The refresh goes on after the callers left, once, and replaces the entry.
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("FINAL"), 10000);
        QVERIFY(m_server.cli({ QStringLiteral("GET"), dataKeyOf(prefix) }).contains("value-of-x"));
        QCOMPARE(workers.finalSum(QLatin1String("executions")), 1);
        QVERIFY(m_server.cli({ QStringLiteral("PTTL"), dataKeyOf(prefix) }).toLongLong() > 60000);
    }

    void failingRefreshServesStale()
    {
        const QString prefix = QStringLiteral("fresh-failsafe");
        seed(m_server, prefix, QStringLiteral("old"), 1000, 60000, 30000);
        Workers workers(m_server.url(), prefix);
        for (int i = 0; i < 3; ++i)
            workers.start({ QStringLiteral("--calls"), QStringLiteral("5"),
                QStringLiteral("--work-ms"), QStringLiteral("200"), QStringLiteral("--fail"),
                QStringLiteral("the source is down"), QStringLiteral("--stale-for-ms"),
                QStringLiteral("60000"), QStringLiteral("--ttl-ms"), QStringLiteral("60000") });
        QVERIFY(workers.runAll("RESULT"));
        const Totals t = totals(workers);
        QCOMPARE(t.errors, QStringList());
        QCOMPARE(t.values, QStringList(15, QStringLiteral("old")));
        QCOMPARE(t.executions, 1);
        QVERIFY(m_server.cli({ QStringLiteral("GET"), dataKeyOf(prefix) }).contains("\"old\""));

        // With failSafe off, the callers get the error.
        Workers strict(m_server.url(), prefix);
        strict.start({ QStringLiteral("--calls"), QStringLiteral("2"), QStringLiteral("--work-ms"),
            QStringLiteral("50"), QStringLiteral("--fail"), QStringLiteral("the source is down"),
            QStringLiteral("--stale-for-ms"), QStringLiteral("60000"), QStringLiteral("--ttl-ms"),
            QStringLiteral("60000"), QStringLiteral("--no-fail-safe") });
        QVERIFY(strict.runAll("RESULT"));
        QCOMPARE(totals(strict).errors, QStringList(2, QStringLiteral("the source is down")));
    }

    void eagerRefreshAnswersAtOnce()
    {
        // Fresh, but 60% into its ttl: with eagerRefresh 0.5 every caller is answered from the
        // cache at once, and one process refreshes it in the background.
        const QString prefix = QStringLiteral("fresh-eager");
        seed(m_server, prefix, QStringLiteral("old"), 10000, 0, 4000);
        Workers workers(m_server.url(), prefix);
        for (int i = 0; i < 3; ++i)
            workers.start({ QStringLiteral("--calls"), QStringLiteral("10"),
                QStringLiteral("--work-ms"), QStringLiteral("300"), QStringLiteral("--ttl-ms"),
                QStringLiteral("10000"), QStringLiteral("--eager"), QStringLiteral("0.5"),
                QStringLiteral("--linger-ms"), QStringLiteral("2000") });
        QVERIFY(workers.runAll("RESULT"));
        const Totals t = totals(workers);
        QCOMPARE(t.errors, QStringList());
        QCOMPARE(t.values, QStringList(30, QStringLiteral("old")));
        QCOMPARE(t.stale, 0);
        QTRY_VERIFY_WITH_TIMEOUT(workers.allPrinted("FINAL"), 10000);
        QVERIFY(m_server.cli({ QStringLiteral("GET"), dataKeyOf(prefix) }).contains("value-of-x"));
        QCOMPARE(workers.finalSum(QLatin1String("executions")), 1);
        QCOMPARE(workers.finalSum(QLatin1String("eagerRefreshes")), 1);
    }

    void clocksDoNotMatter()
    {
        // One process an hour ahead, one an hour behind: a stale entry is stale to both, a fresh
        // one fresh to both (decided from the time Redis says the entry has left).
        const QString faketime = QStandardPaths::findExecutable(QStringLiteral("faketime"));
        QVERIFY2(!faketime.isEmpty(),
            "faketime is not installed (Debian package faketime; scripts/install-deps.sh)");
        const QString prefix = QStringLiteral("fresh-clocks");
        const QStringList options { QStringLiteral("--calls"), QStringLiteral("3"),
            QStringLiteral("--work-ms"), QStringLiteral("500"), QStringLiteral("--ttl-ms"),
            QStringLiteral("60000"), QStringLiteral("--stale-for-ms"), QStringLiteral("60000"),
            QStringLiteral("--soft-timeout-ms"), QStringLiteral("50") };
        for (const QString &value : { QStringLiteral("stale"), QStringLiteral("fresh") }) {
            // Stale: 30 s left of a 60 s stale window; fresh: 90 s left, 30 s of them fresh.
            seed(m_server, prefix, value, 60000, 60000,
                value == QLatin1String("stale") ? 30000 : 90000);
            Workers workers(m_server.url(), prefix);
            // The wall clock only: Qt's timers (the monotonic clock) keep their pace.
            // faketime preloads its library ahead of everything, AddressSanitizer's runtime
            // included: a sanitizer build must not insist on coming first.
            QString asan = qEnvironmentVariable("ASAN_OPTIONS");
            if (!asan.isEmpty())
                asan += u':';
            asan += QStringLiteral("verify_asan_link_order=0");
            const QStringList shifted { QStringLiteral("env"),
                QStringLiteral("FAKETIME_DONT_FAKE_MONOTONIC=1"),
                QStringLiteral("ASAN_OPTIONS=") + asan, faketime, QStringLiteral("-f") };
            workers.start(options, shifted + QStringList { QStringLiteral("+1h") });
            workers.start(options, shifted + QStringList { QStringLiteral("-1h") });
            QVERIFY(workers.runAll("RESULT"));
            const Totals t = totals(workers);
            QCOMPARE(t.errors, QStringList());
            QCOMPARE(t.values, QStringList(6, value));
            QCOMPARE(t.stale, value == QLatin1String("stale") ? 6 : 0);
        }
    }

private:
    RedisServer m_server;
};

QTEST_GUILESS_MAIN(tst_Freshness)
#include "tst_freshness.moc"
