// SPDX-License-Identifier: MIT
// The Widgets example: a QMainWindow with a table of a slow sales report, computed once however
// many copies of the program show it. Start it two or three times: one copy computes the report
// (the others say "waiting for host:pid"), every copy shows the same rows, and later starts are
// served from the Redis cache. The status bar says how old the shown report is and when it is
// stale; Refresh (F5) recomputes it, once across every copy.
//
//   widgets-report [--year Y] [--work-ms MS] [--screenshot FILE.png]
//
// REDIS_URL (default redis://127.0.0.1:6379) says where Redis is. --screenshot saves the window
// once the report has arrived, then exits: 0 when the table shows the report's rows.

#include <DistributedPromise>

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QCommandLineParser>
#include <QtCore/QElapsedTimer>
#include <QtCore/QLocale>
#include <QtCore/QThread>
#include <QtCore/QTimer>
#include <QtGui/QAction>
#include <QtGui/QPixmap>
#include <QtGui/QStandardItemModel>
#include <QtWidgets/QApplication>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QLabel>
#include <QtWidgets/QMainWindow>
#include <QtWidgets/QProgressBar>
#include <QtWidgets/QStatusBar>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolBar>

#include <chrono>
#include <cstdio>

namespace {

// The wrap key names the work and the shape of its result across every copy; change it when
// either changes (see the README's "Version your keys").
const QString reportKey = QStringLiteral("sales-report:v1");

// The "expensive" report: one row per region, derived from the year, plus who computed it and
// how long that took. It runs in a worker thread (QtConcurrent), so the window stays responsive.
QVariantMap buildReport(int year, qint64 pid, int workMs)
{
    QElapsedTimer timer;
    timer.start();
    QThread::msleep(workMs); // stands in for a slow database query
    const QStringList regions { QStringLiteral("North"), QStringLiteral("South"),
        QStringLiteral("East"), QStringLiteral("West") };
    QVariantList rows;
    for (int i = 0; i < regions.size(); ++i) {
        const int units = 500 + (year * 7919 + i * 104729) % 1500;
        rows.append(QVariantMap {
            { QStringLiteral("region"), regions.at(i) },
            { QStringLiteral("units"), units },
            { QStringLiteral("revenue"), units * 249.5 },
        });
    }
    return {
        { QStringLiteral("year"), year },
        { QStringLiteral("rows"), rows },
        { QStringLiteral("computedBy"), pid },
        { QStringLiteral("workMs"), timer.elapsed() },
    };
}

// "12 s", "3 min", "2 h": how long ago something happened, for the status bar.
QString describeAge(qint64 seconds)
{
    if (seconds < 120)
        return QObject::tr("%1 s").arg(seconds);
    if (seconds < 2 * 3600)
        return QObject::tr("%1 min").arg(seconds / 60);
    return QObject::tr("%1 h").arg(seconds / 3600);
}

} // namespace

/*!
    The main window: a table of the report, a Refresh action, and a status bar with the call's
    phase and a busy indicator while it waits, the shown report's age (and whether it is stale),
    and errors. One call at a time: Refresh is disabled while one is pending.
*/
class ReportWindow : public QMainWindow
{
    Q_OBJECT

public:
    ReportWindow(DistributedPromiseWrapper *wrapper, int year)
        : m_wrapper(wrapper)
        , m_year(year)
    {
        setWindowTitle(tr("Sales report %1").arg(year));

        m_model.setHorizontalHeaderLabels({ tr("Region"), tr("Units"), tr("Revenue") });
        m_table.setModel(&m_model);
        m_table.setEditTriggers(QAbstractItemView::NoEditTriggers);
        m_table.verticalHeader()->hide();
        m_table.horizontalHeader()->setStretchLastSection(true);
        setCentralWidget(&m_table);

        m_refresh.setText(tr("&Refresh"));
        m_refresh.setShortcut(QKeySequence::Refresh);
        m_refresh.setToolTip(tr("Compute the report again, once across every running copy"));
        connect(&m_refresh, &QAction::triggered, this, &ReportWindow::refresh);
        QToolBar *tools = addToolBar(tr("Report"));
        tools->setMovable(false);
        tools->addAction(&m_refresh);

        m_busy.setRange(0, 0); // no percentage to show: a busy indicator
        m_busy.setMaximumWidth(120);
        statusBar()->addPermanentWidget(&m_phase);
        statusBar()->addPermanentWidget(&m_busy);
        statusBar()->addPermanentWidget(&m_age);

        connect(&m_ageTimer, &QTimer::timeout, this, &ReportWindow::showAge);
        m_ageTimer.start(std::chrono::seconds(1));
        resize(520, 300);
    }

    /*! The rows the table shows now. */
    int rowCount() const { return m_model.rowCount(); }
    /*! The rows as text, one "region units revenue" per row, for the screenshot check. */
    QString rowsText() const
    {
        QStringList rows;
        for (int row = 0; row < m_model.rowCount(); ++row) {
            QStringList cells;
            for (int column = 0; column < m_model.columnCount(); ++column)
                cells.append(m_model.item(row, column)->text());
            rows.append(cells.join(QLatin1Char(' ')));
        }
        return rows.join(QStringLiteral("; "));
    }

    /*! Shows the report, from the cache when it is there (one GET), else computed once. */
    void load() { follow(m_wrapper->call(reportKey, { m_year }, this)); }
    /*! Computes the report again now, once across every copy, and shows the new one. */
    void refresh() { follow(m_wrapper->refresh(reportKey, { m_year }, this)); }

Q_SIGNALS:
    /*! A call has finished; \a ok is false when it failed (the message is in the status bar). */
    void callFinished(bool ok);

private:
    void follow(DistributedPromise *promise)
    {
        m_refresh.setEnabled(false);
        statusBar()->clearMessage();
        connect(promise, &DistributedPromise::phaseChanged, this,
            [this, promise] { showPhase(promise); });
        connect(
            promise, &DistributedPromise::resolved, this, [this, promise](const QVariant &value) {
                showReport(value.toMap());
                m_updatedAt = promise->updatedAt();
                m_stale = promise->isStale();
                showAge();
            });
        connect(promise, &DistributedPromise::failed, this, [this](int, const QString &message) {
            // The table keeps the last report it had; the status bar says what went wrong.
            statusBar()->showMessage(tr("Could not get the report: %1").arg(message));
        });
        connect(promise, &DistributedPromise::finished, this, [this, promise] {
            m_refresh.setEnabled(true);
            showPhase(promise);
            promise->deleteLater();
            Q_EMIT callFinished(promise->state() == DistributedPromise::Resolved);
        });
        showPhase(promise);
    }

    void showPhase(const DistributedPromise *promise)
    {
        const bool pending = promise->state() == DistributedPromise::Pending;
        m_busy.setVisible(pending);
        m_phase.setVisible(pending);
        const QString text = promise->phaseText();
        m_phase.setText(text.isEmpty() ? tr("checking the cache") : text);
    }

    void showReport(const QVariantMap &report)
    {
        m_model.removeRows(0, m_model.rowCount());
        const QVariantList rows = report.value(QStringLiteral("rows")).toList();
        for (const QVariant &row : rows) {
            const QVariantMap cells = row.toMap();
            QList<QStandardItem *> items {
                new QStandardItem(cells.value(QStringLiteral("region")).toString()),
                new QStandardItem(QLocale().toString(cells.value(QStringLiteral("units")).toInt())),
                new QStandardItem(
                    QLocale().toString(cells.value(QStringLiteral("revenue")).toDouble(), 'f', 2)),
            };
            items.at(1)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            items.at(2)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_model.appendRow(items);
        }
        const qint64 by = report.value(QStringLiteral("computedBy")).toLongLong();
        m_source = by == QCoreApplication::applicationPid()
            ? tr("computed here in %1 ms").arg(report.value(QStringLiteral("workMs")).toInt())
            : tr("computed by pid %1").arg(by);
    }

    void showAge()
    {
        if (!m_updatedAt.isValid())
            return;
        const qint64 seconds = qMax<qint64>(0, m_updatedAt.secsTo(QDateTime::currentDateTime()));
        m_age.setText(tr("%1, %2 ago%3")
                          .arg(m_source, describeAge(seconds),
                              m_stale ? tr(" (stale, refreshing)") : QString()));
    }

    DistributedPromiseWrapper *m_wrapper;
    int m_year;
    QStandardItemModel m_model;
    QTableView m_table;
    QAction m_refresh;
    QLabel m_phase;
    QProgressBar m_busy;
    QLabel m_age;
    QTimer m_ageTimer;
    QDateTime m_updatedAt;
    bool m_stale = false;
    QString m_source;
};

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("widgets-report"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("A slow report in a table, computed once across every running copy"));
    parser.addHelpOption();
    const QCommandLineOption yearOption(QStringLiteral("year"), QStringLiteral("Report year."),
        QStringLiteral("year"), QStringLiteral("2026"));
    const QCommandLineOption workOption(QStringLiteral("work-ms"),
        QStringLiteral("How long computing the report takes."), QStringLiteral("ms"),
        QStringLiteral("1500"));
    const QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
        QStringLiteral("Save the window to <file> once the report is shown, then exit."),
        QStringLiteral("file"));
    parser.addOptions({ yearOption, workOption, screenshotOption });
    parser.process(app);
    const int workMs = qMax(0, parser.value(workOption).toInt());

    DistributedPromiseConfig config;
    config.redisUrl
        = QUrl(qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379")));
    config.keyPrefix = QStringLiteral("widgets-example");
    config.ttl = std::chrono::minutes(1);
    // Past its minute, the old report is still shown for 10 minutes while one copy computes
    // the new one; the status bar marks it stale meanwhile.
    config.staleFor = std::chrono::minutes(10);
    DistributedPromiseWrapper wrapper(config);

    const qint64 pid = QCoreApplication::applicationPid();
    wrapper.wrap(reportKey,
        [pid, workMs](int year) { return QtConcurrent::run(buildReport, year, pid, workMs); });

    ReportWindow window(&wrapper, parser.value(yearOption).toInt());
    if (parser.isSet(screenshotOption)) {
        const QString path = parser.value(screenshotOption);
        // Queued: the table and status bar have been updated by the time this runs.
        QObject::connect(
            &window, &ReportWindow::callFinished, &window,
            [&window, path](bool ok) {
                const QPixmap shot = window.grab();
                if (shot.isNull() || !shot.save(path)) {
                    std::fprintf(stderr, "widgets-report: could not save a screenshot to %s\n",
                        qPrintable(path));
                    QCoreApplication::exit(2);
                    return;
                }
                std::printf("widgets-report: saved %s (%dx%d); report %s; table has %d rows: %s\n",
                    qPrintable(path), shot.width(), shot.height(), ok ? "resolved" : "failed",
                    window.rowCount(), qPrintable(window.rowsText()));
                std::fflush(stdout);
                QCoreApplication::exit(ok && window.rowCount() == 4 ? 0 : 1);
            },
            Qt::QueuedConnection);
        QTimer::singleShot(workMs + 30000, &window, [] {
            std::fprintf(stderr, "widgets-report: the report did not arrive in time\n");
            QCoreApplication::exit(3);
        });
    }
    window.show();
    window.load();
    return app.exec();
}

#include "main.moc"
