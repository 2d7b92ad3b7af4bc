// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the fault tests: dpworker processes driven from a test, and a capture of
// everything the library logs.

#include "coretest.h"
#include "dpworkers.h"

#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMutex>
#include <QtCore/QProcess>
#include <QtCore/QStringList>

#include <algorithm>
#include <csignal>
#include <memory>
#include <optional>
#include <sys/prctl.h>
#include <vector>

namespace FaultsTest {

using DpWorkerTest::Workers;

/*! The scheduler state of process \a pid ('R', 'S', 'T' when stopped, ...), or 0 when unknown. */
inline char processState(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray line = stat.readAll();
    const qsizetype close = line.lastIndexOf(')'); // the command name may hold anything
    return close >= 0 && close + 2 < line.size() ? line.at(close + 2) : char(0);
}

inline bool isStopped(qint64 pid)
{
    const char state = processState(pid);
    return state == 'T' || state == 't';
}

/*! The DistributedPromiseError a finished future failed with, if any. */
template<typename T>
std::optional<DistributedPromiseError> errorOf(QFuture<T> future)
{
    try {
        future.waitForFinished(); // finished already: only rethrows a stored exception
    } catch (const DistributedPromiseError &error) {
        return error;
    } catch (...) { }
    return std::nullopt;
}

/*! The values of a dpworker RESULT, as strings. */
inline QStringList valuesOf(const QJsonObject &result)
{
    QStringList values;
    for (const QJsonValue &v : result.value(QLatin1String("values")).toArray())
        values.append(v.toString());
    return values;
}

/*! The error codes of a dpworker RESULT. */
inline QStringList errorCodesOf(const QJsonObject &result)
{
    QStringList codes;
    for (const QJsonValue &e : result.value(QLatin1String("errors")).toArray())
        codes.append(e[QLatin1String("code")].toString());
    return codes;
}

inline int intOf(const QJsonObject &result, const char *name)
{
    return result.value(QLatin1String(name)).toInt(-1);
}

/*!
    Records every message logged while it exists (all categories, all levels) and still passes
    each on to the handler installed before it, so QTest prints and checks them as usual.
    Install one at a time.
*/
class LogCapture
{
public:
    struct Line
    {
        QtMsgType type;
        QString category;
        QString message;
    };

    LogCapture()
    {
        s_current = this;
        m_previous = qInstallMessageHandler(&LogCapture::handler);
    }
    ~LogCapture()
    {
        qInstallMessageHandler(m_previous);
        s_current = nullptr;
    }
    LogCapture(const LogCapture &) = delete;
    LogCapture &operator=(const LogCapture &) = delete;

    QList<Line> lines() const
    {
        QMutexLocker locker(&m_mutex);
        return m_lines;
    }
    /*! How many lines of the library's category contain \a text. */
    int count(const QString &text, const QString &category = QStringLiteral("distributedpromise"))
    {
        const QList<Line> all = lines();
        return int(std::count_if(all.cbegin(), all.cend(), [&](const Line &line) {
            return line.category == category && line.message.contains(text);
        }));
    }
    /*! Every captured line, one per row, for failure messages. */
    QString dump() const
    {
        QStringList rows;
        for (const Line &line : lines())
            rows.append(line.category + QLatin1String(": ") + line.message);
        return rows.join(QLatin1Char('\n'));
    }

private:
    static void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        if (LogCapture *self = s_current) {
            {
                QMutexLocker locker(&self->m_mutex);
                self->m_lines.append(Line { type,
                    QString::fromUtf8(context.category ? context.category : "default"), message });
            }
            if (self->m_previous)
                self->m_previous(type, context, message);
        }
    }

    static inline LogCapture *s_current = nullptr;
    QtMessageHandler m_previous = nullptr;
    mutable QMutex m_mutex;
    QList<Line> m_lines;
};

} // namespace FaultsTest
