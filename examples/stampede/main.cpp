// SPDX-License-Identifier: MIT
// The stampede demo: several processes ask for the same slow report at once. Exactly one of them
// computes it; the others wait for its result, and a second round is served from the cache.
//
//   stampede-demo [--processes 4] [--calls 250] [--work-ms 200]     (REDIS_URL or
//   redis://127.0.0.1:6379)

#include <DistributedPromise>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QPromise>
#include <QtCore/QTimer>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace {

QUrl redisUrl()
{
    const QByteArray env = qgetenv("REDIS_URL");
    return QUrl(env.isEmpty() ? QStringLiteral("redis://127.0.0.1:6379") : QString::fromUtf8(env));
}

void print(const QString &line)
{
    std::printf("%s\n", qPrintable(line));
    std::fflush(stdout);
}

double percentile(std::vector<double> values, double p)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, size_t(p * double(values.size())))];
}

// One process of the stampede: `calls` concurrent calls of the same report.
int runWorker(QCoreApplication &app, const QString &prefix, int calls, int workMs)
{
    DistributedPromiseConfig config;
    config.redisUrl = redisUrl();
    config.keyPrefix = prefix;
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    DistributedPromiseWrapper wrapper(config);

    int executions = 0;
    // The slow work: a report that takes workMs to compute, without blocking the event loop.
    auto report = wrapper.wrap(QStringLiteral("report"), [&](int year) {
        ++executions;
        auto promise = std::make_shared<QPromise<QString>>();
        promise->start();
        QTimer::singleShot(workMs, &app, [promise, year] {
            promise->addResult(QStringLiteral("sales report %1: 42 units").arg(year));
            promise->finish();
        });
        return promise->future();
    });

    std::vector<double> waits;
    QString value;
    int failures = 0;
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < calls; ++i) {
        report(2026)
            .then(&app,
                [&](const QString &result) {
                    value = result;
                    waits.push_back(double(clock.nsecsElapsed()) / 1e6);
                })
            .onFailed(&app,
                [&](const DistributedPromiseError &error) {
                    ++failures;
                    print(QStringLiteral("error: %1").arg(error.message()));
                })
            .then(&app, [&] {
                if (int(waits.size()) + failures < calls)
                    return;
                const DistributedPromiseStats stats = wrapper.stats();
                const QString role = executions ? QStringLiteral("COMPUTED the report")
                    : stats.hits                ? QStringLiteral("served from the cache")
                                                : QStringLiteral("waited for the result");
                const QJsonObject summary {
                    { QStringLiteral("pid"), QCoreApplication::applicationPid() },
                    { QStringLiteral("role"), role },
                    { QStringLiteral("executions"), executions },
                    { QStringLiteral("failures"), failures },
                    { QStringLiteral("value"), value },
                    { QStringLiteral("p50"), percentile(waits, 0.50) },
                    { QStringLiteral("p99"), percentile(waits, 0.99) },
                };
                print(QString::fromUtf8(QJsonDocument(summary).toJson(QJsonDocument::Compact)));
                app.exit(failures == 0 ? 0 : 1);
            });
    }
    return app.exec();
}

// Starts `processes` workers at once and prints what each saw. Returns the executions.
int runRound(
    const QString &title, const QString &prefix, int processes, int calls, int workMs, bool *ok)
{
    print(QStringLiteral("\n== %1: %2 processes x %3 calls of report(2026), work %4 ms ==")
              .arg(title)
              .arg(processes)
              .arg(calls)
              .arg(workMs));
    std::vector<std::unique_ptr<QProcess>> workers;
    for (int i = 0; i < processes; ++i) {
        auto process = std::make_unique<QProcess>();
        process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process->start(QCoreApplication::applicationFilePath(),
            { QStringLiteral("--worker"), QStringLiteral("--prefix"), prefix,
                QStringLiteral("--calls"), QString::number(calls), QStringLiteral("--work-ms"),
                QString::number(workMs) });
        workers.push_back(std::move(process));
    }
    int executions = 0;
    for (auto &process : workers) {
        if (!process->waitForFinished(60000) || process->exitCode() != 0)
            *ok = false;
        const QJsonObject summary
            = QJsonDocument::fromJson(process->readAllStandardOutput().trimmed().split('\n').last())
                  .object();
        const int ran = summary.value(QLatin1String("executions")).toInt();
        executions += ran;
        print(
            QStringLiteral("process %1: %2, %3 calls answered, wait p50 %4 ms, p99 %5 ms -> \"%6\"")
                .arg(summary.value(QLatin1String("pid")).toInt())
                .arg(summary.value(QLatin1String("role")).toString(), -21)
                .arg(calls - summary.value(QLatin1String("failures")).toInt())
                .arg(summary.value(QLatin1String("p50")).toDouble(), 0, 'f', 1)
                .arg(summary.value(QLatin1String("p99")).toDouble(), 0, 'f', 1)
                .arg(summary.value(QLatin1String("value")).toString()));
    }
    print(QStringLiteral("executions of the work in this round: %1").arg(executions));
    return executions;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Several processes, one computation."));
    parser.addHelpOption();
    const QCommandLineOption worker(
        QStringLiteral("worker"), QStringLiteral("Run as one worker process."));
    const QCommandLineOption prefix(
        QStringLiteral("prefix"), QStringLiteral("Redis key prefix."), QStringLiteral("prefix"));
    const QCommandLineOption processes(QStringLiteral("processes"), QStringLiteral("Processes."),
        QStringLiteral("n"), QStringLiteral("4"));
    const QCommandLineOption calls(QStringLiteral("calls"), QStringLiteral("Calls per process."),
        QStringLiteral("n"), QStringLiteral("250"));
    const QCommandLineOption workMs(QStringLiteral("work-ms"), QStringLiteral("Work time in ms."),
        QStringLiteral("ms"), QStringLiteral("200"));
    parser.addOptions({ worker, prefix, processes, calls, workMs });
    parser.process(app);

    if (parser.isSet(worker))
        return runWorker(
            app, parser.value(prefix), parser.value(calls).toInt(), parser.value(workMs).toInt());

    print(QStringLiteral("Redis: %1").arg(redisUrl().toString(QUrl::RemovePassword)));
    // A fresh prefix per run, so that earlier runs' cache does not answer round 1.
    const QString runPrefix
        = QStringLiteral("stampede-demo-%1").arg(QCoreApplication::applicationPid());
    bool ok = true;
    const int n = parser.value(processes).toInt();
    const int c = parser.value(calls).toInt();
    const int w = parser.value(workMs).toInt();
    const int first = runRound(QStringLiteral("Round 1 (cold cache)"), runPrefix, n, c, w, &ok);
    const int second = runRound(QStringLiteral("Round 2 (cached)"), runPrefix, n, c, w, &ok);
    print(QStringLiteral(
        "\n%1: the work ran %2 time(s) for %3 calls in round 1 and %4 time(s) in round 2.")
              .arg(ok && first == 1 && second == 0 ? QStringLiteral("OK")
                                                   : QStringLiteral("UNEXPECTED"))
              .arg(first)
              .arg(n * c)
              .arg(second));
    return ok && first == 1 && second == 0 ? 0 : 1;
}
