// SPDX-License-Identifier: MIT
#pragma once

// dpworker processes (dpworker.cpp) driven from a test: started with QProcess, released with GO,
// their READY/WORKING/RESULT lines read back. Needs DPWORKER_PATH, the helper's path.

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QProcess>
#include <QtCore/QStringList>
#include <QtCore/QUrl>
#include <QtTest/QTest>

#include <algorithm>
#include <csignal>
#include <memory>
#include <sys/prctl.h>
#include <vector>

namespace DpWorkerTest {

/*! The data key of dpworker's call slow(\a arg) under key prefix \a prefix (generation 0). */
inline QString dataKeyOf(const QString &prefix, const QString &arg = QStringLiteral("x"))
{
    return prefix + QStringLiteral(":{slow:[\"%1\"]}").arg(arg);
}

/*!
    dpworker processes (tests/auto/multiprocess/dpworker.cpp) sharing one Redis URL and key
    prefix. Killed, if still running, when this object goes away.
*/
class Workers
{
public:
    Workers(const QUrl &url, const QString &prefix)
        : m_url(url)
        , m_prefix(prefix)
    { }
    ~Workers()
    {
        for (auto &process : m_processes) {
            if (process->state() == QProcess::NotRunning)
                continue;
            process->kill();
            process->waitForFinished(5000);
        }
    }
    Workers(const Workers &) = delete;
    Workers &operator=(const Workers &) = delete;

    /*! Starts one dpworker with \a extra arguments; returns its index. With \a launcher (e.g.
        {"faketime", "+1h"}), dpworker runs under that program. */
    int start(const QStringList &extra, const QStringList &launcher = {})
    {
        auto process = std::make_unique<QProcess>();
        process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        // Never outlives the test, even if it crashes.
        process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
        QStringList arguments { QStringLiteral(DPWORKER_PATH), QStringLiteral("--url"),
            m_url.toString(), QStringLiteral("--prefix"), m_prefix };
        arguments += extra;
        arguments = launcher + arguments;
        process->start(arguments.takeFirst(), arguments);
        // Kept: processId() is 0 once the process has finished.
        m_pids.push_back(process->waitForStarted(10000) ? process->processId() : 0);
        m_processes.push_back(std::move(process));
        m_output.append(QByteArray());
        return int(m_processes.size()) - 1;
    }

    QProcess *process(int i) const { return m_processes.at(size_t(i)).get(); }
    qint64 pid(int i) const { return m_pids.at(size_t(i)); }
    int count() const { return int(m_processes.size()); }

    /*! What process \a i printed so far. */
    QByteArray output(int i)
    {
        poll();
        return m_output.at(i);
    }
    bool printed(int i, const QByteArray &word) { return output(i).contains(word); }
    bool allPrinted(const QList<int> &which, const QByteArray &word)
    {
        return std::all_of(which.cbegin(), which.cend(), [&](int i) { return printed(i, word); });
    }
    /*! Every process started so far printed \a word. */
    bool allPrinted(const QByteArray &word)
    {
        for (int i = 0; i < count(); ++i) {
            if (!printed(i, word))
                return false;
        }
        return true;
    }
    /*! The first process that printed \a word, or -1. */
    int firstPrinted(const QByteArray &word)
    {
        for (int i = 0; i < count(); ++i) {
            if (printed(i, word))
                return i;
        }
        return -1;
    }
    /*! Releases process \a i (it waits for GO after printing READY). */
    void go(int i) { process(i)->write("GO\n"); }
    void goAll()
    {
        for (int i = 0; i < count(); ++i)
            go(i);
    }

    /*! Waits for every process's READY, releases them all, and waits until each printed
        \a word (RESULT, FINAL); false on a timeout. */
    bool runAll(const QByteArray &word, int timeoutMs = 20000)
    {
        if (!QTest::qWaitFor([this] { return allPrinted("READY"); }, timeoutMs))
            return false;
        goAll();
        return QTest::qWaitFor([this, &word] { return allPrinted(word); }, timeoutMs);
    }
    /*! \a field summed over every process's FINAL line. */
    qint64 finalSum(QLatin1String field)
    {
        qint64 sum = 0;
        for (int i = 0; i < count(); ++i)
            sum += final(i).value(field).toInteger();
        return sum;
    }

    /*! The RESULT line of process \a i, or an empty object before it printed one. */
    QJsonObject result(int i) { return line(i, "RESULT "); }
    /*! The FINAL line (printed when --linger-ms ends), or an empty object before. */
    QJsonObject final(int i) { return line(i, "FINAL "); }
    bool hasResult(int i) { return !result(i).isEmpty(); }

private:
    QJsonObject line(int i, const QByteArray &word)
    {
        const QByteArray out = output(i);
        const qsizetype at = out.indexOf(word);
        if (at < 0)
            return {};
        const qsizetype end = out.indexOf('\n', at);
        if (end < 0)
            return {};
        const qsizetype from = at + word.size();
        return QJsonDocument::fromJson(out.mid(from, end - from)).object();
    }

    void poll()
    {
        for (size_t i = 0; i < m_processes.size(); ++i)
            m_output[qsizetype(i)] += m_processes[i]->readAllStandardOutput();
    }

    QUrl m_url;
    QString m_prefix;
    std::vector<std::unique_ptr<QProcess>> m_processes;
    std::vector<qint64> m_pids;
    QList<QByteArray> m_output;
};

} // namespace DpWorkerTest
