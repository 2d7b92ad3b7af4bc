// SPDX-License-Identifier: MIT
// One process of the soak test (see soak.cpp): until a given wall-clock time it keeps a few
// calls in flight on identities from a small pool; the work takes a random time and sometimes
// fails. Everything is logged, one JSON object per line, to its own file, written straight to
// the file descriptor so that nothing is lost when the controller kills the process:
//
//   {"k":"start","pid":..,"mode":"local"|"fail","t":..}
//   {"k":"exec","p":"s","x":"<pid>-<n>","id":3,"pid":..,"t":..}  the work started (execution x)
//   {"k":"exec","p":"e","x":..,"ok":true|false,"out":"..","t":..}   ... and ended
//   {"k":"call","p":"s","c":17,"id":3,"j":true|false,"t":..}     a call started; j: another call
//                                                                of this identity was in flight
//   {"k":"call","p":"e","c":17,"ok":..,"code":"..","out":"..","t":..}  its outcome
//   {"k":"conn","up":true|false,"t":..}                          connectedChanged
//   {"k":"log","lvl":"w","msg":"..","t":..}                      the library's log lines
//   {"k":"summary",...,"t":..}                                   counters, just before exit 0
//
// Times ("t") are CLOCK_REALTIME in microseconds, comparable across processes. A value is
// "v|<exec>|<id>|<random>", a failure's message "e|<exec>|<id>", so every outcome names the
// execution it came from. On stdout the worker prints "W <exec>" and "D <exec>" when an
// execution starts and ends, so the controller knows whom to kill.

#include <DistributedPromise>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPromise>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTimer>

#include <cstdio>
#include <fcntl.h>
#include <functional>
#include <time.h>
#include <unistd.h>

namespace {

qint64 nowUs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return qint64(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int g_logFd = -1;

void logLine(QJsonObject object)
{
    object.insert(QStringLiteral("t"), nowUs());
    const QByteArray line = QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
    // One write per line (O_APPEND): whole lines even if the process dies right after.
    if (g_logFd >= 0 && ::write(g_logFd, line.constData(), size_t(line.size())) < 0)
        std::perror("soakworker: log write");
}

void say(const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

QtMessageHandler g_previousHandler = nullptr;

void messageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (context.category && qstrcmp(context.category, "distributedpromise") == 0) {
        const char *level = type == QtDebugMsg ? "d"
            : type == QtInfoMsg                ? "i"
            : type == QtWarningMsg             ? "w"
                                               : "c";
        logLine({ { QStringLiteral("k"), QStringLiteral("log") },
            { QStringLiteral("lvl"), QLatin1String(level) }, { QStringLiteral("msg"), message } });
        if (type != QtCriticalMsg && type != QtFatalMsg)
            return;
    }
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    const auto option = [&](const char *name, const char *value, const char *fallback = nullptr) {
        QCommandLineOption o(
            QString::fromLatin1(name), QString::fromLatin1(name), QString::fromLatin1(value));
        if (fallback)
            o.setDefaultValue(QString::fromLatin1(fallback));
        parser.addOption(o);
        return o;
    };
    const QCommandLineOption url = option("url", "url");
    const QCommandLineOption prefix = option("prefix", "prefix", "soak");
    const QCommandLineOption logFile = option("log", "file");
    const QCommandLineOption untilMs = option("until-ms", "epoch-ms");
    const QCommandLineOption seed = option("seed", "n", "1");
    const QCommandLineOption pool = option("pool", "n", "8");
    const QCommandLineOption ttlMs = option("ttl-ms", "ms", "500");
    const QCommandLineOption lockMs = option("lock-ms", "ms", "600");
    const QCommandLineOption workMin = option("work-min-ms", "ms", "10");
    const QCommandLineOption workMax = option("work-max-ms", "ms", "300");
    const QCommandLineOption failPercent = option("fail-percent", "n", "10");
    const QCommandLineOption inFlight = option("in-flight", "n", "3");
    const QCommandLineOption gapMax = option("gap-max-ms", "ms", "40");
    const QCommandLineOption unavailable = option("unavailable", "local|fail", "local");
    const QCommandLineOption commandTimeoutMs = option("command-timeout-ms", "ms", "5000");
    parser.process(app);

    g_logFd = ::open(QFile::encodeName(parser.value(logFile)).constData(),
        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_logFd < 0) {
        std::perror("soakworker: cannot open the log");
        return 2;
    }
    g_previousHandler = qInstallMessageHandler(messageHandler);

    const qint64 pid = QCoreApplication::applicationPid();
    const bool failMode = parser.value(unavailable) == QLatin1String("fail");
    DistributedPromiseConfig config;
    config.redisUrl = QUrl(parser.value(url));
    config.keyPrefix = parser.value(prefix);
    config.ttl = std::chrono::milliseconds(parser.value(ttlMs).toLongLong());
    config.lockTimeout = std::chrono::milliseconds(parser.value(lockMs).toLongLong());
    config.commandTimeout = std::chrono::milliseconds(parser.value(commandTimeoutMs).toLongLong());
    config.whenRedisUnavailable
        = failMode ? DistributedPromiseConfig::Fail : DistributedPromiseConfig::RunLocally;
    DistributedPromiseWrapper wrapper(config);
    logLine({ { QStringLiteral("k"), QStringLiteral("start") }, { QStringLiteral("pid"), pid },
        { QStringLiteral("mode"), failMode ? QStringLiteral("fail") : QStringLiteral("local") } });
    QObject::connect(&wrapper, &DistributedPromiseWrapper::connectedChanged, &app, [](bool up) {
        logLine({ { QStringLiteral("k"), QStringLiteral("conn") }, { QStringLiteral("up"), up } });
    });

    QRandomGenerator random(quint32(parser.value(seed).toUInt()));
    const int minWork = parser.value(workMin).toInt();
    const int maxWork = parser.value(workMax).toInt();
    const int failures = parser.value(failPercent).toInt();
    int executions = 0;
    auto work = wrapper.wrap(QStringLiteral("soak"), [&](int id) {
        const QString exec = QStringLiteral("%1-%2").arg(pid).arg(++executions);
        const int duration = int(random.bounded(minWork, maxWork + 1));
        const bool fails = int(random.bounded(100)) < failures;
        const QString rnd = QString::number(random.generate(), 16);
        logLine({ { QStringLiteral("k"), QStringLiteral("exec") },
            { QStringLiteral("p"), QStringLiteral("s") }, { QStringLiteral("x"), exec },
            { QStringLiteral("id"), id }, { QStringLiteral("pid"), pid } });
        say("W " + exec.toUtf8());
        auto promise = std::make_shared<QPromise<QString>>();
        promise->start();
        QTimer::singleShot(duration, &app, [promise, exec, id, fails, rnd] {
            const QString out = fails ? QStringLiteral("e|%1|%2").arg(exec).arg(id)
                                      : QStringLiteral("v|%1|%2|%3").arg(exec).arg(id).arg(rnd);
            // Logged before the library sees the outcome, so no caller can have it earlier.
            logLine({ { QStringLiteral("k"), QStringLiteral("exec") },
                { QStringLiteral("p"), QStringLiteral("e") }, { QStringLiteral("x"), exec },
                { QStringLiteral("ok"), !fails }, { QStringLiteral("out"), out } });
            say("D " + exec.toUtf8());
            if (fails)
                promise->setException(
                    DistributedPromiseError(DistributedPromiseError::WorkFailed, out));
            else
                promise->addResult(out);
            promise->finish();
        });
        return promise->future();
    });

    const qint64 until = parser.value(untilMs).toLongLong() * 1000;
    const int poolSize = parser.value(pool).toInt();
    const int maxInFlight = parser.value(inFlight).toInt();
    const int maxGap = parser.value(gapMax).toInt();
    QHash<int, int> pendingById;
    int pending = 0;
    quint64 callsMade = 0;
    bool stopping = false;
    QTimer pacer;
    pacer.setSingleShot(true);

    const auto finishIfDone = [&] {
        if (!stopping || pending > 0)
            return;
        const DistributedPromiseStats s = wrapper.stats();
        logLine({ { QStringLiteral("k"), QStringLiteral("summary") },
            { QStringLiteral("calls"), qint64(callsMade) },
            { QStringLiteral("executions"), executions },
            { QStringLiteral("hits"), qint64(s.hits) },
            { QStringLiteral("misses"), qint64(s.misses) },
            { QStringLiteral("coalesced"), qint64(s.coalesced) },
            { QStringLiteral("won"), qint64(s.won) },
            { QStringLiteral("waited"), qint64(s.waited) },
            { QStringLiteral("takeovers"), qint64(s.takeovers) },
            { QStringLiteral("lostLeases"), qint64(s.lostLeases) },
            { QStringLiteral("localRuns"), qint64(s.localRuns) },
            { QStringLiteral("errors"), qint64(s.errors) },
            { QStringLiteral("reconnects"), qint64(s.reconnects) } });
        QCoreApplication::exit(0);
    };

    std::function<void()> tick;
    tick = [&] {
        if (nowUs() >= until) {
            stopping = true;
            finishIfDone();
            return;
        }
        if (pending < maxInFlight) {
            const int id = int(random.bounded(poolSize));
            const quint64 call = ++callsMade;
            const bool joined = pendingById.value(id) > 0;
            ++pending;
            ++pendingById[id];
            logLine({ { QStringLiteral("k"), QStringLiteral("call") },
                { QStringLiteral("p"), QStringLiteral("s") }, { QStringLiteral("c"), qint64(call) },
                { QStringLiteral("id"), id }, { QStringLiteral("j"), joined } });
            work(id).then(&app, [&, call, id](QFuture<QString> f) {
                QJsonObject end { { QStringLiteral("k"), QStringLiteral("call") },
                    { QStringLiteral("p"), QStringLiteral("e") },
                    { QStringLiteral("c"), qint64(call) } };
                try {
                    const QString value = f.result(); // rethrows a failure
                    end.insert(QStringLiteral("ok"), true);
                    end.insert(QStringLiteral("out"), value);
                } catch (const DistributedPromiseError &error) {
                    end.insert(QStringLiteral("ok"), false);
                    end.insert(
                        QStringLiteral("code"), DistributedPromiseError::codeName(error.code()));
                    end.insert(QStringLiteral("out"), error.message());
                } catch (const std::exception &error) {
                    end.insert(QStringLiteral("ok"), false);
                    end.insert(QStringLiteral("code"), QStringLiteral("foreign"));
                    end.insert(QStringLiteral("out"), QString::fromUtf8(error.what()));
                }
                logLine(end);
                --pending;
                --pendingById[id];
                if (!stopping && !pacer.isActive())
                    pacer.start(0);
                finishIfDone();
            });
        }
        if (pending < maxInFlight)
            pacer.start(int(random.bounded(maxGap + 1)));
        // else: the next outcome restarts the pacer.
    };
    QObject::connect(&pacer, &QTimer::timeout, &app, [&] { tick(); });

    const auto begin = [&] { pacer.start(0); };
    if (wrapper.isConnected()) {
        begin();
    } else {
        // Start once connected (or after a short grace period, e.g. while Redis restarts).
        QTimer::singleShot(2000, &app, [&] {
            if (!pacer.isActive() && callsMade == 0)
                begin();
        });
        QObject::connect(
            &wrapper, &DistributedPromiseWrapper::connectedChanged, &app, [&](bool up) {
                if (up && callsMade == 0 && !pacer.isActive())
                    begin();
            });
    }
    const int rc = app.exec();
    ::close(g_logFd);
    return rc;
}
