// SPDX-License-Identifier: MIT
// The soak test: several soakworker processes hammer a small pool of identities through one
// private redis-server for a while (default 40 s; --seconds N or SOAK_SECONDS=N), with short
// ttl and lease so that identities expire and are recomputed all the time, random work times and
// random failures. Meanwhile the controller SIGKILLs a process that is running the work a few
// times (and starts a replacement), freezes one with SIGSTOP past its lease (then SIGCONT),
// restarts redis-server once without persistence and once with it (a LOADING restart: the data
// is saved, and loading it answers -LOADING for a while). The workers reach Redis through a
// FaultProxy, which, every 40 s of the run, cuts every connection once, delays the command
// connections' replies past commandTimeout for a second, and black-holes the subscriber
// connections for 1.5 s; and Redis runs out of memory (maxmemory below its use, noeviction) for
// 1.5 s. Every worker logs every execution and every call (see soakworker.cpp); at the end the
// logs are checked.
//
// What "per identity and cache window, the work ran once" means here
// -------------------------------------------------------------------
// For one identity X, an execution E runs from s(E) (the work was called) to e(E) (its outcome
// was produced). A successful execution whose finish script succeeded writes the cache at some
// p(E) in [e(E), d(E)], where d(E) is the moment the first caller in E's own process got the
// outcome (that caller is answered only after the script's reply). The value then lives in Redis
// for exactly ttl: its cache window is [p(E), p(E) + ttl), which contains [d(E), e(E) + ttl).
//
//  (1) Mutual exclusion: two executions of X never overlap in time, [s(E1), e(E1)] and
//      [s(E2), e(E2)] are disjoint, unless one of these explains it:
//        - the earlier one lost its lease while working (its process logged "lost the lock of X",
//          "after its lease was lost" or "the lease of X ran out before a renewal"; with a 600 ms
//          lease on a busy 2-core machine, or a frozen process, a holder can be starved past its
//          lease, and the protocol then lets a waiter take over: that is a takeover, and the old
//          holder must not overwrite a newer value; once that value has expired, its own finish
//          caches like any execution's),
//        - one of them ran while Redis was away (a restart window, a proxy fault's window, or
//          the process's own disconnected interval): RunLocally runs the work in each process,
//          and a restarted server has lost the lock,
//        - one of them was cut by SIGKILL (its interval ends at the kill).
//  (2) Once per cache window: no execution of X starts inside a cache window of X, i.e. for a
//      successful E that was cached (not local, no lost lease, no failed publish, no failed
//      cache write: out of memory), no other
//      execution E2 of X has s(E2) in [d(E), e(E) + ttl), unless Redis was restarted between
//      e(E) and s(E2) (the cache went with it) or E2 ran without Redis. The lock script looks at
//      the cache before it takes the lock, so inside the window nobody can win the lock; an
//      execution that took the lock before E published would have made E's finish fail.
//      Expiry is what ends a window: after e(E) + ttl (measured conservatively from e(E), not
//      p(E)) the next caller recomputes, and that is a new window, not a duplicate. Failed
//      executions open no window (errors are not cached), so the next caller runs the work
//      again at once.
//  (3) Every caller of one execution saw the same outcome, and exactly the execution's outcome:
//      every value/error names its execution, which must exist, be of the same identity and
//      have produced exactly that outcome. The only outcomes without an execution are
//      ConnectionFailed, from the worker in Fail mode, and only during an outage.
//  (4) Errors are never served from the cache: the cache, sampled every 25 ms, never holds an
//      error (and only ever holds the exact value of a successful execution of its identity);
//      a caller that had no call of X in flight in its process when it started (so its flight
//      began with a fresh GET) and got E's error must have started before d(E) (before the
//      publish, it could only have heard it on the channel). An execution that lost its lease
//      never reaches another process at all.
//  (5) Every call finished: each surviving worker exits 0 after its calls, and every call it
//      started has an outcome. Calls in a killed worker die with it.
//
// A "duplicate execution" below is an execution that overlapped another of its identity (with
// an explanation), started inside another's cache window (with an explanation), or ran again
// because the holder was killed.

#include "faultproxy.h"
#include "redisserver.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QHash>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpSocket>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <vector>

using DistributedPromiseTest::RedisServer;

namespace {

qint64 nowUs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return qint64(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void out(const QString &line)
{
    std::fprintf(stdout, "%s\n", qPrintable(line));
    std::fflush(stdout);
}

struct Settings
{
    int seconds = 40;
    int workers = 5;
    int pool = 8;
    int ttlMs = 500;
    int lockMs = 600;
    int kills = 3;
    int freezes = 1;
    int commandTimeoutMs = 500;
    quint32 seed = 0;
    bool keepLogs = false;
};

struct Interval
{
    qint64 from = 0;
    qint64 to = 0;
    bool intersects(qint64 a, qint64 b) const { return a <= to && from <= b; }
    bool contains(qint64 t) const { return from <= t && t <= to; }
};

struct Worker
{
    int index = 0;
    bool failMode = false;
    QString logPath;
    std::unique_ptr<QProcess> process;
    qint64 pid = 0;
    QByteArray stdoutBuffer;
    QHash<QByteArray, qint64> running; // exec -> when it started (controller clock)
    qint64 killedAt = -1;
    bool frozen = false;
    bool exited = false;
    int exitCode = -1;
    QProcess::ExitStatus exitStatus = QProcess::NormalExit;
};

// What the logs say, after the run.
struct Execution
{
    QString id;
    int identity = -1;
    int worker = -1;
    qint64 start = 0;
    qint64 end = -1; // -1: never ended
    bool ok = false;
    QString out;
    qint64 firstLocalDone = -1; // d(E)
    bool cut = false; // killed before it ended
    bool local = false; // ran while its process had no Redis
    bool lostLease = false;
    bool leaseRanOut = false; // the lease keeper said no renewal got through within the lease
    bool publishFailed = false;
    bool notCached = false; // its finish could not write the cache (out of memory)
    bool remoteCallers = false;
    qint64 flightBegan = -1; // a lower bound of when its process asked for the lock
};

struct Call
{
    int worker = -1;
    qint64 number = 0;
    int identity = -1;
    bool joined = false;
    qint64 start = 0;
    qint64 end = -1;
    bool ok = false;
    QString code;
    QString out;
};

struct LogEvent
{
    qint64 t = 0;
    QString level;
    QString message;
};

struct WorkerLog
{
    qint64 pid = 0;
    bool failMode = false;
    QList<Interval> offline; // when connectedChanged said false until it said true again
    QList<LogEvent> events;
    std::optional<QJsonObject> summary;
};

/*!
    Reads MGET replies (an array of bulk strings or nils) off a RESP stream. Returns false while
    the reply is incomplete; an error reply (e.g. -LOADING) gives an empty list.
*/
bool takeReply(QByteArray &buffer, QList<std::optional<QByteArray>> *values)
{
    values->clear();
    const auto line = [&](qsizetype from, qsizetype *next) -> std::optional<QByteArray> {
        const qsizetype end = buffer.indexOf("\r\n", from);
        if (end < 0)
            return std::nullopt;
        *next = end + 2;
        return buffer.mid(from, end - from);
    };
    qsizetype pos = 0;
    const auto header = line(0, &pos);
    if (!header)
        return false;
    if (!header->startsWith('*')) {
        buffer.remove(0, pos);
        return true;
    }
    const int count = header->mid(1).toInt();
    for (int i = 0; i < count; ++i) {
        const auto size = line(pos, &pos);
        if (!size)
            return false;
        const int length = size->mid(1).toInt();
        if (length < 0) {
            values->append(std::nullopt);
            continue;
        }
        if (buffer.size() < pos + length + 2)
            return false;
        values->append(buffer.mid(pos, length));
        pos += length + 2;
    }
    buffer.remove(0, pos);
    return true;
}

class Soak : public QObject
{
public:
    explicit Soak(const Settings &settings)
        : m_settings(settings)
    { }

    int run()
    {
        if (!m_dir.isValid()) {
            out(QStringLiteral("soak: cannot create a temporary directory"));
            return 2;
        }
        m_dir.setAutoRemove(!m_settings.keepLogs);
        if (!m_server.start()) {
            out(QStringLiteral("soak: %1").arg(m_server.errorString()));
            return 2;
        }
        m_proxy = std::make_unique<DistributedPromiseTest::FaultProxy>(m_server.port());
        if (!m_proxy->start()) {
            out(QStringLiteral("soak: fault proxy: %1").arg(m_proxy->errorString()));
            return 2;
        }
        m_random.seed(m_settings.seed);
        const qint64 startUs = nowUs();
        m_untilUs = startUs + qint64(m_settings.seconds) * 1000000;
        out(QStringLiteral(
            "soak: %1 s, %2 workers, %3 identities, ttl %4 ms, lease %5 ms, seed %6, "
            "logs in %7")
                .arg(m_settings.seconds)
                .arg(m_settings.workers)
                .arg(m_settings.pool)
                .arg(m_settings.ttlMs)
                .arg(m_settings.lockMs)
                .arg(m_settings.seed)
                .arg(m_dir.path()));
        for (int i = 0; i < m_settings.workers; ++i)
            startWorker(/*failMode=*/i == m_settings.workers - 1);

        // Faults: kills spread over the run, one restart in the middle (apart from the kills).
        const double killAt[] = { 0.2, 0.4, 0.75, 0.85, 0.3, 0.65 };
        for (int i = 0; i < std::min<int>(m_settings.kills, int(std::size(killAt))); ++i)
            QTimer::singleShot(int(m_settings.seconds * 1000 * killAt[i]), Qt::PreciseTimer, this,
                [this] { killAHolder(QDeadlineTimer(3000)); });
        QTimer::singleShot(int(m_settings.seconds * 1000 * 0.55), Qt::PreciseTimer, this,
            [this] { restartRedis(false); });
        QTimer::singleShot(int(m_settings.seconds * 1000 * 0.85), Qt::PreciseTimer, this,
            [this] { restartRedis(true); });
        // Network faults and an out-of-memory window, every 40 s of the run.
        for (int cycle = 0; cycle * 40 < m_settings.seconds; ++cycle) {
            const int base = cycle * 40000;
            const int span = std::min(40, m_settings.seconds - cycle * 40) * 1000;
            QTimer::singleShot(base + span * 12 / 100, Qt::PreciseTimer, this, [this] {
                const qint64 from = nowUs();
                const int cut = m_proxy->cut();
                endOutage(from, QStringLiteral("cut %1 connections").arg(cut));
            });
            QTimer::singleShot(base + span * 33 / 100, Qt::PreciseTimer, this, [this] {
                const qint64 from = nowUs();
                const auto commands = DistributedPromiseTest::FaultProxy::Target::commands();
                m_proxy->setDelay(m_settings.commandTimeoutMs + 200, commands);
                QTimer::singleShot(1000, this, [this, from, commands] {
                    m_proxy->setDelay(0, commands);
                    endOutage(from,
                        QStringLiteral("command replies delayed by %1 ms for 1 s")
                            .arg(m_settings.commandTimeoutMs + 200));
                });
            });
            QTimer::singleShot(base + span * 47 / 100, Qt::PreciseTimer, this, [this] {
                const qint64 from = nowUs();
                const auto subscribers = DistributedPromiseTest::FaultProxy::Target::subscriber();
                m_proxy->setBlackhole(
                    DistributedPromiseTest::FaultProxy::Direction::Down, subscribers);
                QTimer::singleShot(1500, this, [this, from, subscribers] {
                    m_proxy->setBlackhole(
                        DistributedPromiseTest::FaultProxy::Direction::Down, subscribers, false);
                    endOutage(from, QStringLiteral("subscriber connections black-holed for 1.5 s"));
                });
            });
            QTimer::singleShot(
                base + span * 65 / 100, Qt::PreciseTimer, this, [this] { outOfMemory(); });
        }
        const double freezeAt[] = { 0.3, 0.9, 0.1 };
        for (int i = 0; i < std::min<int>(m_settings.freezes, int(std::size(freezeAt))); ++i)
            QTimer::singleShot(int(m_settings.seconds * 1000 * freezeAt[i]), Qt::PreciseTimer, this,
                [this] { freezeAHolder(QDeadlineTimer(3000)); });

        // The cache sampler.
        connect(&m_sampler, &QTcpSocket::readyRead, this, [this] { readSample(); });
        connect(&m_sampler, &QTcpSocket::disconnected, this, [this] {
            m_samplerBuffer.clear();
            m_sampleInFlight = false;
        });
        connect(&m_sampleTimer, &QTimer::timeout, this, [this] { sample(); });
        m_sampleTimer.start(25);

        // Bounded: a worker still running a minute after the end is hung.
        QTimer::singleShot(int((m_untilUs - nowUs()) / 1000) + 60000, this, [this] {
            m_hung = true;
            QCoreApplication::exit(0);
        });
        connect(&m_doneCheck, &QTimer::timeout, this, [this] {
            if (nowUs() >= m_untilUs && allExited())
                QCoreApplication::exit(0);
        });
        m_doneCheck.start(100);
        QCoreApplication::exec();
        m_sampleTimer.stop();
        m_sampler.abort();
        if (m_hung) {
            for (Worker &w : m_workers) {
                if (!w.exited && w.killedAt < 0) {
                    out(QStringLiteral("soak: worker %1 (pid %2) hung; killing it")
                            .arg(w.index)
                            .arg(w.pid));
                    w.process->kill();
                    w.process->waitForFinished(5000);
                }
            }
        }
        const int violations = analyse(startUs);
        if (violations > 0 || m_hung) {
            m_dir.setAutoRemove(false);
            out(QStringLiteral("soak: FAILED with %1 violation(s); logs kept in %2 (seed %3)")
                    .arg(violations)
                    .arg(m_dir.path())
                    .arg(m_settings.seed));
            return 1;
        }
        out(QStringLiteral("soak: PASSED"));
        return 0;
    }

private:
    void startWorker(bool failMode)
    {
        Worker w;
        w.index = int(m_workers.size());
        w.failMode = failMode;
        w.logPath = QDir(m_dir.path()).filePath(QStringLiteral("worker-%1.log").arg(w.index));
        w.process = std::make_unique<QProcess>();
        w.process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        w.process->setStandardInputFile(QProcess::nullDevice());
        // A worker never outlives the controller (SIGKILL when it dies).
        w.process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
        w.process->start(QStringLiteral(SOAKWORKER_PATH),
            { QStringLiteral("--url"), m_proxy->url().toString(), QStringLiteral("--prefix"),
                QStringLiteral("soak"), QStringLiteral("--log"), w.logPath,
                QStringLiteral("--until-ms"), QString::number(m_untilUs / 1000),
                QStringLiteral("--seed"), QString::number(m_settings.seed + 1 + quint32(w.index)),
                QStringLiteral("--pool"), QString::number(m_settings.pool),
                QStringLiteral("--ttl-ms"), QString::number(m_settings.ttlMs),
                QStringLiteral("--lock-ms"), QString::number(m_settings.lockMs),
                QStringLiteral("--command-timeout-ms"),
                QString::number(m_settings.commandTimeoutMs), QStringLiteral("--unavailable"),
                failMode ? QStringLiteral("fail") : QStringLiteral("local") });
        if (!w.process->waitForStarted(10000)) {
            out(QStringLiteral("soak: cannot start %1: %2")
                    .arg(QStringLiteral(SOAKWORKER_PATH), w.process->errorString()));
            m_startFailures++;
            return;
        }
        w.pid = w.process->processId();
        const int index = w.index;
        QProcess *process = w.process.get();
        connect(process, &QProcess::readyReadStandardOutput, this,
            [this, index] { readWorker(index); });
        connect(process, &QProcess::finished, this,
            [this, index](int code, QProcess::ExitStatus status) {
                Worker &worker = m_workers[size_t(index)];
                worker.exited = true;
                worker.exitCode = code;
                worker.exitStatus = status;
            });
        m_workers.push_back(std::move(w));
    }

    void readWorker(int index)
    {
        Worker &w = m_workers[size_t(index)];
        w.stdoutBuffer += w.process->readAllStandardOutput();
        qsizetype newline;
        while ((newline = w.stdoutBuffer.indexOf('\n')) >= 0) {
            const QByteArray line = w.stdoutBuffer.left(newline);
            w.stdoutBuffer.remove(0, newline + 1);
            if (line.startsWith("W "))
                w.running.insert(line.mid(2), nowUs());
            else if (line.startsWith("D "))
                w.running.remove(line.mid(2));
        }
    }

    bool allExited() const
    {
        return std::all_of(m_workers.cbegin(), m_workers.cend(),
            [](const Worker &w) { return w.exited || w.killedAt >= 0; });
    }

    /*! A process that is running the work (for a little while already), or -1. */
    int pickAHolder()
    {
        for (size_t i = 0; i < m_workers.size(); ++i)
            readWorker(int(i));
        std::vector<int> candidates;
        for (const Worker &w : m_workers) {
            if (w.exited || w.killedAt >= 0 || w.frozen)
                continue;
            const bool holding = std::any_of(w.running.cbegin(), w.running.cend(),
                [](qint64 since) { return nowUs() - since > 20000; });
            if (holding)
                candidates.push_back(w.index);
        }
        return candidates.empty() ? -1 : candidates[m_random.bounded(int(candidates.size()))];
    }

    void killAHolder(QDeadlineTimer patience)
    {
        const int chosen = pickAHolder();
        if (chosen < 0) {
            if (!patience.hasExpired() && nowUs() < m_untilUs - 2000000)
                QTimer::singleShot(10, this, [this, patience] { killAHolder(patience); });
            else
                out(QStringLiteral("soak: found no holder to kill"));
            return;
        }
        Worker &victim = m_workers[size_t(chosen)];
        const QByteArray wasRunning = QByteArrayList(victim.running.keys()).join(' ');
        ::kill(pid_t(victim.pid), SIGKILL);
        victim.process->waitForFinished(5000);
        victim.killedAt = nowUs();
        ++m_kills;
        out(QStringLiteral("soak: killed worker %1 (pid %2) while it ran %3")
                .arg(victim.index)
                .arg(victim.pid)
                .arg(QString::fromLatin1(wasRunning)));
        // A replacement keeps the population up.
        if (nowUs() < m_untilUs - 1000000)
            startWorker(victim.failMode);
    }

    void freezeAHolder(QDeadlineTimer patience)
    {
        // SIGSTOP a holder past its lease, then let it go on: a waiter takes over, and the old
        // holder must find its lease lost and keep its outcome to itself.
        const int chosen = pickAHolder();
        if (chosen < 0) {
            if (!patience.hasExpired() && nowUs() < m_untilUs - 3000000)
                QTimer::singleShot(10, this, [this, patience] { freezeAHolder(patience); });
            else
                out(QStringLiteral("soak: found no holder to freeze"));
            return;
        }
        Worker &frozen = m_workers[size_t(chosen)];
        frozen.frozen = true;
        ::kill(pid_t(frozen.pid), SIGSTOP);
        ++m_freezes;
        out(QStringLiteral("soak: froze worker %1 (pid %2) while it ran %3")
                .arg(frozen.index)
                .arg(frozen.pid)
                .arg(QString::fromLatin1(frozen.running.keys().join(' '))));
        QTimer::singleShot(m_settings.lockMs + 400, this, [this, chosen] {
            Worker &w = m_workers[size_t(chosen)];
            ::kill(pid_t(w.pid), SIGCONT);
            w.frozen = false;
        });
    }

    /*! Stops redis-server and starts it again 300 ms later; \a keepData saves the data first,
        so the restarted server loads it (answering -LOADING meanwhile) and keeps locks and
        values. */
    void restartRedis(bool keepData)
    {
        Restart restart;
        restart.keepsData = keepData;
        restart.window.from = nowUs();
        if (keepData) {
            fill();
            m_server.cli({ QStringLiteral("SAVE") });
        }
        m_server.stop();
        restart.stoppedAt = nowUs();
        out(QStringLiteral("soak: stopped redis-server%1")
                .arg(keepData ? QStringLiteral(" (data saved)") : QString()));
        m_restarts.push_back(restart);
        const size_t index = m_restarts.size() - 1;
        QTimer::singleShot(300, this, [this, index] {
            Restart &r = m_restarts[index];
            if (!m_server.restart())
                out(QStringLiteral("soak: could not restart redis-server: %1")
                        .arg(m_server.errorString()));
            // restart() returns once the server answers PING: the data is loaded.
            r.restartedAt = nowUs();
            out(QStringLiteral("soak: restarted redis-server after %1 ms%2")
                    .arg((r.restartedAt - r.window.from) / 1000)
                    .arg(r.keepsData ? QStringLiteral(", data loaded") : QString()));
        });
    }

    /*! 2000 values of 1000 bytes: enough to put Redis over maxmemory at half its use, and for
        a restart with data to answer -LOADING for a while (key-load-delay). */
    void fill()
    {
        m_server.cli({ QStringLiteral("DEBUG"), QStringLiteral("POPULATE"), QStringLiteral("2000"),
            QStringLiteral("fill"), QStringLiteral("1000") });
    }

    /*! Redis out of memory (maxmemory at half its use, noeviction) for 1.5 s. */
    void outOfMemory()
    {
        if (!m_server.isRunning())
            return;
        fill();
        const QByteArray memory
            = m_server.cli({ QStringLiteral("INFO"), QStringLiteral("memory") });
        const qsizetype at = memory.indexOf("used_memory:");
        if (at < 0)
            return;
        const qint64 used = memory.mid(at + 12, memory.indexOf('\n', at) - at - 12).toLongLong();
        m_server.cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("maxmemory"),
            QString::number(used / 2) });
        const qint64 from = nowUs();
        QTimer::singleShot(1500, this, [this, from] {
            m_server.cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"),
                QStringLiteral("maxmemory"), QStringLiteral("0") });
            m_oomWindows.push_back({ from, nowUs() });
            out(QStringLiteral("soak: out of memory for %1 ms").arg((nowUs() - from) / 1000));
        });
    }

    /*! A proxy fault that began at \a from is over: Redis counts as away for its processes
        until then, plus commandTimeout and reconnecting. */
    void endOutage(qint64 from, const QString &what)
    {
        m_outages.push_back({ from, nowUs() + qint64(m_settings.commandTimeoutMs + 1500) * 1000 });
        out(QStringLiteral("soak: %1").arg(what));
    }

    void sample()
    {
        if (m_sampler.state() == QAbstractSocket::UnconnectedState) {
            if (m_server.isRunning())
                m_sampler.connectToHost(QHostAddress::LocalHost, m_server.port());
            return;
        }
        if (m_sampler.state() != QAbstractSocket::ConnectedState || m_sampleInFlight)
            return;
        QByteArray command = "*" + QByteArray::number(m_settings.pool + 1) + "\r\n$4\r\nMGET\r\n";
        for (int i = 0; i < m_settings.pool; ++i) {
            const QByteArray key = "soak:{soak:[" + QByteArray::number(i) + "]}";
            command += '$' + QByteArray::number(key.size()) + "\r\n" + key + "\r\n";
        }
        m_sampleInFlight = true;
        m_sampler.write(command);
    }

    void readSample()
    {
        m_samplerBuffer += m_sampler.readAll();
        QList<std::optional<QByteArray>> values;
        while (m_sampleInFlight && takeReply(m_samplerBuffer, &values)) {
            m_sampleInFlight = false;
            ++m_samples;
            for (int i = 0; i < values.size(); ++i) {
                if (values.at(i))
                    m_cached.push_back({ i, *values.at(i) });
            }
        }
    }

    int analyse(qint64 startUs);

    const Settings m_settings;
    QTemporaryDir m_dir { QDir::tempPath() + QStringLiteral("/dpsoak-XXXXXX") };
    RedisServer m_server { RedisServer::Transport::Tcp,
        { QStringLiteral("--enable-debug-command"), QStringLiteral("yes"),
            QStringLiteral("--maxmemory-policy"), QStringLiteral("noeviction"),
            QStringLiteral("--loading-process-events-interval-bytes"), QStringLiteral("1024"),
            QStringLiteral("--key-load-delay"), QStringLiteral("300") } };
    QRandomGenerator m_random;
    std::vector<Worker> m_workers;
    qint64 m_untilUs = 0;
    int m_kills = 0;
    int m_freezes = 0;
    struct Restart
    {
        Interval window; // from the stop until every process alive then had reconnected
        qint64 stoppedAt = -1;
        qint64 restartedAt = -1;
        bool keepsData = false;
    };
    std::vector<Restart> m_restarts;
    std::vector<Interval> m_outages; // proxy faults, with the time to notice and reconnect
    std::vector<Interval> m_oomWindows;
    std::unique_ptr<DistributedPromiseTest::FaultProxy> m_proxy;
    int m_startFailures = 0;
    bool m_hung = false;
    QTimer m_doneCheck;
    QTimer m_sampleTimer;
    QTcpSocket m_sampler;
    QByteArray m_samplerBuffer;
    bool m_sampleInFlight = false;
    qint64 m_samples = 0;
    std::vector<std::pair<int, QByteArray>> m_cached; // identity, envelope
};

int Soak::analyse(qint64 startUs)
{
    int violations = 0;
    QStringList reported;
    const auto violation = [&](const QString &what) {
        ++violations;
        if (reported.size() < 40)
            reported.append(what);
    };
    const auto ms
        = [startUs](qint64 t) { return QString::number(double(t - startUs) / 1000.0, 'f', 1); };

    // Read every log.
    std::vector<WorkerLog> logs(m_workers.size());
    std::map<QString, Execution> executions;
    std::vector<Call> calls;
    for (const Worker &w : m_workers) {
        WorkerLog &log = logs[size_t(w.index)];
        log.pid = w.pid;
        log.failMode = w.failMode;
        QFile file(w.logPath);
        if (!file.open(QIODevice::ReadOnly)) {
            violation(QStringLiteral("worker %1 wrote no log").arg(w.index));
            continue;
        }
        QHash<qint64, size_t> openCalls;
        qint64 offlineSince = -1;
        qint64 firstT = -1;
        while (!file.atEnd()) {
            const QByteArray line = file.readLine();
            const QJsonObject o = QJsonDocument::fromJson(line).object();
            if (o.isEmpty())
                continue; // a line cut by SIGKILL cannot happen (one write per line), but be safe
            const QString kind = o.value(QLatin1String("k")).toString();
            const qint64 t = o.value(QLatin1String("t")).toInteger();
            if (firstT < 0) {
                firstT = t;
                offlineSince = t; // not connected yet
            }
            if (kind == QLatin1String("exec")) {
                const QString id = o.value(QLatin1String("x")).toString();
                Execution &e = executions[id];
                if (o.value(QLatin1String("p")).toString() == QLatin1String("s")) {
                    e.id = id;
                    e.identity = o.value(QLatin1String("id")).toInt();
                    e.worker = w.index;
                    e.start = t;
                } else {
                    e.end = t;
                    e.ok = o.value(QLatin1String("ok")).toBool();
                    e.out = o.value(QLatin1String("out")).toString();
                }
            } else if (kind == QLatin1String("call")) {
                const qint64 number = o.value(QLatin1String("c")).toInteger();
                if (o.value(QLatin1String("p")).toString() == QLatin1String("s")) {
                    Call c;
                    c.worker = w.index;
                    c.number = number;
                    c.identity = o.value(QLatin1String("id")).toInt();
                    c.joined = o.value(QLatin1String("j")).toBool();
                    c.start = t;
                    openCalls.insert(number, calls.size());
                    calls.push_back(c);
                } else if (openCalls.contains(number)) {
                    Call &c = calls[openCalls.take(number)];
                    c.end = t;
                    c.ok = o.value(QLatin1String("ok")).toBool();
                    c.code = o.value(QLatin1String("code")).toString();
                    c.out = o.value(QLatin1String("out")).toString();
                }
            } else if (kind == QLatin1String("conn")) {
                const bool up = o.value(QLatin1String("up")).toBool();
                if (up && offlineSince >= 0) {
                    log.offline.append({ offlineSince, t });
                    offlineSince = -1;
                } else if (!up && offlineSince < 0) {
                    offlineSince = t;
                }
            } else if (kind == QLatin1String("log")) {
                log.events.append({ t, o.value(QLatin1String("lvl")).toString(),
                    o.value(QLatin1String("msg")).toString() });
            } else if (kind == QLatin1String("summary")) {
                log.summary = o;
            }
        }
        if (offlineSince >= 0)
            log.offline.append({ offlineSince, w.killedAt >= 0 ? w.killedAt : nowUs() });
    }

    // The restart windows: from the stop until every process alive then had reconnected (and,
    // for a restart that loads data, until a command refused with LOADING has given up). Redis
    // counts as away during them and during the proxy faults' windows.
    for (Restart &r : m_restarts) {
        r.window.to = r.restartedAt >= 0 ? r.restartedAt : nowUs();
        // A command answered -LOADING is retried until commandTimeout after it was first sent,
        // then counts as Redis away (a local run): such decisions come up to commandTimeout after
        // the data is loaded.
        if (r.keepsData && r.restartedAt >= 0)
            r.window.to = r.restartedAt + qint64(m_settings.commandTimeoutMs + 200) * 1000;
        for (const Worker &w : m_workers) {
            for (const Interval &off : logs[size_t(w.index)].offline) {
                if (off.intersects(r.window.from, r.restartedAt))
                    r.window.to = std::max(r.window.to, off.to);
            }
        }
    }
    const auto awayBetween = [&](qint64 a, qint64 b) {
        return std::any_of(m_restarts.cbegin(), m_restarts.cend(),
                   [&](const Restart &r) { return r.window.intersects(a, b); })
            || std::any_of(m_outages.cbegin(), m_outages.cend(),
                [&](const Interval &i) { return i.intersects(a, b); });
    };

    const auto offlineAt = [&](int worker, qint64 t) {
        if (awayBetween(t, t))
            return true;
        const auto &offline = logs[size_t(worker)].offline;
        return std::any_of(
            offline.cbegin(), offline.cend(), [t](const Interval &i) { return i.contains(t); });
    };
    const auto identityKey = [](int identity) { return QStringLiteral("soak:[%1]").arg(identity); };
    const auto warned = [&](int worker, int identity, qint64 from, qint64 to,
                            std::initializer_list<const char *> phrases) {
        const QString key = identityKey(identity);
        for (const LogEvent &event : logs[size_t(worker)].events) {
            if (event.t < from || event.t > to || !event.message.contains(key))
                continue;
            for (const char *phrase : phrases) {
                if (event.message.contains(QLatin1String(phrase)))
                    return true;
            }
        }
        return false;
    };

    // (5) Every call finished; every surviving worker exited 0 after its calls.
    int unfinished = 0;
    int diedWithWorker = 0;
    for (const Worker &w : m_workers) {
        if (w.killedAt >= 0)
            continue;
        if (!w.exited || w.exitStatus != QProcess::NormalExit || w.exitCode != 0)
            violation(QStringLiteral("worker %1 (pid %2) did not exit 0 (exited %3, code %4)")
                          .arg(w.index)
                          .arg(w.pid)
                          .arg(w.exited)
                          .arg(w.exitCode));
        if (!logs[size_t(w.index)].summary)
            violation(QStringLiteral("worker %1 wrote no summary").arg(w.index));
    }
    for (const Call &c : calls) {
        if (c.end >= 0)
            continue;
        if (m_workers[size_t(c.worker)].killedAt >= 0) {
            ++diedWithWorker;
        } else {
            ++unfinished;
            violation(QStringLiteral("call %1 of worker %2 on %3 never finished")
                          .arg(c.number)
                          .arg(c.worker)
                          .arg(identityKey(c.identity)));
        }
    }

    // Executions: cut by a kill, local, lost lease, d(E).
    for (auto &[id, e] : executions) {
        if (e.worker < 0) {
            violation(QStringLiteral("execution %1 ended but never started").arg(id));
            continue;
        }
        const Worker &w = m_workers[size_t(e.worker)];
        if (e.end < 0) {
            if (w.killedAt >= 0) {
                e.cut = true;
                e.end = w.killedAt;
            } else {
                violation(QStringLiteral("execution %1 of %2 never ended")
                              .arg(id, identityKey(e.identity)));
                e.end = nowUs();
            }
        }
        e.local = offlineAt(e.worker, e.start);
    }
    for (const Call &c : calls) {
        if (c.end < 0)
            continue;
        const QStringList parts = c.out.split(QLatin1Char('|'));
        if (parts.size() < 3)
            continue;
        auto it = executions.find(parts.at(1));
        if (it == executions.end())
            continue;
        Execution &e = it->second;
        if (c.worker == e.worker && (e.firstLocalDone < 0 || c.end < e.firstLocalDone))
            e.firstLocalDone = c.end;
        if (c.worker != e.worker)
            e.remoteCallers = true;
    }
    // The lock of E was taken after its flight began, and that was no earlier than the first
    // call of its identity in its process that was still in flight when E started.
    {
        QHash<std::pair<int, int>, std::vector<const Call *>> callsOf; // (worker, identity)
        for (const Call &c : calls)
            callsOf[{ c.worker, c.identity }].push_back(&c);
        for (auto &[id, e] : executions) {
            if (e.worker < 0)
                continue;
            for (const Call *c : callsOf.value({ e.worker, e.identity })) {
                if (c->start <= e.start && (c->end < 0 || c->end >= e.start)
                    && (e.flightBegan < 0 || c->start < e.flightBegan))
                    e.flightBegan = c->start;
            }
        }
    }
    for (auto &[id, e] : executions) {
        if (e.worker < 0)
            continue;
        const qint64 to = e.firstLocalDone >= 0 ? e.firstLocalDone + 1000 : e.end + 2000000;
        e.lostLease = warned(
            e.worker, e.identity, e.start, to, { "lost the lock of", "after its lease was lost" });
        e.leaseRanOut = warned(e.worker, e.identity, e.start, to, { "ran out before a renewal" });
        e.publishFailed = warned(e.worker, e.identity, e.start, to, { "could not publish" });
        e.notCached = warned(e.worker, e.identity, e.start, to, { "could not cache" });
    }

    // (3) Outcomes: every caller got exactly what its execution produced.
    QHash<QString, QSet<QString>> outcomesByExecution;
    int connectionFailed = 0;
    int errorCalls = 0;
    for (const Call &c : calls) {
        if (c.end < 0)
            continue;
        if (!c.ok && c.code == QLatin1String("ConnectionFailed")) {
            ++connectionFailed;
            const bool duringOutage = logs[size_t(c.worker)].failMode
                && (awayBetween(c.start, c.end)
                    || std::any_of(logs[size_t(c.worker)].offline.cbegin(),
                        logs[size_t(c.worker)].offline.cend(),
                        [&c](const Interval &i) { return i.intersects(c.start, c.end); }));
            if (!duringOutage)
                violation(QStringLiteral("call %1 of worker %2 failed with ConnectionFailed "
                                         "outside an outage: %3")
                              .arg(c.number)
                              .arg(c.worker)
                              .arg(c.out));
            continue;
        }
        if (!c.ok && c.code != QLatin1String("WorkFailed")) {
            violation(QStringLiteral("call %1 of worker %2 failed with %3: %4")
                          .arg(c.number)
                          .arg(c.worker)
                          .arg(c.code, c.out));
            continue;
        }
        const QStringList parts = c.out.split(QLatin1Char('|'));
        const auto it = parts.size() >= 3 ? executions.find(parts.at(1)) : executions.end();
        if (it == executions.end() || it->second.worker < 0) {
            violation(QStringLiteral("call %1 of worker %2 got an outcome of no execution: %3")
                          .arg(c.number)
                          .arg(c.worker)
                          .arg(c.out));
            continue;
        }
        const Execution &e = it->second;
        outcomesByExecution[e.id].insert(
            (c.ok ? QStringLiteral("ok:") : QStringLiteral("err:")) + c.out);
        if (e.identity != c.identity)
            violation(QStringLiteral("call %1 of worker %2 on %3 got the outcome of %4 on %5")
                          .arg(c.number)
                          .arg(c.worker)
                          .arg(identityKey(c.identity), e.id, identityKey(e.identity)));
        if (e.cut || e.ok != c.ok || e.out != c.out)
            violation(QStringLiteral("call %1 of worker %2 got '%3' but execution %4 produced '%5'")
                          .arg(c.number)
                          .arg(c.worker)
                          .arg(c.out, e.id, e.cut ? QStringLiteral("nothing (killed)") : e.out));
        // A holder that lost its lease publishes nothing.
        if (c.worker != e.worker && e.lostLease)
            violation(QStringLiteral("execution %1 lost its lease but reached another process "
                                     "(call %2 of worker %3)")
                          .arg(e.id)
                          .arg(c.number)
                          .arg(c.worker));
        if (!c.ok) {
            ++errorCalls;
            // (4) An error reaches a fresh flight only through the channel, before d(E).
            if (!c.joined && e.firstLocalDone >= 0 && c.start > e.firstLocalDone)
                violation(QStringLiteral("call %1 of worker %2 started at %3 ms and got the error "
                                         "of %4, published before %5 ms: served from the cache?")
                              .arg(c.number)
                              .arg(c.worker)
                              .arg(ms(c.start), e.id, ms(e.firstLocalDone)));
        }
    }
    for (auto it = outcomesByExecution.cbegin(); it != outcomesByExecution.cend(); ++it) {
        if (it.value().size() != 1)
            violation(
                QStringLiteral("the callers of %1 saw different outcomes: %2")
                    .arg(it.key(), QStringList(it.value().values()).join(QLatin1String(", "))));
    }

    // (4) The cache never held an error, only exact values of successful executions.
    int cachedErrors = 0;
    for (const auto &[identity, envelope] : m_cached) {
        const QJsonObject o = QJsonDocument::fromJson(envelope).object();
        if (o.value(QLatin1String("ok")).toBool() != true
            || o.value(QLatin1String("v")).toInt() != 1) {
            ++cachedErrors;
            violation(QStringLiteral("the cache of %1 held %2")
                          .arg(identityKey(identity), QString::fromUtf8(envelope)));
            continue;
        }
        const QString value = o.value(QLatin1String("value")).toString();
        const QStringList parts = value.split(QLatin1Char('|'));
        const auto it = parts.size() >= 3 ? executions.find(parts.at(1)) : executions.end();
        if (it == executions.end() || !it->second.ok || it->second.out != value
            || it->second.identity != identity || it->second.lostLease)
            violation(QStringLiteral("the cache of %1 held %2, which no successful, published "
                                     "execution of it produced")
                          .arg(identityKey(identity), value));
    }

    // (1) and (2), per identity.
    QHash<int, std::vector<const Execution *>> byIdentity;
    for (const auto &[id, e] : executions) {
        if (e.worker >= 0)
            byIdentity[e.identity].push_back(&e);
    }
    int overlapsByLease = 0;
    int overlapsByOutage = 0;
    int overlapsByKill = 0;
    int inWindowByOutage = 0;
    int rerunsAfterKill = 0;
    QSet<QString> duplicates;
    for (auto it = byIdentity.begin(); it != byIdentity.end(); ++it) {
        auto &list = it.value();
        std::sort(list.begin(), list.end(),
            [](const Execution *a, const Execution *b) { return a->start < b->start; });
        for (size_t i = 0; i < list.size(); ++i) {
            const Execution &a = *list[i];
            for (size_t j = i + 1; j < list.size(); ++j) {
                const Execution &b = *list[j];
                // (1) Overlap (b starts after a, so: b starts before a ends).
                if (b.start < a.end) {
                    duplicates.insert(b.id);
                    if (a.cut || b.cut)
                        ++overlapsByKill;
                    else if ((a.lostLease || a.leaseRanOut) && a.flightBegan >= 0
                        && b.start >= a.flightBegan + qint64(m_settings.lockMs - 2) * 1000)
                        // A takeover: b can only have taken the lock once a's lease ran out,
                        // at least lockTimeout after a's process asked for it.
                        ++overlapsByLease;
                    else if (a.local || b.local || awayBetween(a.start, a.end)
                        || awayBetween(b.start, b.end))
                        ++overlapsByOutage;
                    else
                        violation(QStringLiteral("%1: executions %2 [%3, %4] and %5 [%6, %7] "
                                                 "overlap, unexplained")
                                      .arg(identityKey(a.identity), a.id, ms(a.start), ms(a.end),
                                          b.id, ms(b.start), ms(b.end)));
                }
                // (2) b starts inside a's cache window.
                const bool cached = a.ok && !a.cut && !a.local && !a.lostLease && !a.publishFailed
                    && !a.notCached && a.firstLocalDone >= 0;
                const qint64 windowEnd = a.end + qint64(m_settings.ttlMs) * 1000 - 5000;
                if (cached && b.start >= a.firstLocalDone && b.start < windowEnd) {
                    duplicates.insert(b.id);
                    // The restart wiped the cache: it began before b started, and a had
                    // written its value before the server was gone (stop() returns then).
                    const bool restartedBetween = std::any_of(
                        m_restarts.cbegin(), m_restarts.cend(), [&](const Restart &r) {
                            return r.window.from <= b.start && a.end <= r.stoppedAt;
                        });
                    if (restartedBetween || b.local)
                        ++inWindowByOutage;
                    else
                        violation(QStringLiteral("%1: execution %2 started at %3 ms, inside the "
                                                 "cache window of %4 (ended %5 ms, answered its "
                                                 "process at %6 ms)")
                                      .arg(identityKey(a.identity), b.id, ms(b.start), a.id,
                                          ms(a.end), ms(a.firstLocalDone)));
                }
            }
            // A holder killed before it finished: the next execution is its replacement.
            if (a.cut && i + 1 < list.size()
                && list[i + 1]->start < a.end + qint64(m_settings.lockMs + 1000) * 1000) {
                duplicates.insert(list[i + 1]->id);
                ++rerunsAfterKill;
            }
        }
    }

    // Nothing unreadable was ever found, in the cache or on a channel.
    int unreadable = 0;
    for (const WorkerLog &log : logs) {
        for (const LogEvent &event : log.events) {
            if (event.message.contains(QLatin1String("unreadable cache entry"))
                || event.message.contains(QLatin1String("ignored a message")))
                ++unreadable;
            if (event.level == QLatin1String("c"))
                violation(QStringLiteral("critical log line: %1").arg(event.message));
        }
    }
    if (unreadable > 0)
        violation(QStringLiteral("%1 unreadable entries or messages were seen").arg(unreadable));
    if (m_startFailures > 0)
        violation(QStringLiteral("%1 workers could not be started").arg(m_startFailures));
    if (m_restarts.size() != 2)
        violation(QStringLiteral("redis-server was restarted %1 times, not twice")
                      .arg(m_restarts.size()));

    // Figures.
    qint64 takeovers = 0, lostLeases = 0, localRuns = 0, reconnects = 0, hits = 0, won = 0,
           coalesced = 0;
    for (const WorkerLog &log : logs) {
        if (!log.summary)
            continue;
        const QJsonObject &s = *log.summary;
        takeovers += s.value(QLatin1String("takeovers")).toInteger();
        lostLeases += s.value(QLatin1String("lostLeases")).toInteger();
        localRuns += s.value(QLatin1String("localRuns")).toInteger();
        reconnects += s.value(QLatin1String("reconnects")).toInteger();
        hits += s.value(QLatin1String("hits")).toInteger();
        won += s.value(QLatin1String("won")).toInteger();
        coalesced += s.value(QLatin1String("coalesced")).toInteger();
    }
    int okExecutions = 0, failedExecutions = 0, cutExecutions = 0, localExecutions = 0,
        lostLeaseExecutions = 0;
    for (const auto &[id, e] : executions) {
        if (e.worker < 0)
            continue;
        if (e.cut)
            ++cutExecutions;
        else if (e.ok)
            ++okExecutions;
        else
            ++failedExecutions;
        localExecutions += e.local;
        lostLeaseExecutions += e.lostLease;
    }
    std::vector<qint64> latencies;
    for (const Call &c : calls) {
        if (c.end >= 0)
            latencies.push_back(c.end - c.start);
    }
    std::sort(latencies.begin(), latencies.end());
    const auto percentile = [&](double p) {
        return latencies.empty()
            ? 0.0
            : double(
                  latencies[std::min(latencies.size() - 1, size_t(p * double(latencies.size())))])
                / 1000.0;
    };
    if (!latencies.empty() && latencies.back() > 10000000)
        violation(QStringLiteral("a call took %1 ms").arg(latencies.back() / 1000));

    out(QStringLiteral("soak: figures"));
    out(QStringLiteral("  workers           %1 started, %2 killed (SIGKILL while running the "
                       "work), %3 frozen past the lease (SIGSTOP, SIGCONT)")
            .arg(m_workers.size())
            .arg(m_kills)
            .arg(m_freezes));
    for (const Restart &r : m_restarts)
        out(QStringLiteral("  redis restart     %1: stopping from %2 ms, gone at %3 ms, up again "
                           "at %4 ms, every process back at %5 ms")
                .arg(r.keepsData ? QStringLiteral("with data (LOADING)")
                                 : QStringLiteral("without persistence"))
                .arg(ms(r.window.from), ms(r.stoppedAt), ms(r.restartedAt), ms(r.window.to)));
    out(QStringLiteral("  proxy faults      %1 (cut, delayed replies, black-holed subscribers); %2 "
                       "out-of-memory windows, %3 executions not cached for it")
            .arg(m_outages.size())
            .arg(m_oomWindows.size())
            .arg(std::count_if(executions.cbegin(), executions.cend(),
                [](const auto &entry) { return entry.second.notCached; })));
    out(QStringLiteral("  calls             %1: %2 finished, %3 unfinished, %4 died with a killed "
                       "worker; %5 WorkFailed, %6 ConnectionFailed")
            .arg(calls.size())
            .arg(calls.size() - size_t(unfinished) - size_t(diedWithWorker))
            .arg(unfinished)
            .arg(diedWithWorker)
            .arg(errorCalls)
            .arg(connectionFailed));
    out(QStringLiteral("  call latency      p50 %1 ms, p99 %2 ms, max %3 ms")
            .arg(percentile(0.5), 0, 'f', 1)
            .arg(percentile(0.99), 0, 'f', 1)
            .arg(percentile(1.0), 0, 'f', 1));
    out(QStringLiteral("  library counters  (surviving workers) %1 hits, %2 coalesced, %3 won, %4 "
                       "takeovers, %5 lost "
                       "leases, %6 local runs, %7 reconnects")
            .arg(hits)
            .arg(coalesced)
            .arg(won)
            .arg(takeovers)
            .arg(lostLeases)
            .arg(localRuns)
            .arg(reconnects));
    out(QStringLiteral("  executions        %1: %2 ok, %3 failed, %4 cut by a kill; %5 without "
                       "Redis, %6 lost their lease")
            .arg(executions.size())
            .arg(okExecutions)
            .arg(failedExecutions)
            .arg(cutExecutions)
            .arg(localExecutions)
            .arg(lostLeaseExecutions));
    out(QStringLiteral("  duplicates        %1 executions: overlaps %2 after a lost lease, %3 "
                       "during the outage, %4 with a killed holder; %5 in a cache window after "
                       "the restart; %6 re-runs after a kill")
            .arg(duplicates.size())
            .arg(overlapsByLease)
            .arg(overlapsByOutage)
            .arg(overlapsByKill)
            .arg(inWindowByOutage)
            .arg(rerunsAfterKill));
    out(QStringLiteral("  cache samples     %1 (%2 entries seen, %3 errors)")
            .arg(m_samples)
            .arg(m_cached.size())
            .arg(cachedErrors));
    out(QStringLiteral("  unfinished futures %1").arg(unfinished));
    out(QStringLiteral("  violations        %1").arg(violations));
    for (const QString &what : std::as_const(reported))
        out(QStringLiteral("  VIOLATION: ") + what);
    if (calls.size() < 100 || executions.size() < 20)
        out(QStringLiteral("soak: too little happened to mean anything"));
    return violations + (calls.size() < 100 || executions.size() < 20 ? 1 : 0);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("DistributedPromise soak test"));
    parser.addHelpOption();
    const QCommandLineOption seconds(QStringLiteral("seconds"),
        QStringLiteral("how long the workers make calls (default 40, or $SOAK_SECONDS)"),
        QStringLiteral("n"));
    const QCommandLineOption workers(
        QStringLiteral("workers"), QStringLiteral("processes (default 5)"), QStringLiteral("n"));
    const QCommandLineOption kills(QStringLiteral("kills"),
        QStringLiteral("holders to kill, at most 6 (default 3)"), QStringLiteral("n"));
    const QCommandLineOption seed(QStringLiteral("seed"),
        QStringLiteral("random seed (default: random)"), QStringLiteral("n"));
    const QCommandLineOption keep(QStringLiteral("keep-logs"), QStringLiteral("keep the logs"));
    const QCommandLineOption freezes(QStringLiteral("freezes"),
        QStringLiteral("holders to freeze past their lease, at most 3 (default 1)"),
        QStringLiteral("n"));
    parser.addOptions({ seconds, workers, kills, freezes, seed, keep });
    parser.process(app);

    Settings settings;
    if (parser.isSet(seconds))
        settings.seconds = parser.value(seconds).toInt();
    else if (qEnvironmentVariableIsSet("SOAK_SECONDS"))
        settings.seconds = qEnvironmentVariableIntValue("SOAK_SECONDS");
    if (parser.isSet(workers))
        settings.workers = parser.value(workers).toInt();
    if (parser.isSet(kills))
        settings.kills = parser.value(kills).toInt();
    if (parser.isSet(freezes))
        settings.freezes = parser.value(freezes).toInt();
    settings.seed
        = parser.isSet(seed) ? parser.value(seed).toUInt() : QRandomGenerator::system()->generate();
    settings.keepLogs = parser.isSet(keep);
    if (settings.seconds < 5 || settings.workers < 2) {
        out(QStringLiteral("soak: use at least 5 seconds and 2 workers"));
        return 2;
    }
    Soak soak(settings);
    return soak.run();
}
