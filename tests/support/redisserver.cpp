#include "redisserver.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QHostAddress>
#include <QLocalSocket>
#include <QProcess>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>
#include <QtDebug>

#include <csignal>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

namespace DistributedPromiseTest {

namespace {

constexpr int kTimeoutMs = 10000;
constexpr int kStartAttempts = 5;
constexpr int kRestartBindWindowMs = 5000;
constexpr int kLogLines = 200;
constexpr int kLogTailLines = 20;
// sockaddr_un::sun_path is 108 bytes on Linux, including the terminating NUL.
constexpr int kMaxSocketPathLength = 107;
// A cluster node also listens on port + 10000 (its cluster bus), so its port must be <= 55535.
constexpr int kClusterBusOffset = 10000;
constexpr int kMaxClusterPort = 65535 - kClusterBusOffset;
constexpr int kClusterPortAttempts = 100;

QString missingServerMessage()
{
    return QStringLiteral("redis-server not found on PATH; install it (scripts/install-deps.sh)");
}

quint16 pickFreePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    const quint16 port = probe.serverPort();
    probe.close();
    return port;
}

bool canListen(int port)
{
    if (port <= 0 || port > 65535)
        return false;
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost, quint16(port));
}

// The scheduler state letter of a process from /proc/<pid>/stat ('R', 'S', 'T', 'Z', ...),
// or 0 if it can't be read.
char processState(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray line = stat.readAll();
    // "pid (comm) S ..."; comm may contain spaces and parentheses, so look for the last ')'.
    const int close = line.lastIndexOf(')');
    if (close < 0 || close + 2 >= line.size())
        return 0;
    return line.at(close + 2);
}

// Waits (bounded) until the process is, or is no longer, stopped by a signal.
void waitForStopState(qint64 pid, bool stopped)
{
    const QDeadlineTimer deadline(kTimeoutMs);
    while (!deadline.hasExpired()) {
        const char state = processState(pid);
        if (state == 0 || state == 'Z' || state == 'X')
            return;
        const bool isStopped = state == 'T' || state == 't';
        if (isStopped == stopped)
            return;
        QThread::yieldCurrentThread();
    }
    qWarning("RedisServer: process %lld did not %s within %d ms", pid,
        stopped ? "stop" : "continue", kTimeoutMs);
}

// Sends PING on a freshly connected socket and reads one reply line. Any reply but -LOADING
// means the server is serving (a -NOAUTH reply from a --requirepass server counts).
template<typename Socket>
bool pingOver(Socket &socket, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    if (!socket.waitForConnected(int(deadline.remainingTime())))
        return false;
    socket.write(QByteArrayLiteral("PING\r\n"));
    if (!socket.waitForBytesWritten(int(deadline.remainingTime())))
        return false;
    QByteArray reply;
    while (!reply.contains("\r\n")) {
        if (deadline.hasExpired() || !socket.waitForReadyRead(int(deadline.remainingTime())))
            return false;
        reply += socket.readAll();
    }
    return !reply.startsWith("-LOADING");
}

} // namespace

RedisServer::RedisServer(Transport transport, QStringList extraArgs)
    : m_transport(transport)
    , m_extraArgs(std::move(extraArgs))
{ }

RedisServer::~RedisServer()
{
    finishProcess(SIGKILL);
    m_process.reset();
    m_dir.reset(); // removes the directory and everything in it
}

void RedisServer::setConfigFile(const QString &fileName, const QByteArray &contents)
{
    m_configFileName = fileName;
    m_configFileContents = contents;
}

QString RedisServer::configFilePath() const
{
    if (!m_dir || m_configFileName.isEmpty())
        return {};
    return QDir(m_dir->path()).absoluteFilePath(m_configFileName);
}

void RedisServer::setSentinelMode(bool sentinel) { m_sentinel = sentinel; }

bool RedisServer::isSentinelMode() const { return m_sentinel; }

void RedisServer::setReserveClusterBusPort(bool reserve) { m_reserveClusterBusPort = reserve; }

quint16 RedisServer::pickPort() const
{
    if (!m_reserveClusterBusPort)
        return pickFreePort();
    // Prefer the kernel's choice (it avoids ports in use); if its ephemeral range lies above
    // 55535, fall back to random ports below that.
    for (int i = 0; i < kClusterPortAttempts; ++i) {
        int port = i < kClusterPortAttempts / 2
            ? pickFreePort()
            : QRandomGenerator::global()->bounded(20000, kMaxClusterPort + 1);
        if (port == 0)
            return 0;
        if (port <= kMaxClusterPort && canListen(port) && canListen(port + kClusterBusOffset))
            return quint16(port);
    }
    return 0;
}

bool RedisServer::writeConfigFile()
{
    if (m_configFileName.isEmpty())
        return true;
    QFile file(configFilePath());
    if (file.exists())
        return true;
    if (!file.open(QIODevice::WriteOnly) || file.write(m_configFileContents) < 0 || !file.flush()) {
        m_error = QStringLiteral("RedisServer: cannot write %1: %2")
                      .arg(file.fileName(), file.errorString());
        return false;
    }
    return true;
}

bool RedisServer::start()
{
    if (isRunning())
        return true;
    m_error.clear();

    m_program = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
    if (m_program.isEmpty()) {
        m_error = missingServerMessage();
        return false;
    }
    if (m_sentinel && (m_transport != Transport::Tcp || m_configFileName.isEmpty())) {
        m_error = QStringLiteral("RedisServer: a sentinel needs the Tcp transport and a "
                                 "configuration file (setConfigFile())");
        return false;
    }

    if (!m_dir) {
        QString base = QDir::tempPath();
        // A unix socket path must fit in sun_path; fall back to /tmp for a long TMPDIR.
        if (m_transport == Transport::Unix
            && base.size() + int(sizeof("/dptest-redis-XXXXXX/redis.sock")) > kMaxSocketPathLength)
            base = QStringLiteral("/tmp");
        auto dir = std::make_unique<QTemporaryDir>(base + QStringLiteral("/dptest-redis-XXXXXX"));
        if (!dir->isValid()) {
            m_error
                = QStringLiteral("RedisServer: cannot create a temporary directory under %1: %2")
                      .arg(base, dir->errorString());
            return false;
        }
        m_dir = std::move(dir);
        if (m_transport == Transport::Unix)
            m_socketPath = QDir(m_dir->path()).absoluteFilePath(QStringLiteral("redis.sock"));
    }
    if (!writeConfigFile())
        return false;

    if (m_transport == Transport::Unix)
        return launch() == Attempt::Started;

    if (m_port != 0) {
        // A restart: same port. redis sets SO_REUSEADDR, so TIME_WAIT is no obstacle, but give
        // a racing process that grabbed the port a moment to let it go.
        const QDeadlineTimer deadline(kRestartBindWindowMs);
        for (;;) {
            const Attempt attempt = launch();
            if (attempt != Attempt::AddressInUse)
                return attempt == Attempt::Started;
            if (deadline.hasExpired()) {
                setFailure(QStringLiteral("port %1 stayed in use for %2 ms")
                               .arg(m_port)
                               .arg(kRestartBindWindowMs));
                return false;
            }
            QThread::msleep(100);
        }
    }

    // First start: a fresh free port; another process may take it between our probe and
    // redis's bind, so try a few.
    Attempt attempt = Attempt::Failed;
    for (int i = 0; i < kStartAttempts; ++i) {
        m_port = pickPort();
        if (m_port == 0) {
            m_error = m_reserveClusterBusPort
                ? QStringLiteral("RedisServer: cannot find a free TCP port <= %1 on 127.0.0.1 "
                                 "whose cluster bus port (+%2) is free too")
                      .arg(kMaxClusterPort)
                      .arg(kClusterBusOffset)
                : QStringLiteral("RedisServer: cannot find a free TCP port on 127.0.0.1");
            return false;
        }
        attempt = launch();
        if (attempt != Attempt::AddressInUse)
            break;
    }
    if (attempt == Attempt::Started)
        return true;
    if (attempt == Attempt::AddressInUse)
        setFailure(QStringLiteral("every port tried was already in use (%1 attempts)")
                       .arg(kStartAttempts));
    m_port = 0;
    return false;
}

RedisServer::Attempt RedisServer::launch()
{
    m_process = std::make_unique<QProcess>();
    m_sawReady = false;
    m_paused = false;
    m_partialLine.clear();
    m_log.clear();

    QStringList args;
    // redis-server wants the configuration file first; --sentinel may follow it.
    if (!m_configFileName.isEmpty())
        args << configFilePath();
    if (m_sentinel)
        args << QStringLiteral("--sentinel");
    if (m_transport == Transport::Tcp) {
        args << QStringLiteral("--port") << QString::number(m_port);
    } else {
        args << QStringLiteral("--port") << QStringLiteral("0") << QStringLiteral("--unixsocket")
             << m_socketPath << QStringLiteral("--unixsocketperm") << QStringLiteral("700");
    }
    args << QStringLiteral("--bind") << QStringLiteral("127.0.0.1") << QStringLiteral("--save")
         << QString() << QStringLiteral("--appendonly") << QStringLiteral("no")
         << QStringLiteral("--dir") << m_dir->path() << QStringLiteral("--daemonize")
         << QStringLiteral("no") << QStringLiteral("--logfile") << QString();
    args << m_extraArgs;

    m_process->setProgram(m_program);
    m_process->setArguments(args);
    m_process->setWorkingDirectory(m_dir->path());
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    m_process->setStandardInputFile(QProcess::nullDevice());

    // Never leak a server: the child gets SIGKILL when the thread that forked it dies, even if
    // the test crashes or is killed. Runs in the child between fork and exec, so only
    // async-signal-safe calls.
    const pid_t parent = ::getpid();
    m_process->setChildProcessModifier([parent] {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) // the parent died before prctl took effect
            ::_exit(127);
    });

    QObject::connect(m_process.get(), &QProcess::readyReadStandardOutput, m_process.get(),
        [this] { drainOutput(); });

    m_process->start();
    if (!m_process->waitForStarted(kTimeoutMs)) {
        setFailure(QStringLiteral("cannot run %1: %2").arg(m_program, m_process->errorString()));
        m_process.reset();
        return Attempt::Failed;
    }

    if (waitUntilReady()) {
        m_error.clear();
        return Attempt::Started;
    }

    finishProcess(SIGKILL);
    drainOutput();
    for (const QByteArray &line : std::as_const(m_log)) {
        if (line.contains("Address already in use"))
            return Attempt::AddressInUse;
    }
    return Attempt::Failed;
}

bool RedisServer::exitedDuringStartUp()
{
    if (m_process->state() != QProcess::NotRunning)
        return false;
    m_process->waitForFinished(0);
    drainOutput();
    setFailure(QStringLiteral("redis-server exited during start-up (exit code %1)")
                   .arg(m_process->exitCode()));
    return true;
}

bool RedisServer::waitUntilReady()
{
    const QDeadlineTimer deadline(kTimeoutMs);
    // A sentinel logs no "ready" line; for it PING alone tells.
    while (!m_sawReady && !m_sentinel) {
        if (exitedDuringStartUp())
            return false;
        if (deadline.hasExpired()) {
            setFailure(QStringLiteral("redis-server did not say it was ready to accept "
                                      "connections within %1 ms")
                           .arg(kTimeoutMs));
            return false;
        }
        m_process->waitForReadyRead(int(qMin<qint64>(deadline.remainingTime(), 100)));
        drainOutput();
    }
    // The log line says the listeners are up; make sure a client really gets an answer.
    while (!pingOnce(int(qMax<qint64>(qMin<qint64>(deadline.remainingTime(), 1000), 1)))) {
        if (exitedDuringStartUp())
            return false;
        if (deadline.hasExpired()) {
            setFailure(
                QStringLiteral("redis-server does not answer PING at %1").arg(url().toString()));
            return false;
        }
        // Not listening yet (a starting sentinel): wait a little, reading its log meanwhile.
        m_process->waitForReadyRead(int(qMin<qint64>(deadline.remainingTime(), 20)));
        drainOutput();
    }
    return true;
}

bool RedisServer::pingOnce(int timeoutMs) const
{
    if (m_transport == Transport::Tcp) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_port);
        return pingOver(socket, timeoutMs);
    }
    QLocalSocket socket;
    socket.connectToServer(m_socketPath);
    return pingOver(socket, timeoutMs);
}

void RedisServer::drainOutput()
{
    if (!m_process)
        return;
    m_partialLine += m_process->readAllStandardOutput();
    qsizetype newline;
    while ((newline = m_partialLine.indexOf('\n')) >= 0) {
        const QByteArray line = m_partialLine.left(newline).trimmed();
        m_partialLine.remove(0, newline + 1);
        // Redis 7.0: "Ready to accept connections" (TCP) or "The server is now ready to accept
        // connections at <path>" (unix socket only); 7.2: "Ready to accept connections tcp|unix".
        if (line.toLower().contains("ready to accept connections"))
            m_sawReady = true;
        m_log.append(line);
        if (m_log.size() > kLogLines)
            m_log.removeFirst();
    }
}

void RedisServer::finishProcess(int signalNumber)
{
    if (!m_process || m_process->state() == QProcess::NotRunning)
        return;
    const qint64 pid = m_process->processId();
    if (pid > 0) {
        ::kill(pid_t(pid), signalNumber);
        // A stopped process keeps SIGTERM pending until it continues.
        if (m_paused && signalNumber != SIGKILL)
            ::kill(pid_t(pid), SIGCONT);
    }
    if (!m_process->waitForFinished(kTimeoutMs)) {
        qWarning("RedisServer: redis-server %lld ignored signal %d for %d ms; killing it", pid,
            signalNumber, kTimeoutMs);
        m_process->kill();
        m_process->waitForFinished(kTimeoutMs);
    }
    drainOutput();
    m_paused = false;
}

void RedisServer::setFailure(const QString &what)
{
    m_error = QStringLiteral("RedisServer: %1").arg(what);
    const QString tail = logTail();
    if (!tail.isEmpty())
        m_error += QStringLiteral("\n--- last lines of redis-server output ---\n") + tail;
}

QString RedisServer::logTail() const
{
    QByteArrayList lines = m_log;
    if (!m_partialLine.trimmed().isEmpty())
        lines.append(m_partialLine.trimmed());
    if (lines.size() > kLogTailLines)
        lines = lines.mid(lines.size() - kLogTailLines);
    return QString::fromLocal8Bit(lines.join('\n'));
}

QString RedisServer::errorString() const { return m_error; }

void RedisServer::stop() { finishProcess(SIGTERM); }

void RedisServer::kill() { finishProcess(SIGKILL); }

bool RedisServer::restart()
{
    if (isRunning())
        stop();
    return start();
}

void RedisServer::pause()
{
    if (!isRunning() || m_paused)
        return;
    const qint64 pid = m_process->processId();
    ::kill(pid_t(pid), SIGSTOP);
    waitForStopState(pid, true);
    m_paused = true;
}

void RedisServer::resume()
{
    if (!isRunning() || !m_paused)
        return;
    const qint64 pid = m_process->processId();
    ::kill(pid_t(pid), SIGCONT);
    waitForStopState(pid, false);
    m_paused = false;
}

bool RedisServer::isRunning() const
{
    if (!m_process)
        return false;
    // Picks up an exit that the event loop has not processed yet (e.g. the test killed the pid).
    if (m_process->state() != QProcess::NotRunning)
        m_process->waitForFinished(0);
    return m_process->state() != QProcess::NotRunning;
}

bool RedisServer::isPaused() const { return m_paused && isRunning(); }

qint64 RedisServer::pid() const { return isRunning() ? m_process->processId() : 0; }

QUrl RedisServer::url() const
{
    if (m_transport == Transport::Unix)
        return m_socketPath.isEmpty() ? QUrl() : QUrl(QStringLiteral("unix://") + m_socketPath);
    return m_port == 0 ? QUrl() : QUrl(QStringLiteral("redis://127.0.0.1:%1").arg(m_port));
}

quint16 RedisServer::port() const { return m_transport == Transport::Tcp ? m_port : 0; }

QString RedisServer::socketPath() const { return m_socketPath; }

QString RedisServer::dir() const { return m_dir ? m_dir->path() : QString(); }

RedisServer::Transport RedisServer::transport() const { return m_transport; }

QByteArray RedisServer::cli(const QStringList &args) const
{
    const QString program = QStandardPaths::findExecutable(QStringLiteral("redis-cli"));
    if (program.isEmpty()) {
        qWarning("RedisServer::cli: redis-cli not found on PATH; install it "
                 "(scripts/install-deps.sh, Debian package redis-tools)");
        return {};
    }
    QStringList fullArgs;
    if (m_transport == Transport::Tcp)
        fullArgs << QStringLiteral("-h") << QStringLiteral("127.0.0.1") << QStringLiteral("-p")
                 << QString::number(m_port);
    else
        fullArgs << QStringLiteral("-s") << m_socketPath;
    fullArgs << args;

    QProcess process;
    process.setStandardInputFile(QProcess::nullDevice());
    process.start(program, fullArgs);
    if (!process.waitForFinished(kTimeoutMs)) {
        qWarning("RedisServer::cli: redis-cli %s did not finish within %d ms",
            qPrintable(args.join(QLatin1Char(' '))), kTimeoutMs);
        process.kill();
        process.waitForFinished(kTimeoutMs);
        return {};
    }
    const QByteArray err = process.readAllStandardError().trimmed();
    if (process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0 || !err.isEmpty())
        qWarning("RedisServer::cli: redis-cli %s exited with %d: %s",
            qPrintable(args.join(QLatin1Char(' '))), process.exitCode(), err.constData());
    return process.readAllStandardOutput().trimmed();
}

QByteArrayList RedisServer::recentLog() const
{
    // Without an event loop the log waits in the pipe; read what is there (readyRead drains it
    // into m_log), a bounded number of times in case the server keeps printing.
    if (m_process && m_process->state() != QProcess::NotRunning) {
        for (int i = 0; i < 100 && m_process->waitForReadyRead(0); ++i) { }
    }
    return m_log;
}

} // namespace DistributedPromiseTest
