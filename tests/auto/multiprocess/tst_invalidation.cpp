// SPDX-License-Identifier: MIT
// Refreshing and removing entries on demand, across real processes (dpworker): refresh() runs
// once fleet-wide, invalidate() in one process makes the next call in another run the work,
// invalidateAll() is O(1) whatever the number of entries, peek() never runs the work.

#include "dpworkers.h"
#include "redisserver.h"

#include <DistributedPromise>

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtTest/QtTest>

using DistributedPromiseTest::RedisServer;
using DpWorkerTest::dataKeyOf;
using DpWorkerTest::Workers;

namespace {
void seed(const RedisServer &server, const QString &prefix, const QString &value)
{
    QCOMPARE(server.cli({ QStringLiteral("SET"), dataKeyOf(prefix),
                 QStringLiteral(R"({"v":1,"ok":true,"value":"%1"})").arg(value),
                 QStringLiteral("PX"), QStringLiteral("600000") }),
        QByteArray("OK"));
}

QStringList valuesOf(const QJsonObject &result)
{
    QStringList values;
    for (const QJsonValue &v : result.value(QLatin1String("values")).toArray())
        values.append(v.toString());
    return values;
}

int executionsOf(Workers &workers)
{
    int executions = 0;
    for (int i = 0; i < workers.count(); ++i)
        executions += workers.result(i).value(QLatin1String("executions")).toInt();
    return executions;
}

// Runs one dpworker to its RESULT.
QJsonObject runOne(const RedisServer &server, const QString &prefix, const QStringList &options)
{
    Workers worker(server.url(), prefix);
    worker.start(options);
    return worker.runAll("RESULT") ? worker.result(0) : QJsonObject();
}
} // namespace

class tst_Invalidation : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void refreshFromThreeProcessesRunsOnce()
    {
        const QString prefix = QStringLiteral("inval-refresh");
        seed(m_server, prefix, QStringLiteral("old"));
        Workers workers(m_server.url(), prefix);
        for (int i = 0; i < 3; ++i)
            workers.start({ QStringLiteral("--calls"), QStringLiteral("2"),
                QStringLiteral("--work-ms"), QStringLiteral("300"), QStringLiteral("--mode"),
                QStringLiteral("refresh"), QStringLiteral("--value-tag"), QStringLiteral("new") });
        QVERIFY(workers.runAll("RESULT"));
        for (int i = 0; i < 3; ++i)
            QCOMPARE(valuesOf(workers.result(i)), QStringList(2, QStringLiteral("value-of-x-new")));
        QCOMPARE(executionsOf(workers), 1);
        QVERIFY(
            m_server.cli({ QStringLiteral("GET"), dataKeyOf(prefix) }).contains("value-of-x-new"));
    }

    void invalidateInOneProcessRunsTheWorkInAnother()
    {
        const QString prefix = QStringLiteral("inval-one");
        seed(m_server, prefix, QStringLiteral("old"));
        QCOMPARE(
            valuesOf(runOne(m_server, prefix, { QStringLiteral("--calls"), QStringLiteral("1") })),
            QStringList { QStringLiteral("old") });
        const QJsonObject removed = runOne(m_server, prefix,
            { QStringLiteral("--calls"), QStringLiteral("1"), QStringLiteral("--mode"),
                QStringLiteral("invalidate") });
        QCOMPARE(valuesOf(removed), QStringList { QStringLiteral("invalidated") });
        QCOMPARE(removed.value(QLatin1String("invalidations")).toInt(), 1);
        const QJsonObject next
            = runOne(m_server, prefix, { QStringLiteral("--calls"), QStringLiteral("1") });
        QCOMPARE(valuesOf(next), QStringList { QStringLiteral("value-of-x") });
        QCOMPARE(next.value(QLatin1String("executions")).toInt(), 1);
    }

    void peekNeverRunsTheWork()
    {
        const QString prefix = QStringLiteral("inval-peek");
        const QStringList peek { QStringLiteral("--calls"), QStringLiteral("3"),
            QStringLiteral("--mode"), QStringLiteral("peek") };
        QJsonObject result = runOne(m_server, prefix, peek);
        QCOMPARE(valuesOf(result), QStringList(3, QStringLiteral("none")));
        QCOMPARE(result.value(QLatin1String("executions")).toInt(), 0);
        QCOMPARE(m_server.cli({ QStringLiteral("EXISTS"), dataKeyOf(prefix) }), QByteArray("0"));
        seed(m_server, prefix, QStringLiteral("there"));
        result = runOne(m_server, prefix, peek);
        QCOMPARE(valuesOf(result), QStringList(3, QStringLiteral("there")));
        QCOMPARE(result.value(QLatin1String("executions")).toInt(), 0);
    }

    void invalidateAllIsConstantWork()
    {
        // 200 000 entries of one wrap key: invalidateAll() touches one key, deletes none, and
        // every process then runs the work again.
        const QString prefix = QStringLiteral("inval-all");
        constexpr int entries = 200000;
        const QByteArray made = m_server.cli({ QStringLiteral("EVAL"), QStringLiteral(R"lua(
for i = 1, tonumber(ARGV[2]) do
  redis.call('SET', ARGV[1] .. ':{slow:["e' .. i .. '"]}', '{"v":1,"ok":true,"value":"old"}', 'PX', 600000)
end
redis.call('SET', ARGV[1] .. ':{slow:["x"]}', '{"v":1,"ok":true,"value":"old"}', 'PX', 600000)
return redis.call('DBSIZE'))lua"),
            QStringLiteral("0"), prefix, QString::number(entries) });
        const qint64 before = made.toLongLong();
        QVERIFY2(before > entries, made.constData());
        const QStringList call { QStringLiteral("--calls"), QStringLiteral("1") };
        QCOMPARE(valuesOf(runOne(m_server, prefix, call)), QStringList { QStringLiteral("old") });

        DistributedPromiseConfig config;
        config.redisUrl = m_server.url();
        config.keyPrefix = prefix;
        DistributedPromiseWrapper wrapper(config);
        auto slow = wrapper.wrap(QStringLiteral("slow"), [](const QString &a) { return a; });
        const QFuture<std::optional<QString>> known = slow.peek(QStringLiteral("x"));
        QTRY_VERIFY(known.isFinished()); // the generation is read: the clock below times one call
        QElapsedTimer clock;
        clock.start();
        const QFuture<void> removed = slow.invalidateAll();
        QTRY_VERIFY(removed.isFinished());
        qInfo("invalidateAll() over %d entries: %.2f ms", entries,
            double(clock.nsecsElapsed()) / 1e6);
        QVERIFY(!removed.isCanceled());
        // Not a scan: every entry is still there (each expires with its ttl), one key was added.
        QCOMPARE(m_server.cli({ QStringLiteral("DBSIZE") }).toLongLong(), before + 1);
        QCOMPARE(
            m_server.cli({ QStringLiteral("GET"), prefix + QStringLiteral(":generation:{slow}") }),
            QByteArray("1"));

        const QJsonObject next = runOne(m_server, prefix, call);
        QCOMPARE(valuesOf(next), QStringList { QStringLiteral("value-of-x") });
        QCOMPARE(next.value(QLatin1String("executions")).toInt(), 1);
    }

    void invalidateAllReachesARunningProcess()
    {
        // A process that knows the old generation learns the new one from the message: its calls
        // soon run the work (each call below is one round trip; no timer decides).
        DistributedPromiseConfig config;
        config.redisUrl = m_server.url();
        config.keyPrefix = QStringLiteral("inval-live");
        DistributedPromiseWrapper running(config);
        int runs = 0;
        auto report = running.wrap(QStringLiteral("report"), [&runs](int year) {
            ++runs;
            return year * 10 + runs;
        });
        QFuture<int> first = report(2026);
        QTRY_VERIFY(first.isFinished());
        QCOMPARE(first.result(), 20261);

        DistributedPromiseWrapper other(config);
        auto same = other.wrap(QStringLiteral("report"), [&runs](int year) {
            ++runs;
            return year * 10 + runs;
        });
        QFuture<void> removed = same.invalidateAll();
        QTRY_VERIFY(removed.isFinished());
        QVERIFY(!removed.isCanceled());
        QCOMPARE(other.stats().invalidations, quint64(1));
        // In the process that invalidated: at once.
        QFuture<int> here = same(2026);
        QTRY_VERIFY(here.isFinished());
        QCOMPARE(here.result(), 20262);
        // In the other: once its subscriber has the message, it reads the new generation's entry.
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                QFuture<int> f = report(2026);
                return QTest::qWaitFor([&] { return f.isFinished(); }, 1000) && f.result() == 20262;
            }(),
            2000);
        QCOMPARE(runs, 2);
    }

private:
    RedisServer m_server;
};

QTEST_GUILESS_MAIN(tst_Invalidation)
#include "tst_invalidation.moc"
