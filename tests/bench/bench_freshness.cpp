// SPDX-License-Identifier: MIT
// Freshness across processes: 4 dpworker processes x 50 callers find one entry expired, stale
// (staleFor, softTimeout 50 ms) or late in its ttl (eagerRefresh), while the work takes 1 s. Prints
// how long the callers waited and how often the work ran. Usage: bench_freshness <redis-url>.

#include "dpworkers.h"

#include <DistributedPromise>

#include <QtCore/QCoreApplication>
#include <QtCore/QJsonArray>

#include <algorithm>
#include <cstdio>

namespace {
constexpr int processes = 4;
constexpr int callsPerProcess = 50;

// Leaves the entry of dpworker's slow("x") under \a prefix written with these settings.
bool seed(const QUrl &url, const QString &prefix, std::chrono::milliseconds ttl,
    std::chrono::milliseconds staleFor)
{
    DistributedPromiseConfig config;
    config.redisUrl = url;
    config.keyPrefix = prefix;
    config.ttl = ttl;
    config.staleFor = staleFor;
    DistributedPromiseWrapper wrapper(config);
    auto slow = wrapper.wrap(
        QStringLiteral("slow"), [](const QString &) { return QStringLiteral("old"); });
    const QFuture<QString> written = slow(QStringLiteral("x"));
    return QTest::qWaitFor([&] { return written.isFinished(); }, 10000)
        && written.resultCount() == 1;
}

struct Row
{
    QString scenario;
    int executions = 0;
    int callers = 0;
    int gotOld = 0;
    double p50 = 0, p99 = 0, max = 0;
};

Row run(const QUrl &url, const QString &scenario, const QString &prefix, const QStringList &options)
{
    Row row;
    row.scenario = scenario;
    DpWorkerTest::Workers workers(url, prefix);
    for (int i = 0; i < processes; ++i)
        workers.start(QStringList { QStringLiteral("--calls"), QString::number(callsPerProcess),
                          QStringLiteral("--work-ms"), QStringLiteral("1000"),
                          QStringLiteral("--linger-ms"), QStringLiteral("1500") }
            + options);
    if (!workers.runAll("FINAL", 30000))
        qFatal("the workers did not finish");
    QList<double> waits;
    for (int i = 0; i < workers.count(); ++i) {
        const QJsonObject result = workers.result(i);
        for (const QJsonValue &wait : result.value(QLatin1String("waitsMs")).toArray())
            waits.append(wait.toDouble());
        for (const QJsonValue &value : result.value(QLatin1String("values")).toArray())
            row.gotOld += value.toString() == QLatin1String("old") ? 1 : 0;
        row.executions += workers.final(i).value(QLatin1String("executions")).toInt();
    }
    std::sort(waits.begin(), waits.end());
    row.callers = int(waits.size());
    if (!waits.isEmpty()) {
        row.p50 = waits.at(waits.size() / 2);
        row.p99 = waits.at(std::min<qsizetype>(waits.size() - 1, waits.size() * 99 / 100));
        row.max = waits.constLast();
    }
    return row;
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_freshness <redis-url>\n");
        return 2;
    }
    const QUrl url(QString::fromLocal8Bit(argv[1]));
    const QString run_id = QString::number(QCoreApplication::applicationPid());
    using namespace std::chrono_literals;
    QList<Row> rows;

    // Expired: no freshness settings; every caller waits for the one execution.
    const QString expired = QStringLiteral("bench-expired-") + run_id;
    rows.append(run(url, QStringLiteral("expired entry (no staleFor)"), expired,
        { QStringLiteral("--ttl-ms"), QStringLiteral("60000") }));

    // Stale: written with a 1 ms ttl and an hour of staleFor.
    const QString stale = QStringLiteral("bench-stale-") + run_id;
    if (!seed(url, stale, 1ms, 1h))
        qFatal("could not write the stale entry");
    rows.append(run(url, QStringLiteral("stale entry, softTimeout 50 ms"), stale,
        { QStringLiteral("--ttl-ms"), QStringLiteral("60000"), QStringLiteral("--stale-for-ms"),
            QStringLiteral("3600000"), QStringLiteral("--soft-timeout-ms"),
            QStringLiteral("50") }));

    // Eager: written with a 2 s ttl, read 1.3 s later with eagerRefresh 0.5.
    const QString eager = QStringLiteral("bench-eager-") + run_id;
    if (!seed(url, eager, 2s, 0ms))
        qFatal("could not write the entry");
    QTest::qWait(1300);
    rows.append(run(url, QStringLiteral("fresh entry 65% into its ttl, eagerRefresh 0.5"), eager,
        { QStringLiteral("--ttl-ms"), QStringLiteral("2000"), QStringLiteral("--eager"),
            QStringLiteral("0.5") }));

    std::printf("freshness: %d processes x %d callers, work 1 s\n", processes, callsPerProcess);
    std::printf("%-48s %10s %8s %8s %9s %9s %9s\n", "scenario", "executions", "callers", "got old",
        "p50 ms", "p99 ms", "max ms");
    for (const Row &row : std::as_const(rows))
        std::printf("%-48s %10d %8d %8d %9.1f %9.1f %9.1f\n", qPrintable(row.scenario),
            row.executions, row.callers, row.gotOld, row.p50, row.p99, row.max);
    const Row &swr = rows.at(1);
    std::printf("target: stale-while-revalidate 1 execution and p99 <= 70 ms: %s\n",
        swr.executions == 1 && swr.p99 <= 70 && swr.gotOld == swr.callers ? "met" : "NOT met");
    return 0;
}
