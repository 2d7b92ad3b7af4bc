// SPDX-License-Identifier: MIT
// A helper process for the multi-process tests: makes N concurrent calls of one wrapped work and
// prints what happened as one JSON line. It prints READY once connected and starts on "GO" from
// stdin, so a test can start many processes and release them at once. It prints WORKING when its
// work starts, so a test can kill the process that holds the lock.
//
// --value-pid makes the value carry this process's pid ("value-of-x-pid-1234"), so a test can
// tell which process's execution a value came from; --unavailable local|fail chooses
// whenRedisUnavailable (default fail); --sync-work blocks the thread for the work time instead of
// returning a future (the event loop stands still meanwhile); --quit-after-ms quits the
// application that long after the work started (a window closed while it works), printing
// QUIT and the codes of what the callers got. --command-timeout-ms sets commandTimeout. A "DONE"
// line on stdin ends the work in progress at once (a test decides when the finish goes out), and
// any later work then takes 50 ms instead of --work-ms. --linger-ms keeps the process (and its
// connections) alive that long after RESULT, as a long-lived application would be.

#include <DistributedPromise>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPromise>
#include <QtCore/QSocketNotifier>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#include <cstdio>
#include <functional>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {
void say(const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    const QCommandLineOption url(
        QStringLiteral("url"), QStringLiteral("Redis URL"), QStringLiteral("url"));
    const QCommandLineOption prefix(
        QStringLiteral("prefix"), QStringLiteral("key prefix"), QStringLiteral("p"));
    const QCommandLineOption arg(QStringLiteral("arg"), QStringLiteral("argument"),
        QStringLiteral("a"), QStringLiteral("x"));
    const QCommandLineOption calls(QStringLiteral("calls"), QStringLiteral("calls"),
        QStringLiteral("n"), QStringLiteral("10"));
    const QCommandLineOption workMs(QStringLiteral("work-ms"), QStringLiteral("work time"),
        QStringLiteral("ms"), QStringLiteral("200"));
    const QCommandLineOption lockMs(QStringLiteral("lock-ms"), QStringLiteral("lock timeout"),
        QStringLiteral("ms"), QStringLiteral("30000"));
    const QCommandLineOption ttlMs(QStringLiteral("ttl-ms"), QStringLiteral("cache ttl"),
        QStringLiteral("ms"), QStringLiteral("60000"));
    const QCommandLineOption fail(QStringLiteral("fail"), QStringLiteral("fail with this message"),
        QStringLiteral("message"));
    const QCommandLineOption noGo(
        QStringLiteral("no-go"), QStringLiteral("start without waiting for GO"));
    const QCommandLineOption valuePid(
        QStringLiteral("value-pid"), QStringLiteral("put this process's pid into the value"));
    const QCommandLineOption unavailable(QStringLiteral("unavailable"),
        QStringLiteral("whenRedisUnavailable: local or fail"), QStringLiteral("mode"),
        QStringLiteral("fail"));
    const QCommandLineOption syncWork(
        QStringLiteral("sync-work"), QStringLiteral("block the thread for the work time"));
    const QCommandLineOption quitAfter(QStringLiteral("quit-after-ms"),
        QStringLiteral("quit this long after the work started"), QStringLiteral("ms"));
    const QCommandLineOption commandTimeoutMs(QStringLiteral("command-timeout-ms"),
        QStringLiteral("commandTimeout"), QStringLiteral("ms"));
    const QCommandLineOption lingerMs(QStringLiteral("linger-ms"),
        QStringLiteral("stay this long after RESULT"), QStringLiteral("ms"), QStringLiteral("0"));
    parser.addOptions({ url, prefix, arg, calls, workMs, lockMs, ttlMs, fail, noGo, valuePid,
        unavailable, syncWork, quitAfter, commandTimeoutMs, lingerMs });
    parser.process(app);

    DistributedPromiseConfig config;
    config.redisUrl = QUrl(parser.value(url));
    config.keyPrefix = parser.value(prefix);
    config.lockTimeout = std::chrono::milliseconds(parser.value(lockMs).toLongLong());
    config.ttl = std::chrono::milliseconds(parser.value(ttlMs).toLongLong());
    config.whenRedisUnavailable = parser.value(unavailable) == QLatin1String("local")
        ? DistributedPromiseConfig::RunLocally
        : DistributedPromiseConfig::Fail;
    if (parser.isSet(commandTimeoutMs))
        config.commandTimeout = std::chrono::milliseconds(parser.value(commandTimeoutMs).toInt());
    DistributedPromiseWrapper wrapper(config);

    int executions = 0;
    const int work = parser.value(workMs).toInt();
    const QString failure = parser.value(fail);
    const QString valueSuffix = parser.isSet(valuePid)
        ? QStringLiteral("-pid-%1").arg(QCoreApplication::applicationPid())
        : QString();
    const bool blocking = parser.isSet(syncWork);
    const int quitMs = parser.isSet(quitAfter) ? parser.value(quitAfter).toInt() : -1;
    // Work in progress that a "DONE" line ends at once; after that line, work takes 50 ms.
    std::vector<std::function<void()>> endWork;
    bool released = false;
    auto slow = wrapper.wrap(QStringLiteral("slow"), [&](const QString &a) {
        ++executions;
        say("WORKING");
        if (quitMs >= 0)
            QTimer::singleShot(quitMs, &app, [] {
                say("QUIT");
                QCoreApplication::quit();
            });
        if (blocking) {
            QThread::msleep(ulong(work));
            if (!failure.isEmpty())
                throw DistributedPromiseError(DistributedPromiseError::WorkFailed, failure);
            return QtFuture::makeReadyFuture(
                QString(QStringLiteral("value-of-") + a + valueSuffix));
        }
        auto promise = std::make_shared<QPromise<QString>>();
        promise->start();
        const auto end = [promise, a, failure, valueSuffix] {
            if (promise->future().isFinished())
                return;
            if (failure.isEmpty())
                promise->addResult(QStringLiteral("value-of-") + a + valueSuffix);
            else
                promise->setException(
                    DistributedPromiseError(DistributedPromiseError::WorkFailed, failure));
            promise->finish();
        };
        endWork.push_back(end);
        QTimer::singleShot(released ? 50 : work, &app, end);
        return promise->future();
    });

    const int n = parser.value(calls).toInt();
    QJsonArray values;
    QJsonArray errors;
    QJsonArray waits;
    int finished = 0;
    QElapsedTimer clock;
    const auto start = [&] {
        clock.start();
        for (int i = 0; i < n; ++i) {
            slow(parser.value(arg))
                .then(&app,
                    [&](const QString &value) {
                        values.append(value);
                        waits.append(double(clock.nsecsElapsed()) / 1e6);
                    })
                .onFailed(&app,
                    [&](const DistributedPromiseError &error) {
                        errors.append(
                            QJsonObject { { QStringLiteral("code"),
                                              DistributedPromiseError::codeName(error.code()) },
                                { QStringLiteral("message"), error.message() } });
                    })
                .then(&app, [&] {
                    if (++finished < n)
                        return;
                    const DistributedPromiseStats stats = wrapper.stats();
                    const QJsonObject summary {
                        { QStringLiteral("executions"), executions },
                        { QStringLiteral("values"), values },
                        { QStringLiteral("errors"), errors },
                        { QStringLiteral("waitsMs"), waits },
                        { QStringLiteral("won"), qint64(stats.won) },
                        { QStringLiteral("waited"), qint64(stats.waited) },
                        { QStringLiteral("hits"), qint64(stats.hits) },
                        { QStringLiteral("takeovers"), qint64(stats.takeovers) },
                        { QStringLiteral("lostLeases"), qint64(stats.lostLeases) },
                        { QStringLiteral("localRuns"), qint64(stats.localRuns) },
                        { QStringLiteral("reconnects"), qint64(stats.reconnects) },
                        { QStringLiteral("pid"), QCoreApplication::applicationPid() },
                    };
                    say("RESULT " + QJsonDocument(summary).toJson(QJsonDocument::Compact));
                    QTimer::singleShot(
                        parser.value(lingerMs).toInt(), &app, &QCoreApplication::quit);
                });
        }
    };

    QSocketNotifier stdinNotifier(STDIN_FILENO, QSocketNotifier::Read);
    stdinNotifier.setEnabled(false);
    bool started = false;
    QByteArray input;
    QObject::connect(&stdinNotifier, &QSocketNotifier::activated, &app, [&] {
        char buffer[64];
        const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (got <= 0) {
            if (got < 0)
                qWarning("cannot read stdin");
            stdinNotifier.setEnabled(false);
            return;
        }
        input.append(buffer, got);
        for (qsizetype eol = input.indexOf('\n'); eol >= 0; eol = input.indexOf('\n')) {
            const QByteArray line = input.left(eol).trimmed();
            input.remove(0, eol + 1);
            if (line == "DONE") {
                released = true;
                for (const auto &end : std::exchange(endWork, {}))
                    end();
            } else if (!started) {
                started = true;
                start();
            }
        }
    });
    const auto ready = [&] {
        stdinNotifier.setEnabled(true); // GO, and DONE
        if (parser.isSet(noGo)) {
            started = true;
            start();
            return;
        }
        say("READY");
    };
    if (wrapper.isConnected())
        ready();
    else
        QObject::connect(&wrapper, &DistributedPromiseWrapper::connectedChanged, &app,
            [&, done = false](bool connected) mutable {
                if (connected && !done) {
                    done = true;
                    ready();
                }
            });
    return app.exec();
}
