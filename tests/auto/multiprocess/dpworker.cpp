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
// connections) alive that long after RESULT, as a long-lived application would be, then prints
// FINAL with the executions and counters of the whole run.
//
// Freshness: --stale-for-ms, --soft-timeout-ms, --eager (a fraction of ttl), --no-fail-safe set
// the config; --value-tag makes the value "value-of-x-TAG"; --mode refresh|invalidate|
// invalidate-all|peek makes each call that operation instead of a plain call (peek's value is
// the entry's, or "none"). The wrap key's generation is read before READY, so that GO measures
// the calls alone.

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
    const QCommandLineOption staleForMs(QStringLiteral("stale-for-ms"), QStringLiteral("staleFor"),
        QStringLiteral("ms"), QStringLiteral("0"));
    const QCommandLineOption softTimeoutMs(QStringLiteral("soft-timeout-ms"),
        QStringLiteral("softTimeout"), QStringLiteral("ms"), QStringLiteral("0"));
    const QCommandLineOption eager(QStringLiteral("eager"), QStringLiteral("eagerRefresh"),
        QStringLiteral("fraction"), QStringLiteral("0"));
    const QCommandLineOption noFailSafe(
        QStringLiteral("no-fail-safe"), QStringLiteral("failSafe off"));
    const QCommandLineOption valueTag(
        QStringLiteral("value-tag"), QStringLiteral("value suffix"), QStringLiteral("tag"));
    const QCommandLineOption mode(QStringLiteral("mode"), QStringLiteral("what each call does"),
        QStringLiteral("call|refresh|invalidate|invalidate-all|peek"), QStringLiteral("call"));
    parser.addOptions({ url, prefix, arg, calls, workMs, lockMs, ttlMs, fail, noGo, valuePid,
        unavailable, syncWork, quitAfter, commandTimeoutMs, lingerMs, staleForMs, softTimeoutMs,
        eager, noFailSafe, valueTag, mode });
    parser.process(app);

    DistributedPromiseConfig config;
    config.redisUrl = QUrl(parser.value(url));
    config.keyPrefix = parser.value(prefix);
    config.lockTimeout = std::chrono::milliseconds(parser.value(lockMs).toLongLong());
    config.ttl = std::chrono::milliseconds(parser.value(ttlMs).toLongLong());
    config.whenRedisUnavailable = parser.value(unavailable) == QLatin1String("local")
        ? DistributedPromiseConfig::RunLocally
        : DistributedPromiseConfig::Fail;
    config.staleFor = std::chrono::milliseconds(parser.value(staleForMs).toLongLong());
    config.softTimeout = std::chrono::milliseconds(parser.value(softTimeoutMs).toLongLong());
    config.eagerRefresh = parser.value(eager).toDouble();
    config.failSafe = !parser.isSet(noFailSafe);
    if (parser.isSet(commandTimeoutMs))
        config.commandTimeout = std::chrono::milliseconds(parser.value(commandTimeoutMs).toInt());
    DistributedPromiseWrapper wrapper(config);

    int executions = 0;
    const int work = parser.value(workMs).toInt();
    const QString failure = parser.value(fail);
    const QString valueSuffix = parser.isSet(valuePid)
        ? QStringLiteral("-pid-%1").arg(QCoreApplication::applicationPid())
        : parser.isSet(valueTag) ? u'-' + parser.value(valueTag)
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
        const QString what = parser.value(mode);
        const QString a = parser.value(arg);
        const auto one = [&]() -> QFuture<QString> {
            if (what == QLatin1String("refresh"))
                return slow.refresh(a);
            if (what == QLatin1String("invalidate"))
                return slow.invalidate(a).then([] { return QStringLiteral("invalidated"); });
            if (what == QLatin1String("invalidate-all"))
                return slow.invalidateAll().then([] { return QStringLiteral("invalidated"); });
            if (what == QLatin1String("peek"))
                return slow.peek(a).then([](const std::optional<QString> &value) {
                    return value.value_or(QStringLiteral("none"));
                });
            return slow(a);
        };
        for (int i = 0; i < n; ++i) {
            one()
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
                        { QStringLiteral("stale"), qint64(stats.stale) },
                        { QStringLiteral("refreshes"), qint64(stats.refreshes) },
                        { QStringLiteral("eagerRefreshes"), qint64(stats.eagerRefreshes) },
                        { QStringLiteral("invalidations"), qint64(stats.invalidations) },
                        { QStringLiteral("pid"), QCoreApplication::applicationPid() },
                    };
                    say("RESULT " + QJsonDocument(summary).toJson(QJsonDocument::Compact));
                    QTimer::singleShot(parser.value(lingerMs).toInt(), &app, [&] {
                        // What happened after RESULT too (work that went on in the background).
                        const DistributedPromiseStats last = wrapper.stats();
                        say("FINAL "
                            + QJsonDocument(
                                QJsonObject { { QStringLiteral("executions"), executions },
                                    { QStringLiteral("won"), qint64(last.won) },
                                    { QStringLiteral("refreshes"), qint64(last.refreshes) },
                                    { QStringLiteral("eagerRefreshes"),
                                        qint64(last.eagerRefreshes) } })
                                  .toJson(QJsonDocument::Compact));
                        QCoreApplication::quit();
                    });
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
    // Connected, and the wrap key's generation known (a peek reads it), before READY.
    const auto warmUp = [&] {
        slow.peek(QStringLiteral("warm-up")).then(&app, [&](const std::optional<QString> &) {
            ready();
        });
    };
    if (wrapper.isConnected())
        warmUp();
    else
        QObject::connect(&wrapper, &DistributedPromiseWrapper::connectedChanged, &app,
            [&, done = false](bool connected) mutable {
                if (connected && !done) {
                    done = true;
                    warmUp();
                }
            });
    return app.exec();
}
