// SPDX-License-Identifier: MIT
// The QML dashboard: a slow yearly sales report, computed once however many windows and
// processes show it. Start it twice (or with --windows 2) and pick the same year: one process
// computes the report, the others wait for it and show it too, and later visits are served from
// the Redis cache.
//
//   dashboard [--windows N] [--year Y] [--work-ms MS] [--screenshot FILE.png]
//
// REDIS_URL (default redis://127.0.0.1:6379) says where Redis is. --screenshot saves the first
// window once the report is shown, then exits (0 when the report resolved).

#include <DistributedPromise>

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QCommandLineParser>
#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QThread>
#include <QtCore/QTimer>
#include <QtGui/QGuiApplication>
#include <QtGui/QImage>
#include <QtQml/QQmlApplicationEngine>
#include <QtQuick/QQuickWindow>

#include <chrono>
#include <cstdio>

namespace {

// The "expensive" report: numbers derived from the year, plus who computed it and how long it
// took, so every window can tell whether its own process did the work.
QVariantMap buildReport(int year, qint64 pid, int workMs)
{
    QElapsedTimer timer;
    timer.start();
    QThread::msleep(workMs); // stands in for a slow database query
    const int units = 3000 + (year * 7919) % 2500;
    const QStringList regions { QStringLiteral("North"), QStringLiteral("South"),
        QStringLiteral("East"), QStringLiteral("West") };
    return {
        { QStringLiteral("year"), year },
        { QStringLiteral("units"), units },
        { QStringLiteral("revenue"), units * 249.5 },
        { QStringLiteral("topRegion"), regions.at(year % regions.size()) },
        { QStringLiteral("computedBy"), pid },
        { QStringLiteral("computedAt"),
            QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss")) },
        { QStringLiteral("workMs"), timer.elapsed() },
    };
}

} // namespace

// What QML needs from C++ besides the wrapper: this process's pid and how often it ran the work.
class Dashboard : public QObject
{
    Q_OBJECT
    Q_PROPERTY(qint64 pid READ pid CONSTANT)
    Q_PROPERTY(QString redisUrl READ redisUrl CONSTANT)
    Q_PROPERTY(int computedCount READ computedCount NOTIFY computedCountChanged)

public:
    explicit Dashboard(const QUrl &redisUrl)
        : m_redisUrl(redisUrl.toString(QUrl::RemovePassword))
    { }

    qint64 pid() const { return QCoreApplication::applicationPid(); }
    QString redisUrl() const { return m_redisUrl; }
    int computedCount() const { return m_computedCount; }
    void countComputation()
    {
        ++m_computedCount;
        Q_EMIT computedCountChanged();
    }

Q_SIGNALS:
    void computedCountChanged();

private:
    QString m_redisUrl;
    int m_computedCount = 0;
};

// --screenshot: saves a window once its report call has finished, then quits.
class Screenshot : public QObject
{
    Q_OBJECT

public:
    Screenshot(QQuickWindow *window, QObject *call, QString path)
        : m_window(window)
        , m_call(call)
        , m_path(std::move(path))
    { }

public Q_SLOTS:
    void take()
    {
        if (m_taken)
            return;
        m_taken = true;
        const int state = m_call->property("state").toInt();
        const QImage image = m_window->grabWindow();
        if (image.isNull() || !image.save(m_path)) {
            std::fprintf(
                stderr, "dashboard: could not save a screenshot to %s\n", qPrintable(m_path));
            QCoreApplication::exit(2);
            return;
        }
        std::printf("dashboard: saved %s (%dx%d); report state %s: %s\n", qPrintable(m_path),
            image.width(), image.height(),
            state == DistributedPromise::Resolved ? "Resolved" : "Failed",
            qPrintable(state == DistributedPromise::Resolved
                    ? m_call->property("value").toMap().value(QStringLiteral("units")).toString()
                        + QStringLiteral(" units")
                    : m_call->property("errorString").toString()));
        std::fflush(stdout);
        QCoreApplication::exit(state == DistributedPromise::Resolved ? 0 : 1);
    }

    void giveUp()
    {
        std::fprintf(
            stderr, "dashboard: the report did not arrive in time; saving what is shown\n");
        take();
        QCoreApplication::exit(3);
    }

private:
    QQuickWindow *m_window;
    QObject *m_call;
    QString m_path;
    bool m_taken = false;
};

int main(int argc, char **argv)
{
    QGuiApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("dashboard"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("A slow report, computed once across windows and processes"));
    parser.addHelpOption();
    const QCommandLineOption windowsOption(QStringLiteral("windows"),
        QStringLiteral("Windows to open."), QStringLiteral("n"), QStringLiteral("1"));
    const QCommandLineOption yearOption(QStringLiteral("year"), QStringLiteral("Year shown first."),
        QStringLiteral("year"), QStringLiteral("2026"));
    const QCommandLineOption workOption(QStringLiteral("work-ms"),
        QStringLiteral("How long computing a report takes."), QStringLiteral("ms"),
        QStringLiteral("2000"));
    const QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
        QStringLiteral("Save the first window to <file> once the report is shown, then exit."),
        QStringLiteral("file"));
    parser.addOptions({ windowsOption, yearOption, workOption, screenshotOption });
    parser.process(app);
    const int windows = qBound(1, parser.value(windowsOption).toInt(), 8);
    const int workMs = qMax(0, parser.value(workOption).toInt());

    DistributedPromiseConfig config;
    config.redisUrl
        = QUrl(qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379")));
    config.keyPrefix = QStringLiteral("dashboard-example");
    // Fresh for 30 s; then, for an hour, served at once (marked stale) while one process of the
    // fleet computes the new report.
    config.ttl = std::chrono::seconds(30);
    config.staleFor = std::chrono::hours(1);
    config.softTimeout = std::chrono::milliseconds(50);
    DistributedPromiseWrapper wrapper(config);
    Dashboard dashboard(config.redisUrl);

    // The work, wrapped once in C++; QML calls it by key. It runs in a worker thread
    // (QtConcurrent) so the windows stay responsive while it computes.
    const qint64 pid = QCoreApplication::applicationPid();
    wrapper.wrap(QStringLiteral("report"), [&dashboard, pid, workMs](int year) {
        dashboard.countComputation();
        return QtConcurrent::run(buildReport, year, pid, workMs);
    });

    QQmlApplicationEngine engine;
#ifdef DASHBOARD_QML_IMPORT_PATH
    // The DistributedPromise QML module of the build tree; an installed one is found through
    // Qt's QML directory or QML_IMPORT_PATH.
    engine.addImportPath(QStringLiteral(DASHBOARD_QML_IMPORT_PATH));
#endif
    engine.setInitialProperties({
        { QStringLiteral("wrapper"), QVariant::fromValue(&wrapper) },
        { QStringLiteral("dashboard"), QVariant::fromValue(&dashboard) },
        { QStringLiteral("year"), parser.value(yearOption).toInt() },
    });
    for (int i = 0; i < windows; ++i)
        engine.load(QUrl(QStringLiteral("qrc:/Dashboard/Main.qml")));
    if (engine.rootObjects().size() != windows)
        return 1;

    std::unique_ptr<Screenshot> screenshot;
    if (parser.isSet(screenshotOption)) {
        auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
        QObject *call
            = window ? window->findChild<QObject *>(QStringLiteral("reportCall")) : nullptr;
        if (!call) {
            std::fprintf(
                stderr, "dashboard: no window with a reportCall to take a screenshot of\n");
            return 1;
        }
        screenshot = std::make_unique<Screenshot>(window, call, parser.value(screenshotOption));
        // Queued: the bindings showing the outcome have run by the time the slot does.
        QObject::connect(
            call, SIGNAL(finished()), screenshot.get(), SLOT(take()), Qt::QueuedConnection);
        QTimer::singleShot(workMs + 30000, screenshot.get(), &Screenshot::giveUp);
    }
    return app.exec();
}

#include "main.moc"
