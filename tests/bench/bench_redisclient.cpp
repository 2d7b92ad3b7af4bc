// SPDX-License-Identifier: MIT
//
// The library's Redis connection against raw hiredis, on the same Qt event loop.
//
//   bench_redisclient [redis-url] [--json] [--runs N]
//
// The URL comes from the argument, else $REDIS_URL, else redis://127.0.0.1:6379. Two loads,
// each a GET of one small key:
//   sequential  20 000 round trips, one at a time;
//   pipelined   200 000 commands with 100 in flight, refilled as replies come.
// Every GET is answered through its own QPromise<QByteArray> and observed through its QFuture,
// like a library would. "raw" is hiredis driven by a minimal QSocketNotifier loop (rawhiredis.h,
// shared with bench_library; not the library's adapter); "library" is Connection::command(args,
// callback).

#include "rawhiredis.h"
#include "redisconnection_p.h"
#include "redisendpoint_p.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QException>
#include <QtCore/QFile>
#include <QtCore/QFuture>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPromise>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

using DistributedPromiseBench::BenchFailure;
using DistributedPromiseBench::RawEndpoint;
using DistributedPromiseBench::RawHiredis;
using DistributedPromiseRedis::Connection;
using DistributedPromiseRedis::Endpoint;
using DistributedPromiseRedis::Reply;

namespace {

const QByteArray benchKey = QByteArrayLiteral("dpbench:key");
const QByteArray benchValue = QByteArrayLiteral("0123456789abcdef0123456789abcdef"); // 32 bytes

// ---------------------------------------------------------------------------------------------
// The library: Connection::command(args, callback), answered through a QPromise.

class LibraryClient
{
public:
    bool connect(const Endpoint &endpoint, QString *error)
    {
        m_connection = std::make_unique<Connection>(endpoint);
        m_connection->open();
        QEventLoop loop;
        QTimer deadline;
        deadline.setSingleShot(true);
        deadline.start(5000);
        while (deadline.isActive() && !m_connection->isConnected())
            loop.processEvents(QEventLoop::WaitForMoreEvents);
        if (!m_connection->isConnected()) {
            *error = m_connection->lastError();
            return false;
        }
        return true;
    }

    void get(const QByteArray &key, QPromise<QByteArray> promise)
    {
        // The callback runs exactly once (the library's contract), so it may own the promise.
        auto *heapPromise = new QPromise<QByteArray>(std::move(promise));
        m_connection->command({ m_get, key }, [heapPromise](const Reply &reply) {
            std::unique_ptr<QPromise<QByteArray>> owned(heapPromise);
            if (reply.isString() || reply.isNil())
                owned->addResult(reply.string);
            else
                owned->setException(BenchFailure());
            owned->finish();
        });
    }

    Connection &connection() { return *m_connection; }

private:
    std::unique_ptr<Connection> m_connection;
    const QByteArray m_get = QByteArrayLiteral("GET");
};

// ---------------------------------------------------------------------------------------------
// The load: N GETs with at most `depth` in flight, each through its own promise and future.

struct Measurement
{
    qint64 ops = 0;
    qint64 nanoseconds = 0;
    qint64 errors = 0;
    double opsPerSecond() const
    {
        return nanoseconds ? double(ops) * 1e9 / double(nanoseconds) : 0;
    }
    double microsecondsPerOp() const { return ops ? double(nanoseconds) / 1e3 / double(ops) : 0; }
};

template<typename Backend>
Measurement runLoad(Backend &backend, qint64 total, int depth)
{
    Measurement m;
    m.ops = total;
    qint64 issued = 0;
    qint64 done = 0;
    QEventLoop loop;
    std::function<void()> issue;
    issue = [&] {
        ++issued;
        QPromise<QByteArray> promise;
        QFuture<QByteArray> future = promise.future();
        promise.start();
        // Attached before the promise can finish: runs where the reply is delivered.
        future.then([&](QFuture<QByteArray> finished) {
            try {
                if (finished.result() != benchValue)
                    ++m.errors;
            } catch (...) {
                ++m.errors;
            }
            if (++done == total)
                loop.quit();
            else if (issued < total)
                issue();
        });
        backend.get(benchKey, std::move(promise));
    };

    QTimer watchdog;
    watchdog.setSingleShot(true);
    QObject::connect(&watchdog, &QTimer::timeout, &loop, [&] {
        std::fprintf(stderr, "bench_redisclient: not finished within 60 s (%lld of %lld done)\n",
            done, total);
        loop.exit(1);
    });
    watchdog.start(60000);

    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < depth && issued < total; ++i)
        issue();
    const int rc = loop.exec();
    m.nanoseconds = timer.nsecsElapsed();
    if (rc != 0)
        m.errors += total - done;
    return m;
}

Measurement median(QList<Measurement> runs)
{
    std::sort(runs.begin(), runs.end(),
        [](const Measurement &a, const Measurement &b) { return a.nanoseconds < b.nanoseconds; });
    Measurement result = runs.at(runs.size() / 2);
    for (const Measurement &run : runs)
        result.errors = std::max(result.errors, run.errors);
    return result;
}

struct Row
{
    QString name;
    QString label;
    qint64 total;
    int depth;
    Measurement raw;
    Measurement library;
    double ratio() const
    {
        return raw.opsPerSecond() > 0 ? library.opsPerSecond() / raw.opsPerSecond() : 0;
    }
};

QJsonObject toJson(const Measurement &m)
{
    return QJsonObject { { QStringLiteral("ops_per_s"), qRound64(m.opsPerSecond()) },
        { QStringLiteral("us_per_op"), qRound(m.microsecondsPerOp() * 100) / 100.0 },
        { QStringLiteral("errors"), m.errors } };
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("bench_redisclient"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("The library's Redis connection against raw hiredis on one Qt event loop."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("url"),
        QStringLiteral("Redis URL; default $REDIS_URL, else redis://127.0.0.1:6379. Keys used: %1")
            .arg(QString::fromLatin1(benchKey)));
    const QCommandLineOption jsonOption(
        QStringLiteral("json"), QStringLiteral("Print one JSON object instead of a table."));
    const QCommandLineOption runsOption(QStringLiteral("runs"),
        QStringLiteral("Repetitions; the median is shown (3)."), QStringLiteral("n"),
        QStringLiteral("3"));
    const QCommandLineOption sequentialOption(QStringLiteral("sequential"),
        QStringLiteral("Sequential GETs (20000)."), QStringLiteral("n"), QStringLiteral("20000"));
    const QCommandLineOption pipelinedOption(QStringLiteral("pipelined"),
        QStringLiteral("Pipelined GETs (200000)."), QStringLiteral("n"), QStringLiteral("200000"));
    const QCommandLineOption depthOption(QStringLiteral("depth"),
        QStringLiteral("Commands in flight when pipelining (100)."), QStringLiteral("n"),
        QStringLiteral("100"));
    parser.addOptions({ jsonOption, runsOption, sequentialOption, pipelinedOption, depthOption });
    parser.process(app);

    QString urlText = parser.positionalArguments().value(0);
    if (urlText.isEmpty())
        urlText = qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379"));
    Endpoint endpoint;
    QString error;
    if (!Endpoint::parse(QUrl(urlText), &endpoint, &error)) {
        std::fprintf(stderr, "bench_redisclient: %s\n", qPrintable(error));
        return 2;
    }
    const int runs = std::max(1, parser.value(runsOption).toInt());
    const qint64 sequentialOps = std::max(1LL, parser.value(sequentialOption).toLongLong());
    const qint64 pipelinedOps = std::max(1LL, parser.value(pipelinedOption).toLongLong());
    const int depth = std::max(1, parser.value(depthOption).toInt());

    // The baseline connects to the endpoint the library parsed.
    RawEndpoint rawEndpoint;
    rawEndpoint.unixSocket = endpoint.transport == Endpoint::Transport::Unix;
    rawEndpoint.host = endpoint.host.toLatin1();
    rawEndpoint.port = endpoint.port;
    rawEndpoint.socketPath = QFile::encodeName(endpoint.socketPath);
    rawEndpoint.user = endpoint.user;
    rawEndpoint.password = endpoint.password;
    rawEndpoint.db = endpoint.db;
    RawHiredis raw;
    if (!raw.connect(rawEndpoint, &error)) {
        std::fprintf(stderr, "bench_redisclient: raw hiredis cannot connect to %s: %s\n",
            qPrintable(endpoint.displayName()), qPrintable(error));
        return 1;
    }
    LibraryClient library;
    if (!library.connect(endpoint, &error)) {
        std::fprintf(stderr, "bench_redisclient: the library cannot connect to %s: %s\n",
            qPrintable(endpoint.displayName()), qPrintable(error));
        return 1;
    }
    // The key every GET reads.
    {
        bool set = false;
        library.connection().command({ "SET", benchKey, benchValue },
            [&](const Reply &reply) { set = reply.string == "OK"; });
        QEventLoop loop;
        QElapsedTimer waited;
        waited.start();
        while (!set && waited.elapsed() < 5000)
            loop.processEvents(QEventLoop::WaitForMoreEvents, 100);
        if (!set) {
            std::fprintf(stderr, "bench_redisclient: SET %s failed\n", benchKey.constData());
            return 1;
        }
    }

    // Warm up both paths (allocator, connection buffers, CPU frequency).
    runLoad(raw, 20000, depth);
    runLoad(library, 20000, depth);

    QList<Row> rows {
        { QStringLiteral("sequential"), QStringLiteral("sequential GET, N=%1").arg(sequentialOps),
            sequentialOps, 1, {}, {} },
        { QStringLiteral("pipelined"),
            QStringLiteral("pipelined GET, N=%1, %2 in flight").arg(pipelinedOps).arg(depth),
            pipelinedOps, depth, {}, {} },
    };
    for (Row &row : rows) {
        QList<Measurement> rawRuns;
        QList<Measurement> libraryRuns;
        for (int i = 0; i < runs; ++i) { // interleaved, so that drift hits both alike
            rawRuns.append(runLoad(raw, row.total, row.depth));
            libraryRuns.append(runLoad(library, row.total, row.depth));
        }
        row.raw = median(rawRuns);
        row.library = median(libraryRuns);
    }

    qint64 errors = 0;
    for (const Row &row : std::as_const(rows))
        errors += row.raw.errors + row.library.errors;

    QTextStream out(stdout);
    if (parser.isSet(jsonOption)) {
        QJsonArray results;
        for (const Row &row : std::as_const(rows)) {
            results.append(QJsonObject {
                { QStringLiteral("name"), row.name },
                { QStringLiteral("ops"), row.total },
                { QStringLiteral("in_flight"), row.depth },
                { QStringLiteral("raw_hiredis"), toJson(row.raw) },
                { QStringLiteral("library"), toJson(row.library) },
                { QStringLiteral("ratio_library_to_raw"), qRound(row.ratio() * 1000) / 1000.0 },
            });
        }
        const QJsonObject root {
            { QStringLiteral("benchmark"), QStringLiteral("bench_redisclient") },
            { QStringLiteral("endpoint"), endpoint.displayName() },
            { QStringLiteral("hiredis"),
                QStringLiteral("%1.%2.%3")
                    .arg(HIREDIS_MAJOR)
                    .arg(HIREDIS_MINOR)
                    .arg(HIREDIS_PATCH) },
            { QStringLiteral("qt"), QString::fromLatin1(qVersion()) },
            { QStringLiteral("runs"), runs },
            { QStringLiteral("statistic"), QStringLiteral("median") },
            { QStringLiteral("results"), results },
            { QStringLiteral("errors"), errors },
        };
        out << QJsonDocument(root).toJson(QJsonDocument::Compact) << '\n';
    } else {
        out << QStringLiteral("Redis at %1, hiredis %2.%3.%4, Qt %5, median of %6 runs\n")
                   .arg(endpoint.displayName())
                   .arg(HIREDIS_MAJOR)
                   .arg(HIREDIS_MINOR)
                   .arg(HIREDIS_PATCH)
                   .arg(QString::fromLatin1(qVersion()))
                   .arg(runs);
        const auto line = [&](const QString &a, const QString &b, const QString &c,
                              const QString &d, const QString &e, const QString &f) {
            out << a.leftJustified(38) << b.rightJustified(12) << c.rightJustified(9)
                << d.rightJustified(12) << e.rightJustified(9) << f.rightJustified(14) << '\n';
        };
        line(QString(), QStringLiteral("raw hiredis"), QString(), QStringLiteral("library"),
            QString(), QString());
        line(QStringLiteral("load"), QStringLiteral("ops/s"), QStringLiteral("µs/op"),
            QStringLiteral("ops/s"), QStringLiteral("µs/op"), QStringLiteral("library/raw"));
        for (const Row &row : std::as_const(rows)) {
            line(row.label, QString::number(qRound64(row.raw.opsPerSecond())),
                QString::number(row.raw.microsecondsPerOp(), 'f', 2),
                QString::number(qRound64(row.library.opsPerSecond())),
                QString::number(row.library.microsecondsPerOp(), 'f', 2),
                QString::number(row.ratio(), 'f', 3));
        }
        out << "library/raw = library ops/s divided by raw hiredis ops/s (1.000 = as fast)\n";
        if (errors)
            out << "ERRORS: " << errors << " GETs failed or returned the wrong value\n";
    }
    out.flush();
    return errors ? 1 : 0;
}
