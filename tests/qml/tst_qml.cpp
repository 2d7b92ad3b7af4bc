// SPDX-License-Identifier: MIT
// QuickTest runner for the tst_*.qml files in this directory. A private redis-server and one
// DistributedPromiseWrapper with a few wrapped C++ functions are shared by all QML tests; the
// wrapper is the context property "testWrapper", the counters of the work are "testWork".

#include "redisserver.h"

#include <DistributedPromise>

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QPromise>
#include <QtCore/QTimer>
#include <QtQml/QQmlContext>
#include <QtQml/QQmlEngine>
#include <QtQuickTest/quicktest.h>
#include <QtTest/QTest>

#include <memory>
#include <stdexcept>

using DistributedPromiseTest::RedisServer;

// How often each wrapped function ran in this process, for checks like "ran once".
class TestWork : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int addRuns READ addRuns NOTIFY changed)
    Q_PROPERTY(int slowRuns READ slowRuns NOTIFY changed)
    Q_PROPERTY(int destroyedCount READ destroyedCount NOTIFY changed)

public:
    int addRuns() const { return m_addRuns; }
    int slowRuns() const { return m_slowRuns; }
    int destroyedCount() const { return m_destroyed; }
    /*! Counts \a object in destroyedCount once it is deleted (no reference is kept). */
    Q_INVOKABLE void track(QObject *object)
    {
        connect(object, &QObject::destroyed, this, [this] {
            ++m_destroyed;
            Q_EMIT changed();
        });
    }
    /*! \a parent is the QObject parent of \a child. */
    Q_INVOKABLE bool isParentOf(QObject *parent, QObject *child) const
    {
        return child->parent() == parent;
    }
    void countAdd()
    {
        ++m_addRuns;
        Q_EMIT changed();
    }
    void countSlow()
    {
        ++m_slowRuns;
        Q_EMIT changed();
    }

Q_SIGNALS:
    void changed();

private:
    int m_addRuns = 0;
    int m_slowRuns = 0;
    int m_destroyed = 0;
};

class Setup : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void applicationAvailable()
    {
        m_redis = std::make_unique<RedisServer>();
        if (!m_redis->start())
            qFatal("tst_qml: cannot start a private redis-server: %s",
                qPrintable(m_redis->errorString()));

        DistributedPromiseConfig config;
        config.redisUrl = m_redis->url();
        config.keyPrefix = QStringLiteral("dpqmltest-%1-%2")
                               .arg(QCoreApplication::applicationPid())
                               .arg(QDateTime::currentMSecsSinceEpoch());
        // Redis trouble must show up as failures, not be hidden by running locally.
        config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
        m_work = std::make_unique<TestWork>();
        m_wrapper = std::make_unique<DistributedPromiseWrapper>(config);
        if (!m_wrapper->configurationError().isEmpty())
            qFatal(
                "tst_qml: unusable configuration: %s", qPrintable(m_wrapper->configurationError()));

        TestWork *work = m_work.get();
        m_wrapper->wrap(QStringLiteral("add"), [work](int a, int b) {
            work->countAdd();
            return a + b;
        });
        m_wrapper->wrap(QStringLiteral("fail"), []() -> int { throw std::runtime_error("boom"); });
        // Resolves with tag after ms milliseconds, driven by a timer (the event loop stays free).
        m_wrapper->wrap(QStringLiteral("slow"), [work](int ms, const QString &tag) {
            work->countSlow();
            auto promise = std::make_shared<QPromise<QString>>();
            promise->start();
            QTimer::singleShot(ms, work, [promise, tag] {
                promise->addResult(tag);
                promise->finish();
            });
            return promise->future();
        });
        m_wrapper->wrap(QStringLiteral("echo"), [](const QJsonValue &value) { return value; });
        // A new value on every run: "tag#1", "tag#2", ...
        m_wrapper->wrap(
            QStringLiteral("stamp"), [runs = std::make_shared<int>(0)](const QString &tag) {
                return QStringLiteral("%1#%2").arg(tag).arg(++*runs);
            });

        if (!QTest::qWaitFor([this] { return m_wrapper->isConnected(); }, 10000))
            qFatal("tst_qml: the wrapper did not connect to %s within 10 s",
                qPrintable(m_redis->url().toString()));
    }

    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->rootContext()->setContextProperty(QStringLiteral("testWrapper"), m_wrapper.get());
        engine->rootContext()->setContextProperty(QStringLiteral("testWork"), m_work.get());
    }

    void cleanupTestCase()
    {
        // Before the application object goes away: the wrapper and the fixture use its loop.
        m_wrapper.reset();
        m_work.reset();
        m_redis.reset();
    }

private:
    std::unique_ptr<RedisServer> m_redis;
    std::unique_ptr<TestWork> m_work;
    std::unique_ptr<DistributedPromiseWrapper> m_wrapper;
};

QUICK_TEST_MAIN_WITH_SETUP(tst_qml, Setup)

#include "tst_qml.moc"
