#include "faultproxy.h"

#include <QDeadlineTimer>
#include <QProcess>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace DistributedPromiseTest {

namespace {
constexpr int kTimeoutMs = 5000;
}

FaultProxyProcess::FaultProxyProcess() = default;

FaultProxyProcess::~FaultProxyProcess() { stop(); }

QString FaultProxyProcess::program()
{
#ifdef DP_FAULTPROXY_PROGRAM
    return QStringLiteral(DP_FAULTPROXY_PROGRAM);
#else
    return QString();
#endif
}

bool FaultProxyProcess::start(quint16 upstreamPort, quint16 port)
{
    stop();
    if (program().isEmpty()) {
        m_error = QStringLiteral("the dp_faultproxy helper's path is unknown to this build");
        return false;
    }
    m_process = std::make_unique<QProcess>();
    m_process->setProgram(program());
    m_process->setArguments({ QStringLiteral("--upstream-port"), QString::number(upstreamPort),
        QStringLiteral("--port"), QString::number(port) });
    m_process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    // Never outlive the test, even if it is killed (runs between fork and exec).
    const pid_t parent = ::getpid();
    m_process->setChildProcessModifier([parent] {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent)
            ::_exit(127);
    });
    m_process->start();
    if (!m_process->waitForStarted(kTimeoutMs)) {
        m_error = QStringLiteral("cannot run %1: %2").arg(program(), m_process->errorString());
        m_process.reset();
        return false;
    }
    const QByteArray first = readLine(kTimeoutMs);
    bool ok = false;
    if (first.startsWith("listening "))
        m_port = quint16(first.mid(10).toUInt(&ok));
    if (!ok || m_port == 0) {
        m_error = QStringLiteral("dp_faultproxy did not start (it said '%1')")
                      .arg(QString::fromUtf8(first));
        stop();
        return false;
    }
    return true;
}

QString FaultProxyProcess::errorString() const { return m_error; }

quint16 FaultProxyProcess::port() const { return m_port; }

QUrl FaultProxyProcess::url() const
{
    return QUrl(QStringLiteral("redis://127.0.0.1:%1").arg(m_port));
}

QString FaultProxyProcess::command(const QString &line, QStringList *more)
{
    if (!m_process)
        return QString();
    m_process->write(line.toUtf8() + '\n');
    const QString answer = QString::fromUtf8(readLine(kTimeoutMs));
    if (line.trimmed() == QLatin1String("list") && answer.startsWith(QLatin1String("ok "))) {
        const int count = answer.mid(3).toInt();
        for (int i = 0; i < count; ++i) {
            const QString extra = QString::fromUtf8(readLine(kTimeoutMs));
            if (more)
                more->append(extra);
        }
    }
    return answer;
}

void FaultProxyProcess::stop()
{
    m_port = 0;
    m_buffer.clear();
    if (!m_process)
        return;
    if (m_process->state() != QProcess::NotRunning) {
        m_process->closeWriteChannel(); // the helper exits when its stdin closes
        if (!m_process->waitForFinished(kTimeoutMs)) {
            m_process->kill();
            m_process->waitForFinished(kTimeoutMs);
        }
    }
    m_process.reset();
}

QByteArray FaultProxyProcess::readLine(int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    for (;;) {
        const qsizetype end = m_buffer.indexOf('\n');
        if (end >= 0) {
            const QByteArray line = m_buffer.left(end);
            m_buffer.remove(0, end + 1);
            return line;
        }
        if (m_process->state() == QProcess::NotRunning || deadline.hasExpired())
            return QByteArray();
        if (m_process->bytesAvailable() == 0)
            m_process->waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime())));
        m_buffer.append(m_process->readAllStandardOutput());
    }
}

} // namespace DistributedPromiseTest
