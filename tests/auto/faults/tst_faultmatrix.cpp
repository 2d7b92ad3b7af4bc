// SPDX-License-Identifier: MIT
// The fault matrix: every step of the protocol crossed with every fault. Each cell runs a holder
// and a waiter as real processes (dpworker), each through its own FaultProxy, so that a proxy
// fault hits one process's connection at one exact command (a trigger on GET, SUBSCRIBE, or
// EVALSHA with one script's SHA1), while server faults (SIGSTOP, restart, out of memory, LOADING)
// hit everyone. Per cell: every future finishes within the fault's bound; the work runs once (or
// twice where a restart without persistence loses the lock or the value); no lock is left once
// the calls are done; every caller of one execution got its value; the only error a caller may
// get is ConnectionFailed (whenRedisUnavailable = Fail). The matrix is printed at the end and is
// in docs/faultmatrix.md. DP_FAULTMATRIX_ROWS=get,finish (step names) runs only those rows.

#include "faultstest.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QHash>
#include <QtCore/QProcess>
#include <QtCore/QSet>
#include <QtCore/QTimer>
#include <QtTest/QTest>

#include <faultproxy.h>

#include <algorithm>
#include <chrono>

using namespace FaultsTest;
using DistributedPromiseTest::FaultProxy;
using DistributedPromiseTest::RedisServer;

namespace {

enum class Step { Get, Lock, Subscribe, Recheck, Renew, Finish, Message };
enum class Fault { Cut, Delay, Blackhole, Stop, Restart, Oom, Loading };

constexpr int lockMs = 1500;
constexpr int commandTimeoutMs = 300;
constexpr int replyDelayMs = commandTimeoutMs + 200; // a reply delayed past commandTimeout
constexpr int stopMs = 800; // SIGSTOP lasts this long, then SIGCONT
constexpr int holdMs = 150; // a reply held back while a server fault is put in place
constexpr int callsPerProcess = 3;

const char *stepName(Step step)
{
    static const char *const names[]
        = { "GET", "lock", "SUBSCRIBE", "re-check", "renew", "finish+publish+unlock", "message" };
    return names[int(step)];
}

const char *faultName(Fault fault)
{
    static const char *const names[]
        = { "cut", "delay", "black-hole", "SIGSTOP", "restart", "OOM", "LOADING" };
    return names[int(fault)];
}

bool isServerFault(Fault fault) { return fault >= Fault::Stop; }

/*! How long the holder's work lasts in a row (the finish and message rows end it with DONE). */
int holderWorkMs(Step step)
{
    switch (step) {
    case Step::Renew:
        return lockMs + 500; // two renewals at least
    case Step::Finish:
    case Step::Message:
        return 60000; // until DONE
    case Step::Lock:
        return 200; // the lock may go to either process: both work as briefly
    default:
        return 700;
    }
}

/*! What a fault may cost on top of the work: how long it lasts, plus detecting it (a command
    unanswered for commandTimeout) and reconnecting (backoff from 50 ms). Never a lease. */
int faultCostMs(Fault fault)
{
    switch (fault) {
    case Fault::Cut:
    case Fault::Oom:
        return 500;
    case Fault::Delay:
    case Fault::Blackhole:
        return commandTimeoutMs + 500;
    case Fault::Stop:
        return stopMs + 700;
    case Fault::Restart:
    case Fault::Loading:
        return 1500; // restart, or DEBUG RELOAD of the fill keys, both about 1 s here
    }
    return 0;
}

/*! A restart without persistence loses the lock and the cached value: the work may run again. */
int allowedExecutions(Step, Fault fault) { return fault == Fault::Restart ? 2 : 1; }

/*! Every future finishes within this after the fault is put in place: the work still to do,
    the fault's cost, and 500 ms for scheduling (ASan, a loaded machine). */
int boundMs(Step step, Fault fault)
{
    const int work = holderWorkMs(step) > lockMs * 10 ? 0 : holderWorkMs(step);
    return work + faultCostMs(fault) + 500;
}

struct CellResult
{
    Step step;
    Fault fault;
    int executions = 0;
    qint64 worstMs = 0;
    QString outcome;
};

const QString argument = QStringLiteral("x");

QString dataKeyOf(const QString &prefix)
{
    return prefix + QLatin1String(":{slow:[\"") + argument + QLatin1String("\"]}");
}

QString lockKeysOf(const QString &prefix) { return prefix + QLatin1String(":lock:*"); }

QString channelOf(const QString &prefix)
{
    return prefix + QLatin1String(":notif:{slow:[\"") + argument + QLatin1String("\"]}");
}

/*! One script's text, as it stands in the protocol's source, between R"lua( and )lua". */
QByteArray scriptText(const QByteArray &source, const QByteArray &name)
{
    const QByteArray head = "const QByteArray " + name + " = QByteArrayLiteral(R\"lua(";
    const qsizetype begin = source.indexOf(head);
    if (begin < 0)
        return {};
    const qsizetype textBegin = begin + head.size();
    const qsizetype end = source.indexOf(")lua\"", textBegin);
    return end < 0 ? QByteArray() : source.mid(textBegin, end - textBegin);
}

} // namespace

class tst_FaultMatrix : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void cleanupTestCase();
    void cell_data();
    void cell();

private:
    QByteArray cli(const QStringList &args) const { return m_server.cli(args); }
    bool loadScripts();
    bool fillMemory();
    bool putInPlace(Fault fault);
    QString describeOutcome(Workers &holder, Workers &waiter, int executions) const;

    RedisServer m_server { RedisServer::Transport::Tcp,
        { QStringLiteral("--enable-debug-command"), QStringLiteral("yes"),
            QStringLiteral("--maxmemory-policy"), QStringLiteral("noeviction"),
            QStringLiteral("--loading-process-events-interval-bytes"), QStringLiteral("1024") } };
    QHash<QByteArray, QByteArray> m_scripts; // name -> text
    QHash<QByteArray, QByteArray> m_sha; // name -> SHA1 hex
    std::unique_ptr<QProcess> m_reload;
    QList<CellResult> m_results;
    int m_cell = 0;
};

void tst_FaultMatrix::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    QFile source(QStringLiteral(DP_SCRIPTS_SOURCE));
    QVERIFY2(source.open(QIODevice::ReadOnly), qPrintable(source.fileName()));
    const QByteArray text = source.readAll();
    for (const QByteArray name : { "acquireScript", "renewScript", "finishScript" }) {
        const QByteArray script = scriptText(text, name);
        QVERIFY2(!script.isEmpty(), name.constData());
        m_scripts.insert(name, script);
        m_sha.insert(name, QCryptographicHash::hash(script, QCryptographicHash::Sha1).toHex());
    }
    QVERIFY(loadScripts());
}

bool tst_FaultMatrix::loadScripts()
{
    // Loaded up front, so that the first EVALSHA of each script is the one a trigger hits (not a
    // NOSCRIPT followed by a reload); SCRIPT LOAD answers the SHA1 the library sends.
    for (auto it = m_scripts.cbegin(); it != m_scripts.cend(); ++it) {
        const QByteArray sha = cli(
            { QStringLiteral("SCRIPT"), QStringLiteral("LOAD"), QString::fromUtf8(it.value()) });
        if (sha != m_sha.value(it.key())) {
            qWarning() << "SCRIPT LOAD of" << it.key() << "answered" << sha;
            return false;
        }
    }
    return true;
}

bool tst_FaultMatrix::fillMemory()
{
    // 2000 values of 1000 bytes: enough to be over maxmemory at half of it, and, with a key load
    // delay, for a DEBUG RELOAD that answers LOADING for about a second.
    if (cli({ QStringLiteral("EXISTS"), QStringLiteral("fill:0") }) == "1")
        return true;
    return cli({ QStringLiteral("DEBUG"), QStringLiteral("POPULATE"), QStringLiteral("2000"),
               QStringLiteral("fill"), QStringLiteral("1000") })
        == "OK";
}

bool tst_FaultMatrix::putInPlace(Fault fault)
{
    switch (fault) {
    case Fault::Stop:
        m_server.pause();
        QTimer::singleShot(stopMs, this, [this] { m_server.resume(); });
        return true;
    case Fault::Restart:
        return m_server.restart();
    case Fault::Oom: {
        const QByteArray memory = cli({ QStringLiteral("INFO"), QStringLiteral("memory") });
        const qsizetype at = memory.indexOf("used_memory:");
        if (at < 0)
            return false;
        const qint64 used = memory.mid(at + 12, memory.indexOf('\n', at) - at - 12).toLongLong();
        cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("maxmemory"),
            QString::number(used / 2) });
        return cli({ QStringLiteral("SET"), QStringLiteral("probe"), QStringLiteral("x") })
            .startsWith("OOM");
    }
    case Fault::Loading: {
        cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("key-load-delay"),
            QStringLiteral("400") });
        m_reload = std::make_unique<QProcess>();
        m_reload->start(QStringLiteral("redis-cli"),
            { QStringLiteral("-p"), QString::number(m_server.port()), QStringLiteral("DEBUG"),
                QStringLiteral("RELOAD") });
        return QTest::qWaitFor(
            [this] { return cli({ QStringLiteral("PING") }).startsWith("LOADING"); }, 3000);
    }
    default:
        return false;
    }
}

void tst_FaultMatrix::cleanup()
{
    // Whatever a cell left, the next one starts with a plain, running, empty-of-locks server.
    if (m_server.isPaused())
        m_server.resume();
    if (m_reload) {
        m_reload->waitForFinished(10000);
        m_reload.reset();
    }
    if (!m_server.isRunning())
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("maxmemory"),
        QStringLiteral("0") });
    cli({ QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("key-load-delay"),
        QStringLiteral("0") });
}

void tst_FaultMatrix::cell_data()
{
    QTest::addColumn<int>("step");
    QTest::addColumn<int>("fault");
    const QByteArrayList only = qgetenv("DP_FAULTMATRIX_ROWS").split(',');
    for (int s = int(Step::Get); s <= int(Step::Message); ++s) {
        const QByteArray name = QByteArray(stepName(Step(s))).toLower();
        if (!only.value(0).isEmpty()
            && std::none_of(only.cbegin(), only.cend(),
                [&](const QByteArray &row) { return name.startsWith(row.toLower()); }))
            continue;
        for (int f = int(Fault::Cut); f <= int(Fault::Loading); ++f)
            QTest::addRow("%s x %s", stepName(Step(s)), faultName(Fault(f))) << s << f;
    }
}

void tst_FaultMatrix::cell()
{
    QFETCH(int, step);
    QFETCH(int, fault);
    const Step s = Step(step);
    const Fault f = Fault(fault);
    const QString prefix = QStringLiteral("matrix%1").arg(++m_cell);
    QVERIFY(loadScripts()); // a restart in an earlier cell forgot them
    if (f == Fault::Oom || f == Fault::Loading)
        QVERIFY(fillMemory());

    FaultProxy holderProxy(m_server.port());
    FaultProxy waiterProxy(m_server.port());
    QVERIFY2(holderProxy.start(), qPrintable(holderProxy.errorString()));
    QVERIFY2(waiterProxy.start(), qPrintable(waiterProxy.errorString()));
    Workers holder(holderProxy.url(), prefix);
    Workers waiter(waiterProxy.url(), prefix);
    const QStringList common { QStringLiteral("--arg"), argument, QStringLiteral("--calls"),
        QString::number(callsPerProcess), QStringLiteral("--lock-ms"), QString::number(lockMs),
        QStringLiteral("--command-timeout-ms"), QString::number(commandTimeoutMs),
        QStringLiteral("--unavailable"), QStringLiteral("fail"), QStringLiteral("--value-pid"),
        QStringLiteral("--linger-ms"), QStringLiteral("3000") };
    holder.start(
        common + QStringList { QStringLiteral("--work-ms"), QString::number(holderWorkMs(s)) });
    waiter.start(common + QStringList { QStringLiteral("--work-ms"), QStringLiteral("200") });
    QTRY_VERIFY_WITH_TIMEOUT(holder.printed(0, "READY") && waiter.printed(0, "READY"), 10000);

    QElapsedTimer clock;
    clock.start();
    qint64 faultAt = -1;
    const auto trigger
        = [](FaultProxy &proxy, const QByteArray &command, const QByteArray &argumentPrefix,
              FaultProxy::Trigger::Action action, int ms = 0) {
              proxy.addTrigger({ command, argumentPrefix, action, ms, FaultProxy::Target::all() });
          };
    const auto proxyAction = [f] {
        switch (f) {
        case Fault::Cut:
            return FaultProxy::Trigger::Action::Cut;
        case Fault::Delay:
            return FaultProxy::Trigger::Action::DelayReplies;
        default:
            return FaultProxy::Trigger::Action::DropReplies;
        }
    };
    // Proxy faults: a trigger on the step's command, in the process that sends it. Server faults:
    // the reply before the step is held back (holdMs) while the fault is put in place, so the
    // step itself meets it.
    const auto arm = [&](FaultProxy &proxy, const QByteArray &command, const QByteArray &sha,
                         const QByteArray &commandBefore, const QByteArray &shaBefore) {
        if (isServerFault(f))
            trigger(
                proxy, commandBefore, shaBefore, FaultProxy::Trigger::Action::DelayReplies, holdMs);
        else
            trigger(proxy, command, sha, proxyAction(), replyDelayMs);
    };
    const auto fired = [](FaultProxy &proxy) {
        return QTest::qWaitFor([&proxy] { return proxy.firedTriggers() > 0; }, 10000);
    };
    // Once the server fault is in place, the replies held back to time it flow freely again.
    const auto putServerFault = [&] {
        faultAt = clock.elapsed();
        const bool done = putInPlace(f);
        for (FaultProxy *proxy : { &holderProxy, &waiterProxy }) {
            const auto connections = proxy->connections();
            for (const auto &c : connections)
                proxy->setDelay(0, FaultProxy::Target::connection(c.index));
        }
        return done;
    };
    const auto subscriberOf = [](FaultProxy &proxy) {
        const auto connections = proxy.connections();
        for (const auto &c : connections) {
            if (c.open && c.role == FaultProxy::Role::Subscriber)
                return c.index;
        }
        return -1;
    };
    const auto waiterSubscribed = [&] {
        const QByteArrayList reply
            = cli({ QStringLiteral("PUBSUB"), QStringLiteral("NUMSUB"), channelOf(prefix) })
                  .split('\n');
        return reply.size() == 2 && reply.at(1).trimmed().toInt() >= 1;
    };
    const QByteArray acquire = m_sha.value("acquireScript").left(12);
    const QByteArray renew = m_sha.value("renewScript").left(12);
    const QByteArray finish = m_sha.value("finishScript").left(12);

    const auto startHolder = [&] {
        holder.go(0);
        return QTest::qWaitFor([&] { return holder.printed(0, "WORKING"); }, 10000);
    };

    switch (s) {
    case Step::Get:
        QVERIFY(startHolder());
        if (isServerFault(f))
            QVERIFY(putServerFault());
        else
            trigger(waiterProxy, "GET", QByteArray(), proxyAction(), replyDelayMs);
        faultAt = faultAt < 0 ? clock.elapsed() : faultAt;
        waiter.go(0);
        break;
    case Step::Lock:
        arm(holderProxy, "EVALSHA", acquire, "GET", QByteArray());
        faultAt = clock.elapsed();
        holder.go(0);
        QVERIFY(fired(holderProxy));
        if (isServerFault(f))
            QVERIFY(putServerFault());
        waiter.go(0);
        break;
    case Step::Subscribe:
        QVERIFY(startHolder());
        arm(waiterProxy, "SUBSCRIBE", QByteArray(), "EVALSHA", acquire);
        faultAt = clock.elapsed();
        waiter.go(0);
        if (isServerFault(f)) {
            QVERIFY(fired(waiterProxy));
            QVERIFY(putServerFault());
        }
        break;
    case Step::Recheck: {
        QVERIFY(startHolder());
        // The confirmation of SUBSCRIBE is held back: the re-check follows it.
        trigger(waiterProxy, "SUBSCRIBE", QByteArray(), FaultProxy::Trigger::Action::DelayReplies,
            holdMs);
        waiter.go(0);
        QVERIFY(fired(waiterProxy));
        const int subscriber = subscriberOf(waiterProxy);
        QVERIFY(subscriber >= 0);
        if (isServerFault(f))
            QVERIFY(putServerFault());
        else
            trigger(waiterProxy, "EVALSHA", acquire, proxyAction(), replyDelayMs);
        faultAt = faultAt < 0 ? clock.elapsed() : faultAt;
        waiterProxy.setDelay(0, FaultProxy::Target::connection(subscriber));
        break;
    }
    case Step::Renew:
        arm(holderProxy, "EVALSHA", renew, "EVALSHA", renew);
        QVERIFY(startHolder());
        waiter.go(0);
        QVERIFY(fired(holderProxy));
        faultAt = clock.elapsed();
        if (isServerFault(f))
            QVERIFY(putServerFault());
        break;
    case Step::Finish:
        QVERIFY(startHolder());
        waiter.go(0);
        QTRY_VERIFY_WITH_TIMEOUT(waiterSubscribed(), 10000);
        if (isServerFault(f))
            QVERIFY(putServerFault());
        else
            trigger(holderProxy, "EVALSHA", finish, proxyAction(), replyDelayMs);
        faultAt = faultAt < 0 ? clock.elapsed() : faultAt;
        holder.process(0)->write("DONE\n");
        break;
    case Step::Message: {
        QVERIFY(startHolder());
        waiter.go(0);
        QTRY_VERIFY_WITH_TIMEOUT(waiterSubscribed(), 10000);
        const int subscriber = subscriberOf(waiterProxy);
        QVERIFY(subscriber >= 0);
        const auto target = FaultProxy::Target::connection(subscriber);
        faultAt = clock.elapsed();
        if (f == Fault::Delay) {
            waiterProxy.setDelay(replyDelayMs, target);
        } else if (f == Fault::Blackhole) {
            waiterProxy.setBlackhole(FaultProxy::Direction::Down, target);
        } else {
            // The message is held on its way to the waiter while the finish runs; then the
            // waiter's subscriber connection is cut, or the server fault put in place.
            waiterProxy.setDelay(holdMs, target);
        }
        holder.process(0)->write("DONE\n");
        if (f == Fault::Cut || isServerFault(f)) {
            QTRY_VERIFY_WITH_TIMEOUT(
                cli({ QStringLiteral("EXISTS"), dataKeyOf(prefix) }) == "1", 10000);
            if (f == Fault::Cut) {
                faultAt = clock.elapsed();
                waiterProxy.cut(target);
            } else {
                QVERIFY(putServerFault());
            }
        }
        break;
    }
    }
    // A takeover's work (200 ms) ends by itself; the holder's ends now if it is still running.

    const int bound = boundMs(s, f);
    qint64 lastDone = 0;
    const bool finished = QTest::qWaitFor(
        [&] {
            if (holder.hasResult(0) && waiter.hasResult(0))
                return true;
            lastDone = clock.elapsed();
            return false;
        },
        bound + 5000);
    lastDone = clock.elapsed();
    QVERIFY2(finished,
        qPrintable(
            QStringLiteral("not finished after %1 ms\nholder: %2\nwaiter: %3")
                .arg(lastDone - faultAt)
                .arg(QString::fromUtf8(holder.output(0)), QString::fromUtf8(waiter.output(0)))));
    const qint64 worst = lastDone - faultAt;

    // The fault is over (SIGCONT sent, loading done) before Redis is asked about locks.
    QTRY_VERIFY_WITH_TIMEOUT(
        !m_server.isPaused() && cli({ QStringLiteral("PING") }) == "PONG", 10000);
    const QJsonObject results[] = { holder.result(0), waiter.result(0) };
    const qint64 pids[] = { holder.pid(0), waiter.pid(0) };
    int executions = 0;
    QSet<QString> executors;
    for (int i = 0; i < 2; ++i) {
        executions += intOf(results[i], "executions");
        if (intOf(results[i], "executions") > 0)
            executors.insert(QStringLiteral("value-of-x-pid-%1").arg(pids[i]));
    }
    const QString context
        = QStringLiteral("holder: %1\nwaiter: %2")
              .arg(QString::fromUtf8(holder.output(0)), QString::fromUtf8(waiter.output(0)));
    const CellResult result { s, f, executions, worst,
        describeOutcome(holder, waiter, executions) };
    m_results.append(result);

    // Every future finished, within the bound.
    QVERIFY2(worst <= bound,
        qPrintable(QStringLiteral("%1 ms > bound %2 ms\n%3").arg(worst).arg(bound).arg(context)));
    // Once, or the documented extra run.
    QVERIFY2(executions <= allowedExecutions(s, f), qPrintable(context));
    // No lock left behind: gone within a second of the fault's end (less than a lease), so that
    // the next caller does not wait for one.
    QTRY_COMPARE_WITH_TIMEOUT(
        cli({ QStringLiteral("KEYS"), lockKeysOf(prefix) }), QByteArray(), 1000);
    // Each caller got a value of an execution that ran (the same one for all, when it ran once),
    // or ConnectionFailed; never a timeout, a Redis error, or a value nobody computed.
    QSet<QString> seen;
    for (int i = 0; i < 2; ++i) {
        const QStringList values = valuesOf(results[i]);
        const QStringList errors = errorCodesOf(results[i]);
        QCOMPARE(values.size() + errors.size(), callsPerProcess);
        for (const QString &code : errors)
            QVERIFY2(code == QLatin1String("ConnectionFailed"), qPrintable(context));
        for (const QString &value : values) {
            QVERIFY2(executors.contains(value), qPrintable(context));
            seen.insert(value);
        }
        // Callers in one process share one flight: one outcome.
        QVERIFY2(values.isEmpty() || errors.isEmpty(), qPrintable(context));
        QVERIFY2(QSet<QString>(values.cbegin(), values.cend()).size() <= 1, qPrintable(context));
        QCOMPARE(intOf(results[i], "localRuns"), 0);
        // A lease is lost only where the fault can take it: renewals failing, a restart.
        if (s != Step::Renew && f != Fault::Restart)
            QVERIFY2(intOf(results[i], "lostLeases") == 0, qPrintable(context));
    }
    if (executions <= 1)
        QVERIFY2(seen.size() <= 1, qPrintable(context));
}

QString tst_FaultMatrix::describeOutcome(Workers &holder, Workers &waiter, int executions) const
{
    QStringList parts;
    const auto one = [](const char *who, const QJsonObject &result) -> QString {
        const QStringList errors = errorCodesOf(result);
        QString what = errors.isEmpty()
            ? QStringLiteral("ok")
            : (errors.first() == QLatin1String("ConnectionFailed") ? QStringLiteral("CF")
                                                                   : errors.first());
        if (intOf(result, "takeovers") > 0)
            what += QStringLiteral(" (took over)");
        return QString::fromLatin1(who) + QLatin1Char(' ') + what;
    };
    parts << one("H", holder.result(0)) << one("W", waiter.result(0));
    Q_UNUSED(executions);
    return parts.join(QLatin1String(", "));
}

void tst_FaultMatrix::cleanupTestCase()
{
    // The matrix: one line per step, one column per fault; each cell "executions / worst ms
    // from the fault to the last future / what the holder (H) and waiter (W) got".
    QStringList header { QStringLiteral("| step |") };
    QStringList rule { QStringLiteral("|---|") };
    for (int f = int(Fault::Cut); f <= int(Fault::Loading); ++f) {
        header << QStringLiteral(" %1 |").arg(QLatin1String(faultName(Fault(f))));
        rule << QStringLiteral("---|");
    }
    qInfo().noquote() << "fault matrix (executions, worst ms after the fault, outcome):";
    qInfo().noquote() << header.join(QString());
    qInfo().noquote() << rule.join(QString());
    for (int s = int(Step::Get); s <= int(Step::Message); ++s) {
        QStringList line { QStringLiteral("| %1 |").arg(QLatin1String(stepName(Step(s)))) };
        bool any = false;
        for (int f = int(Fault::Cut); f <= int(Fault::Loading); ++f) {
            const auto it = std::find_if(m_results.cbegin(), m_results.cend(),
                [&](const CellResult &r) { return r.step == Step(s) && r.fault == Fault(f); });
            if (it == m_results.cend()) {
                line << QStringLiteral(" |");
                continue;
            }
            any = true;
            line << QStringLiteral(" %1 / %2 / %3 |")
                        .arg(it->executions)
                        .arg(it->worstMs)
                        .arg(it->outcome);
        }
        if (any)
            qInfo().noquote() << line.join(QString());
    }
}

QTEST_GUILESS_MAIN(tst_FaultMatrix)
#include "tst_faultmatrix.moc"
