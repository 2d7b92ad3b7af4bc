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
// like a library would. "raw" is hiredis driven by a minimal QSocketNotifier loop written in
// this file (not the library's adapter); "library" is Connection::command(args, callback).

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

using DistributedPromiseRedis::Connection;
using DistributedPromiseRedis::Endpoint;
using DistributedPromiseRedis::Reply;

namespace {

const QByteArray benchKey = QByteArrayLiteral("dpbench:key");
const QByteArray benchValue = QByteArrayLiteral("0123456789abcdef0123456789abcdef"); // 32 bytes

class BenchFailure : public QException
{
public:
    void raise() const override { throw *this; }
    BenchFailure *clone() const override { return new BenchFailure(*this); }
};

// ---------------------------------------------------------------------------------------------
// Raw hiredis on Qt's event loop: two notifiers, the five event hooks, nothing else.

class RawHiredis
{
public:
    RawHiredis() = default;
    RawHiredis(const RawHiredis &) = delete;
    RawHiredis &operator=(const RawHiredis &) = delete;
    ~RawHiredis()
    {
        if (m_ctx)
            redisAsyncFree(m_ctx); // runs the pending callbacks with NULL, then cleanup()
    }

    bool connect(const Endpoint &endpoint, QString *error)
    {
        if (endpoint.transport == Endpoint::Transport::Unix)
            m_ctx = redisAsyncConnectUnix(QFile::encodeName(endpoint.socketPath).constData());
        else
            m_ctx = redisAsyncConnect(endpoint.host.toLatin1().constData(), endpoint.port);
        if (!m_ctx || m_ctx->err) {
            *error = m_ctx ? QString::fromUtf8(m_ctx->errstr) : QStringLiteral("out of memory");
            if (m_ctx)
                redisAsyncFree(m_ctx);
            m_ctx = nullptr;
            return false;
        }
        m_read = std::make_unique<QSocketNotifier>(m_ctx->c.fd, QSocketNotifier::Read);
        m_write = std::make_unique<QSocketNotifier>(m_ctx->c.fd, QSocketNotifier::Write);
        m_read->setEnabled(false);
        m_write->setEnabled(false);
        QObject::connect(m_read.get(), &QSocketNotifier::activated, m_read.get(), [this] {
            if (m_ctx)
                redisAsyncHandleRead(m_ctx);
        });
        QObject::connect(m_write.get(), &QSocketNotifier::activated, m_write.get(), [this] {
            if (m_ctx)
                redisAsyncHandleWrite(m_ctx);
        });
        m_ctx->data = this;
        m_ctx->ev.data = this;
        m_ctx->ev.addRead
            = [](void *self) { static_cast<RawHiredis *>(self)->m_read->setEnabled(true); };
        m_ctx->ev.delRead
            = [](void *self) { static_cast<RawHiredis *>(self)->m_read->setEnabled(false); };
        m_ctx->ev.addWrite
            = [](void *self) { static_cast<RawHiredis *>(self)->m_write->setEnabled(true); };
        m_ctx->ev.delWrite
            = [](void *self) { static_cast<RawHiredis *>(self)->m_write->setEnabled(false); };
        m_ctx->ev.cleanup = [](void *self) {
            auto *raw = static_cast<RawHiredis *>(self);
            raw->m_read->setEnabled(false);
            raw->m_write->setEnabled(false);
            raw->m_ctx = nullptr; // hiredis frees it right after this hook
        };
        redisAsyncSetConnectCallback(m_ctx, [](const redisAsyncContext *ctx, int status) {
            auto *raw = static_cast<RawHiredis *>(ctx->data);
            raw->m_connectStatus = status == REDIS_OK ? 1 : -1;
            if (status != REDIS_OK)
                raw->m_error = QString::fromUtf8(ctx->errstr);
        });

        // Log in and select the database like the library does; all pipelined behind connect.
        const auto expectOk = [](redisAsyncContext *, void *r, void *self) {
            auto *raw = static_cast<RawHiredis *>(self);
            const auto *reply = static_cast<redisReply *>(r);
            if (!reply || reply->type == REDIS_REPLY_ERROR)
                raw->m_handshakeOk = false;
            --raw->m_handshake;
        };
        if (!endpoint.password.isEmpty()) {
            ++m_handshake;
            if (endpoint.user.isEmpty())
                redisAsyncCommand(m_ctx, expectOk, this, "AUTH %b", endpoint.password.constData(),
                    size_t(endpoint.password.size()));
            else
                redisAsyncCommand(m_ctx, expectOk, this, "AUTH %b %b", endpoint.user.constData(),
                    size_t(endpoint.user.size()), endpoint.password.constData(),
                    size_t(endpoint.password.size()));
        }
        if (endpoint.db != 0) {
            ++m_handshake;
            redisAsyncCommand(m_ctx, expectOk, this, "SELECT %d", endpoint.db);
        }
        m_read->setEnabled(true);

        QEventLoop loop;
        QTimer deadline;
        deadline.setSingleShot(true);
        QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
        deadline.start(5000);
        while (deadline.isActive() && m_ctx && (m_connectStatus == 0 || m_handshake > 0))
            loop.processEvents(QEventLoop::WaitForMoreEvents);
        if (m_connectStatus != 1 || m_handshake > 0 || !m_handshakeOk || !m_ctx) {
            *error = m_error.isEmpty() ? QStringLiteral("connect/AUTH/SELECT failed or timed out")
                                       : m_error;
            return false;
        }
        return true;
    }

    void get(const QByteArray &key, QPromise<QByteArray> promise)
    {
        auto *heapPromise = new QPromise<QByteArray>(std::move(promise));
        const int rc = redisAsyncCommand(
            m_ctx, &RawHiredis::onGet, heapPromise, "GET %b", key.constData(), size_t(key.size()));
        if (rc != REDIS_OK)
            onGet(m_ctx, nullptr, heapPromise);
    }

private:
    static void onGet(redisAsyncContext *, void *r, void *privdata)
    {
        std::unique_ptr<QPromise<QByteArray>> promise(
            static_cast<QPromise<QByteArray> *>(privdata));
        const auto *reply = static_cast<redisReply *>(r);
        if (reply && reply->type == REDIS_REPLY_STRING)
            promise->addResult(QByteArray(reply->str, qsizetype(reply->len)));
        else if (reply && reply->type == REDIS_REPLY_NIL)
            promise->addResult(QByteArray());
        else
            promise->setException(BenchFailure());
        promise->finish();
    }

    redisAsyncContext *m_ctx = nullptr;
    std::unique_ptr<QSocketNotifier> m_read;
    std::unique_ptr<QSocketNotifier> m_write;
    int m_connectStatus = 0; // 0 pending, 1 connected, -1 failed
    int m_handshake = 0; // AUTH / SELECT replies still expected
    bool m_handshakeOk = true;
    QString m_error;
};

// ---------------------------------------------------------------------------------------------
// The library: Connection::command(args, callback), answered through a QPromise.

class LibraryClient
{
public:
    bool connect(const Endpoint &endpoint, QString *error)
    {
        m_connection = std::make_unique<Connection>(endpoint, Connection::Mode::Commands);
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

    RawHiredis raw;
    if (!raw.connect(endpoint, &error)) {
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
