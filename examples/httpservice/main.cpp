// SPDX-License-Identifier: MIT
// The HTTP service example: GET /report?year=Y answers with a report that takes 300 ms to
// compute. Start several instances on different ports against one Redis: however many requests
// arrive at however many instances, the report is computed once per ttl across all of them, and
// every request gets that one result. --no-library makes every request compute the report
// itself, for comparison (scripts/httpservice-bench.sh measures both).
//
//   httpservice [--port P] [--work-ms MS] [--ttl-ms MS] [--prefix P] [--no-library]
//
//   GET /report?year=2026   the report, as JSON (year defaults to 2026)
//   GET /stats              {"pid":..., "library":true, "requests":N, "executions":N}
//
// REDIS_URL (default redis://127.0.0.1:6379) says where Redis is. --port 0 (the default) picks a
// free port; the port is printed on stdout as "httpservice: listening on http://127.0.0.1:P".

#include <DistributedPromise>

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPointer>
#include <QtCore/QThread>
#include <QtCore/QThreadPool>
#include <QtHttpServer/QAbstractHttpServer>
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponder>
#include <QtNetwork/QTcpSocket>

#include <atomic>
#include <chrono>
#include <cstdio>

namespace {

// The "expensive" report: stands in for 300 ms of database queries. Runs in a worker thread.
QJsonObject buildReport(int year, qint64 pid, int workMs)
{
    QThread::msleep(workMs);
    const int units = 3000 + (year * 7919) % 2500;
    return {
        { QStringLiteral("year"), year },
        { QStringLiteral("units"), units },
        { QStringLiteral("revenue"), units * 249.5 },
        { QStringLiteral("computedBy"), pid },
    };
}

} // namespace

/*!
    The service. It derives from QAbstractHttpServer rather than using QHttpServer::route()
    because Qt 6.4's route() with a QFuture response keeps a reference to the request that can
    dangle and writes to the socket even after the client has gone; here an answer that arrives
    after its client disconnected is dropped.
*/
class ReportService : public QAbstractHttpServer
{
public:
    ReportService(DistributedPromiseWrapper *wrapper, int workMs, bool useLibrary)
        : m_workMs(workMs)
        , m_useLibrary(useLibrary)
    {
        // Every call to m_report with the same year, in this process or any other instance
        // using the same Redis and prefix, shares one execution and its cached result.
        m_report = wrapper->wrap(
            QStringLiteral("report:v1"), [this](int year) { return computeReport(year); });
    }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override
    {
        const QString path = request.url().path();
        if (request.method() != QHttpServerRequest::Method::Get)
            return false;
        if (path == QLatin1String("/stats")) {
            const QJsonObject stats {
                { QStringLiteral("pid"), QCoreApplication::applicationPid() },
                { QStringLiteral("library"), m_useLibrary },
                { QStringLiteral("requests"), qint64(m_requests) },
                { QStringLiteral("executions"), qint64(m_executions.load()) },
            };
            makeResponder(request, socket).write(QJsonDocument(stats));
            return true;
        }
        if (path != QLatin1String("/report"))
            return false;
        ++m_requests;
        bool ok = false;
        const QString yearText = request.query().queryItemValue(QStringLiteral("year"));
        const int year = yearText.isEmpty() ? 2026 : yearText.toInt(&ok);
        if (!yearText.isEmpty() && !ok) {
            makeResponder(request, socket)
                .write(QByteArrayLiteral("year must be a number\n"), "text/plain",
                    QHttpServerResponder::StatusCode::BadRequest);
            return true;
        }

        // The request object lives as long as the connection; the socket may go first.
        const QPointer<QTcpSocket> client(socket);
        const auto answer
            = [&request, client](QHttpServerResponder::StatusCode status, const QJsonObject &body) {
                  if (client && client->state() == QAbstractSocket::ConnectedState)
                      makeResponder(request, client).write(QJsonDocument(body), status);
              };
        QFuture<QJsonObject> report = m_useLibrary ? m_report(year) : computeReport(year);
        report
            .then(this,
                [answer](const QJsonObject &value) {
                    answer(QHttpServerResponder::StatusCode::Ok, value);
                })
            .onFailed(this, [answer](const DistributedPromiseError &error) {
                // Timeout, ConnectionFailed (with whenRedisUnavailable = Fail), WorkFailed...
                answer(QHttpServerResponder::StatusCode::ServiceUnavailable,
                    { { QStringLiteral("error"), QString::fromUtf8(error.what()) } });
            });
        return true;
    }

    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override
    {
        makeResponder(request, socket)
            .write(QByteArrayLiteral("not found: try /report?year=2026 or /stats\n"), "text/plain",
                QHttpServerResponder::StatusCode::NotFound);
    }

private:
    QFuture<QJsonObject> computeReport(int year)
    {
        ++m_executions;
        return QtConcurrent::run(buildReport, year, QCoreApplication::applicationPid(), m_workMs);
    }

    DistributedPromiseFunction<QJsonObject(int)> m_report;
    int m_workMs;
    bool m_useLibrary;
    quint64 m_requests = 0;
    std::atomic<quint64> m_executions { 0 };
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("httpservice"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("An HTTP endpoint whose 300 ms answer is computed once across instances"));
    parser.addHelpOption();
    const QCommandLineOption portOption(QStringLiteral("port"),
        QStringLiteral("Port to listen on (0: any free one)."), QStringLiteral("port"),
        QStringLiteral("0"));
    const QCommandLineOption workOption(QStringLiteral("work-ms"),
        QStringLiteral("How long computing the report takes."), QStringLiteral("ms"),
        QStringLiteral("300"));
    const QCommandLineOption ttlOption(QStringLiteral("ttl-ms"),
        QStringLiteral("How long a computed report is served from the cache."),
        QStringLiteral("ms"), QStringLiteral("5000"));
    const QCommandLineOption prefixOption(QStringLiteral("prefix"),
        QStringLiteral("Redis key prefix; instances share work only with the same prefix."),
        QStringLiteral("prefix"), QStringLiteral("httpservice-example"));
    const QCommandLineOption noLibraryOption(QStringLiteral("no-library"),
        QStringLiteral("Compute the report for every request (no sharing, no cache)."));
    parser.addOptions({ portOption, workOption, ttlOption, prefixOption, noLibraryOption });
    parser.process(app);

    DistributedPromiseConfig config;
    config.redisUrl
        = QUrl(qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379")));
    config.keyPrefix = parser.value(prefixOption);
    config.ttl = std::chrono::milliseconds(qMax(1, parser.value(ttlOption).toInt()));
    config.timeout = std::chrono::seconds(10); // an HTTP client will not wait longer
    DistributedPromiseWrapper wrapper(config);
    if (!wrapper.configurationError().isEmpty()) {
        std::fprintf(stderr, "httpservice: %s\n", qPrintable(wrapper.configurationError()));
        return 1;
    }

    // The report's sleep stands in for waiting on a database: let as many run at once as a
    // database connection pool would, not just one per core.
    QThreadPool::globalInstance()->setMaxThreadCount(64);

    const bool useLibrary = !parser.isSet(noLibraryOption);
    ReportService service(&wrapper, qMax(0, parser.value(workOption).toInt()), useLibrary);
    const quint16 port
        = service.listen(QHostAddress::LocalHost, quint16(parser.value(portOption).toUInt()));
    if (port == 0) {
        std::fprintf(stderr, "httpservice: could not listen on port %s\n",
            qPrintable(parser.value(portOption)));
        return 1;
    }
    std::printf("httpservice: listening on http://127.0.0.1:%u (%s)\n", unsigned(port),
        useLibrary ? "through the library" : "--no-library: every request computes");
    std::fflush(stdout);
    return app.exec();
}
