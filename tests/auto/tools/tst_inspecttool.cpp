// SPDX-License-Identifier: MIT
// The distributed-promise inspection tool, run as a process against a private redis-server that
// holds what the library made (entries, a stale one, a lock held by slow work, outcomes
// published): its output format, its exit codes, and that no password ever shows in its output.

#include "coretest.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QSysInfo>

#include <optional>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

namespace {
// The tool logs in as an ACL user with this password; it must never be printed.
const QString password = QStringLiteral("inspect-secret-7f3a9");
const QString wrongPassword = QStringLiteral("wrong-pass-4821");

// One run of the tool.
struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;

    QByteArrayList lines() const { return out.trimmed().split('\n'); }
    QJsonObject json() const { return QJsonDocument::fromJson(out).object(); }
};

// Where lock tokens say this process runs: "@host:pid" (src/core/lockflow.cpp's rule).
QString thisHolder()
{
    QString host = QSysInfo::machineHostName();
    for (QChar &c : host) {
        if (!(c.isLetterOrNumber() && c.unicode() < 128) && c != u'.' && c != u'-')
            c = u'_';
    }
    return host + u':' + QString::number(QCoreApplication::applicationPid());
}

template<typename T>
bool finishes(const QFuture<T> &future)
{
    return QTest::qWaitFor([&future] { return future.isFinished(); }, 10000);
}
} // namespace

class tst_InspectTool : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void cleanup();

    void list();
    void listJson();
    void listStale();
    void show();
    void showTruncated();
    void showMissing();
    void locks();
    void invalidate();
    void invalidateAll();
    void watch();
    void watchJsonUntilTerminated();
    void badUrl();
    void unreachable();
    void wrongPasswordIsNotPrinted();
    void usage();
    void customPrefixAndOddKeys();

private:
    /*! Runs the tool with \a args and --url \a url (the server, as the ACL user, by default). */
    Run tool(QStringList args, const QString &url = QString());
    QString url() const;
    /*! Starts `watch` with \a args in \a watcher; returns its first stderr line (the
        "watching ..." banner), or what it wrote before exiting. */
    QByteArray startWatch(QProcess &watcher, const QStringList &args);
    int callMany(int x);

    RedisServer m_server;
    std::unique_ptr<DistributedPromiseWrapper> m_wrapper;
    DistributedPromiseFunction<QString(int)> m_report;
    DistributedPromiseFunction<int(int)> m_many;
    DistributedPromiseFunction<int(int)> m_watched;
    std::shared_ptr<QPromise<int>> m_slowWork;
    QFuture<int> m_slowCall;
    int m_manyRuns = 0;
    QList<QByteArray> m_outputs; // of the current test function, checked by cleanup()
};

void tst_InspectTool::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    QCOMPARE(m_server.cli({ QStringLiteral("ACL"), QStringLiteral("SETUSER"), QStringLiteral("ops"),
                 QStringLiteral("on"), u'>' + password, QStringLiteral("~*"), QStringLiteral("&*"),
                 QStringLiteral("+@all") }),
        QByteArray("OK"));
    m_wrapper = std::make_unique<DistributedPromiseWrapper>(configFor(m_server));
    QTRY_VERIFY(m_wrapper->isConnected());

    m_report = m_wrapper->wrap(QStringLiteral("report"),
        [](int year) { return QStringLiteral("annual report %1").arg(year); });
    m_many = m_wrapper->wrap(QStringLiteral("many"), [this](int x) {
        ++m_manyRuns;
        return x;
    });
    m_watched = m_wrapper->wrap(QStringLiteral("watched"), [](int x) { return x * x; });
    // A wrap key that starts like "report": never listed with it.
    auto reportV2 = m_wrapper->wrap(QStringLiteral("report:v2"), [](int x) { return x; });
    DistributedPromiseWrapOptions staleOptions;
    staleOptions.key = QStringLiteral("stale");
    staleOptions.ttl = std::chrono::milliseconds(100);
    staleOptions.staleFor = std::chrono::seconds(60);
    auto stale = m_wrapper->wrap(staleOptions, [](int x) { return x + 1; });
    // Slow work: its lock is held until the test ends.
    m_slowWork = std::make_shared<QPromise<int>>();
    m_slowWork->start();
    auto slow = m_wrapper->wrap(
        QStringLiteral("slow"), [work = m_slowWork](int) { return work->future(); });

    const QFuture<QString> report = m_report(2026);
    const QFuture<int> staleCall = stale(1);
    const QFuture<int> v2 = reportV2(2026);
    QVERIFY(finishes(v2));
    QVERIFY(finishes(report));
    QCOMPARE(report.result(), QStringLiteral("annual report 2026"));
    QVERIFY(finishes(staleCall));
    QCOMPARE(staleCall.result(), 2);
    m_slowCall = slow(7);
    QTRY_VERIFY(keyExists(m_server, lockKey(QStringLiteral("slow"), "[7]")));
    // Past its ttl of 100 ms, the stale entry has at most staleFor left.
    QTRY_VERIFY(m_server.cli({ QStringLiteral("PTTL"), dataKey(QStringLiteral("stale"), "[1]") })
                    .toLongLong()
        <= 60000);
}

void tst_InspectTool::cleanupTestCase()
{
    if (m_slowWork) {
        m_slowWork->addResult(49);
        m_slowWork->finish();
        QVERIFY(finishes(m_slowCall));
    }
}

void tst_InspectTool::cleanup()
{
    for (const QByteArray &output : std::as_const(m_outputs)) {
        QVERIFY2(!output.contains(password.toUtf8()), output.constData());
        QVERIFY2(!output.contains(wrongPassword.toUtf8()), output.constData());
    }
    m_outputs.clear();
}

QString tst_InspectTool::url() const
{
    QUrl url = m_server.url();
    url.setUserName(QStringLiteral("ops"));
    url.setPassword(password);
    return url.toString();
}

QByteArray tst_InspectTool::startWatch(QProcess &watcher, const QStringList &args)
{
    watcher.start(QStringLiteral(INSPECT_TOOL_PATH),
        QStringList { QStringLiteral("watch") } + args
            + QStringList { QStringLiteral("--url"), url() });
    QByteArray err;
    // The callers check the banner: a timeout shows as an incomplete one.
    (void)QTest::qWaitFor(
        [&] {
            err += watcher.readAllStandardError();
            return err.contains('\n') || watcher.state() == QProcess::NotRunning;
        },
        10000);
    return err;
}

Run tst_InspectTool::tool(QStringList args, const QString &url)
{
    args << QStringLiteral("--url") << (url.isEmpty() ? this->url() : url);
    QProcess process;
    process.start(QStringLiteral(INSPECT_TOOL_PATH), args);
    Run run;
    if (!process.waitForFinished(15000)) {
        process.kill();
        process.waitForFinished();
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    m_outputs << run.out << run.err;
    return run;
}

int tst_InspectTool::callMany(int x)
{
    const QFuture<int> future = m_many(x);
    return finishes(future) && codeOf(future) == QLatin1String("ok") ? m_manyRuns : -1;
}

void tst_InspectTool::list()
{
    const Run run = tool({ QStringLiteral("list"), QStringLiteral("report") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    const QByteArrayList lines = run.lines();
    QCOMPARE(lines.size(), 3);
    QVERIFY2(QRegularExpression(QStringLiteral("^ARGUMENTS +SIZE +TTL +STATE$"))
                 .match(QString::fromUtf8(lines.at(0)))
                 .hasMatch(),
        lines.at(0));
    const auto row
        = QRegularExpression(QStringLiteral("^\\[2026\\] +(\\d+) B +(29|30)m\\d\\ds +fresh$"))
              .match(QString::fromUtf8(lines.at(1)));
    QVERIFY2(row.hasMatch(), lines.at(1));
    const QByteArray size
        = m_server.cli({ QStringLiteral("STRLEN"), dataKey(QStringLiteral("report"), "[2026]") });
    QCOMPARE(row.captured(1).toUtf8(), size);
    QCOMPARE(lines.at(2), QByteArray("1 entry of 'report' in generation 0"));
}

void tst_InspectTool::listJson()
{
    const Run run
        = tool({ QStringLiteral("list"), QStringLiteral("report"), QStringLiteral("--json") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out.count('\n'), 1);
    const QJsonObject object = run.json();
    QCOMPARE(object.value(QLatin1String("wrapKey")).toString(), QStringLiteral("report"));
    QCOMPARE(object.value(QLatin1String("generation")).toInteger(), 0);
    const QJsonArray entries = object.value(QLatin1String("entries")).toArray();
    QCOMPARE(entries.size(), 1);
    const QJsonObject entry = entries.at(0).toObject();
    QCOMPARE(entry.value(QLatin1String("arguments")).toString(), QStringLiteral("[2026]"));
    QCOMPARE(
        entry.value(QLatin1String("key")).toString(), dataKey(QStringLiteral("report"), "[2026]"));
    QCOMPARE(entry.value(QLatin1String("state")).toString(), QStringLiteral("fresh"));
    const qint64 pttl = entry.value(QLatin1String("pttlMs")).toInteger();
    QVERIFY2(pttl > 29 * 60 * 1000 && pttl <= 30 * 60 * 1000, QByteArray::number(pttl));
    QVERIFY(entry.value(QLatin1String("sizeBytes")).toInteger() > 0);
}

void tst_InspectTool::listStale()
{
    Run run = tool({ QStringLiteral("list"), QStringLiteral("stale"), QStringLiteral("--json") });
    QCOMPARE(run.exitCode, 0);
    const QJsonArray entries = run.json().value(QLatin1String("entries")).toArray();
    QCOMPARE(entries.size(), 1);
    const QJsonObject entry = entries.at(0).toObject();
    QCOMPARE(entry.value(QLatin1String("state")).toString(), QStringLiteral("stale"));
    QCOMPARE(entry.value(QLatin1String("ttlMs")).toInteger(), 100);
    QCOMPARE(entry.value(QLatin1String("staleForMs")).toInteger(), 60000);
    QCOMPARE(entry.value(QLatin1String("freshForMs")).toInteger(), 0);

    run = tool({ QStringLiteral("list"), QStringLiteral("stale") });
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(QRegularExpression(QStringLiteral("^\\[1\\] +\\d+ B +\\d+\\.\\ds +stale$"))
                 .match(QString::fromUtf8(run.lines().value(1)))
                 .hasMatch(),
        run.out.constData());
}

void tst_InspectTool::show()
{
    Run run = tool({ QStringLiteral("show"), QStringLiteral("report"), QStringLiteral("[2026]") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    const QByteArrayList lines = run.lines();
    QCOMPARE(lines.size(), 6);
    QCOMPARE(
        lines.at(0).simplified(), "key: " + dataKey(QStringLiteral("report"), "[2026]").toUtf8());
    QCOMPARE(lines.at(1).simplified(), QByteArray("generation: 0"));
    QVERIFY2(lines.at(2).simplified().startsWith("size: "), lines.at(2));
    QVERIFY2(lines.at(3).simplified().startsWith("ttl: "), lines.at(3));
    QCOMPARE(lines.at(4).simplified(), QByteArray("state: fresh"));
    QCOMPARE(lines.at(5).simplified(), QByteArray("value: \"annual report 2026\""));

    run = tool({ QStringLiteral("show"), QStringLiteral("stale"), QStringLiteral("[1]"),
        QStringLiteral("--json") });
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = run.json();
    QCOMPARE(object.value(QLatin1String("ok")).toBool(), true);
    QCOMPARE(object.value(QLatin1String("value")).toInteger(), 2);
    QCOMPARE(object.value(QLatin1String("state")).toString(), QStringLiteral("stale"));
    QCOMPARE(object.value(QLatin1String("arguments")).toString(), QStringLiteral("[1]"));
}

void tst_InspectTool::showTruncated()
{
    Run run = tool({ QStringLiteral("show"), QStringLiteral("report"), QStringLiteral("[2026]"),
        QStringLiteral("--max-value"), QStringLiteral("7") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.lines().value(5).simplified(),
        QStringLiteral("value: \"annual… (20 characters in all)").toUtf8());

    run = tool({ QStringLiteral("show"), QStringLiteral("report"), QStringLiteral("[2026]"),
        QStringLiteral("--max-value"), QStringLiteral("7"), QStringLiteral("--json") });
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = run.json();
    QCOMPARE(object.value(QLatin1String("truncated")).toBool(), true);
    QCOMPARE(object.value(QLatin1String("valuePreview")).toString(), QStringLiteral("\"annual…"));
    QVERIFY(!object.contains(QLatin1String("value")));
}

void tst_InspectTool::showMissing()
{
    const Run run
        = tool({ QStringLiteral("show"), QStringLiteral("report"), QStringLiteral("[1999]") });
    QCOMPARE(run.exitCode, 3);
    QCOMPARE(run.out, QByteArray());
    QCOMPARE(run.err,
        "distributed-promise: error: no entry for report [1999] in generation 0 (key "
            + dataKey(QStringLiteral("report"), "[1999]").toUtf8() + ")\n");
}

void tst_InspectTool::locks()
{
    Run run = tool({ QStringLiteral("locks") });
    QCOMPARE(run.exitCode, 0);
    QByteArrayList lines = run.lines();
    QCOMPARE(lines.size(), 3);
    QVERIFY2(QRegularExpression(QStringLiteral("^WRAP KEY +ARGUMENTS +HOLDER +EXPIRES IN$"))
                 .match(QString::fromUtf8(lines.at(0)))
                 .hasMatch(),
        lines.at(0));
    const QString row = QStringLiteral("^slow +\\[7\\] +%1 +\\d+\\.\\ds$")
                            .arg(QRegularExpression::escape(thisHolder()));
    QVERIFY2(QRegularExpression(row).match(QString::fromUtf8(lines.at(1))).hasMatch(), lines.at(1));
    QCOMPARE(lines.at(2), QByteArray("1 lock held"));

    run = tool({ QStringLiteral("locks"), QStringLiteral("slow"), QStringLiteral("--json") });
    QCOMPARE(run.exitCode, 0);
    const QJsonArray locks = run.json().value(QLatin1String("locks")).toArray();
    QCOMPARE(locks.size(), 1);
    const QJsonObject lock = locks.at(0).toObject();
    QCOMPARE(lock.value(QLatin1String("wrapKey")).toString(), QStringLiteral("slow"));
    QCOMPARE(lock.value(QLatin1String("arguments")).toString(), QStringLiteral("[7]"));
    QCOMPARE(lock.value(QLatin1String("holder")).toString(), thisHolder());
    const qint64 pttl = lock.value(QLatin1String("pttlMs")).toInteger();
    QVERIFY2(pttl > 0 && pttl <= 30000, QByteArray::number(pttl));

    // Another wrap key's locks are not listed.
    run = tool({ QStringLiteral("locks"), QStringLiteral("report") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, QByteArray("0 locks held\n"));
}

void tst_InspectTool::invalidate()
{
    Run run = tool(
        { QStringLiteral("invalidate"), QStringLiteral("report"), QStringLiteral("[2026]") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.out,
        "invalidated report [2026] (key " + dataKey(QStringLiteral("report"), "[2026]").toUtf8()
            + ")\n");
    QVERIFY(!keyExists(m_server, dataKey(QStringLiteral("report"), "[2026]")));
    const QFuture<std::optional<QString>> peeked = m_report.peek(2026);
    QVERIFY(finishes(peeked));
    QCOMPARE(peeked.result(), std::nullopt);

    run = tool(
        { QStringLiteral("invalidate"), QStringLiteral("report"), QStringLiteral("[2026]") });
    QCOMPARE(run.exitCode, 3);
    QCOMPARE(run.out, QByteArray());
    QCOMPARE(run.err,
        QByteArray("distributed-promise: error: no entry for report [2026] in generation 0; "
                   "nothing to invalidate\n"));
}

void tst_InspectTool::invalidateAll()
{
    QCOMPARE(callMany(1), 1);
    QCOMPARE(callMany(2), 2);
    Run run = tool({ QStringLiteral("invalidate-all"), QStringLiteral("many") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    QVERIFY2(run.out.startsWith("invalidated every entry of 'many': generation 0 -> 1 "), run.out);

    run = tool({ QStringLiteral("list"), QStringLiteral("many") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out,
        QByteArray("0 entries of 'many' in generation 1; 2 of older generations not shown "
                   "(--all-generations)\n"));
    // This process learns of the new generation too: the work runs again, into generation 1.
    QTRY_COMPARE(callMany(1), 3);
    run = tool(
        { QStringLiteral("list"), QStringLiteral("many"), QStringLiteral("--all-generations") });
    QCOMPARE(run.exitCode, 0);
    const QByteArrayList lines = run.lines();
    QCOMPARE(lines.size(), 5);
    QVERIFY2(lines.at(0).startsWith("GEN  ARGUMENTS"), lines.at(0));
    QVERIFY2(lines.at(1).startsWith("0    [1]"), lines.at(1));
    QVERIFY2(lines.at(2).startsWith("0    [2]"), lines.at(2));
    QVERIFY2(lines.at(3).startsWith("1    [1]"), lines.at(3));
    QCOMPARE(lines.at(4), QByteArray("3 entries of 'many' (current generation 1)"));
}

void tst_InspectTool::watch()
{
    QProcess watcher;
    const QByteArray err = startWatch(
        watcher, { QStringLiteral("watched"), QStringLiteral("--count"), QStringLiteral("1") });
    QCOMPARE(err,
        "watching distributed-promise:notif:{watched:* on 127.0.0.1:"
            + QByteArray::number(m_server.port()) + " (Ctrl-C stops)\n");

    const QFuture<int> call = m_watched(5);
    QVERIFY(finishes(call));
    QCOMPARE(call.result(), 25);
    QTRY_COMPARE_WITH_TIMEOUT(watcher.state(), QProcess::NotRunning, 10000);
    QCOMPARE(watcher.exitStatus(), QProcess::NormalExit);
    QCOMPARE(watcher.exitCode(), 0);
    const QByteArray out = watcher.readAllStandardOutput();
    m_outputs << out << err << watcher.readAllStandardError();
    QVERIFY2(QRegularExpression(QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}"
                                               "Z  watched \\[5\\]  value 25\n$"))
                 .match(QString::fromUtf8(out))
                 .hasMatch(),
        out.constData());
}

void tst_InspectTool::watchJsonUntilTerminated()
{
    QProcess watcher;
    const QByteArray err = startWatch(watcher, { QStringLiteral("--json") });
    QVERIFY2(err.contains('\n'), err); // the banner line came
    QVERIFY2(err.startsWith("watching distributed-promise:notif:{* on "), err);

    const QFuture<int> call = m_watched(6);
    QVERIFY(finishes(call));
    QByteArray out;
    QVERIFY(QTest::qWaitFor(
        [&] {
            out += watcher.readAllStandardOutput();
            return out.contains('\n');
        },
        10000));
    watcher.terminate(); // SIGTERM: a clean end
    QTRY_COMPARE_WITH_TIMEOUT(watcher.state(), QProcess::NotRunning, 10000);
    QCOMPARE(watcher.exitStatus(), QProcess::NormalExit);
    QCOMPARE(watcher.exitCode(), 0);
    out += watcher.readAllStandardOutput();
    m_outputs << out << err << watcher.readAllStandardError();
    QCOMPARE(out.count('\n'), 1);
    const QJsonObject event = QJsonDocument::fromJson(out).object();
    QCOMPARE(event.value(QLatin1String("wrapKey")).toString(), QStringLiteral("watched"));
    QCOMPARE(event.value(QLatin1String("arguments")).toString(), QStringLiteral("[6]"));
    QCOMPARE(event.value(QLatin1String("generation")).toInteger(), 0);
    QCOMPARE(event.value(QLatin1String("event")).toString(), QStringLiteral("value"));
    QCOMPARE(event.value(QLatin1String("value")).toInteger(), 36);
    QVERIFY(QDateTime::fromString(event.value(QLatin1String("time")).toString(), Qt::ISODateWithMs)
                .isValid());
}

void tst_InspectTool::badUrl()
{
    Run run = tool({ QStringLiteral("list"), QStringLiteral("report") },
        QStringLiteral("redis://ops:%1@[bad").arg(password));
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.out, QByteArray());
    QVERIFY2(run.err.startsWith("distributed-promise: error: invalid Redis URL: "), run.err);
    QCOMPARE(run.err.count('\n'), 1);

    run = tool({ QStringLiteral("list"), QStringLiteral("report") },
        QStringLiteral("http://ops:%1@localhost").arg(password));
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(
        run.err.startsWith("distributed-promise: error: invalid Redis URL: unknown scheme 'http'"),
        run.err);
    QCOMPARE(run.err.count('\n'), 1);
}

void tst_InspectTool::unreachable()
{
    QUrl unused = unusedRedisUrl();
    unused.setUserName(QStringLiteral("ops"));
    unused.setPassword(password);
    const Run run
        = tool({ QStringLiteral("show"), QStringLiteral("report"), QStringLiteral("[1]") },
            unused.toString());
    QCOMPARE(run.exitCode, 1);
    QCOMPARE(run.out, QByteArray());
    const QByteArray expected = "distributed-promise: error: cannot connect to Redis at 127.0.0.1:"
        + QByteArray::number(unused.port()) + ": ";
    QVERIFY2(run.err.startsWith(expected), run.err);
    QCOMPARE(run.err.count('\n'), 1);
}

void tst_InspectTool::wrongPasswordIsNotPrinted()
{
    QUrl wrong = m_server.url();
    wrong.setUserName(QStringLiteral("ops"));
    wrong.setPassword(wrongPassword);
    const Run run
        = tool({ QStringLiteral("locks"), QStringLiteral("--verbose") }, wrong.toString());
    QCOMPARE(run.exitCode, 1);
    QCOMPARE(run.out, QByteArray());
    QVERIFY2(run.err.contains("authentication failed"), run.err);
}

void tst_InspectTool::usage()
{
    Run run = tool({});
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(run.err.startsWith("distributed-promise: error: a command is needed"), run.err);

    run = tool({ QStringLiteral("frobnicate") });
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.err,
        QByteArray(
            "distributed-promise: error: unknown command 'frobnicate' (--help lists them)\n"));

    run = tool({ QStringLiteral("show"), QStringLiteral("report"), QStringLiteral("2026") });
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(run.err.startsWith("distributed-promise: error: the arguments must be a JSON array"),
        run.err);
}

void tst_InspectTool::customPrefixAndOddKeys()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.keyPrefix = QStringLiteral("shop");
    config.keySeparator = QStringLiteral("|");
    DistributedPromiseWrapper wrapper(config);
    // Glob characters in a wrap key are matched as themselves.
    auto odd = wrapper.wrap(
        QStringLiteral("price*[x]?"), [](const QString &item) { return int(item.size()); });
    auto other = wrapper.wrap(
        QStringLiteral("price-x"), [](const QString &item) { return int(item.size()); });
    const QFuture<int> first = odd(QStringLiteral("tea"));
    const QFuture<int> second = other(QStringLiteral("coffee"));
    QVERIFY(finishes(first));
    QVERIFY(finishes(second));
    const QStringList options { QStringLiteral("--prefix"), QStringLiteral("shop"),
        QStringLiteral("--separator"), QStringLiteral("|") };

    Run run = tool(QStringList { QStringLiteral("list"), QStringLiteral("price*[x]?") } + options);
    QCOMPARE(run.exitCode, 0);
    QByteArrayList lines = run.lines();
    QCOMPARE(lines.size(), 3);
    QVERIFY2(lines.at(1).startsWith("[\"tea\"]  "), lines.at(1));
    QCOMPARE(lines.at(2), QByteArray("1 entry of 'price*[x]?' in generation 0"));

    run = tool(QStringList { QStringLiteral("show"), QStringLiteral("price*[x]?"),
                   QStringLiteral("[\"tea\"]") }
        + options);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.lines().value(0).simplified(), QByteArray("key: shop|{price*[x]?|[\"tea\"]}"));
    QCOMPARE(run.lines().value(5).simplified(), QByteArray("value: 3"));

    // Without the prefix, nothing of it is found.
    run = tool({ QStringLiteral("list"), QStringLiteral("price*[x]?") });
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, QByteArray("0 entries of 'price*[x]?' in generation 0\n"));
}

QTEST_GUILESS_MAIN(tst_InspectTool)
#include "tst_inspecttool.moc"
