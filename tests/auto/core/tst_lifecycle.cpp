// SPDX-License-Identifier: MIT
// Closing a window or quitting while a call is pending: no continuation may trip over an object
// that is gone or going (Qt 6.4 asserts when a then(context, ...) continuation runs after its
// context died), every future finishes, and the process exits normally. Each scenario runs in
// lifecycleapp, a real application built with Qt's header assertions on.

#include "coretest.h"

#include <QtCore/QProcess>
#include <QtTest/QTest>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_Lifecycle : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void destructionOrder_data();
    void destructionOrder();

private:
    RedisServer m_server;
};

void tst_Lifecycle::destructionOrder_data()
{
    QTest::addColumn<QString>("scenario");
    QTest::addColumn<QByteArrayList>("expected"); // the lines printed, in order

    QTest::newRow("window destroyed first")
        << QStringLiteral("window-destroyed-first")
        << QByteArrayList { "quitting", "failed Cancelled", "window destroyed" };
    QTest::newRow("wrapper destroyed first")
        << QStringLiteral("wrapper-destroyed-first")
        << QByteArrayList { "quitting", "failed Cancelled after 1 call", "window destroyed" };
    QTest::newRow("promise object") << QStringLiteral(
        "promise-object") << QByteArrayList { "quitting", "promise failed", "promise finished" };
    QTest::newRow("wrapper deleted while the application runs")
        << QStringLiteral("wrapper-deleted-while-running")
        << QByteArrayList { "failed Cancelled after the destructor", "quitting",
               "window destroyed" };
}

void tst_Lifecycle::destructionOrder()
{
    QFETCH(QString, scenario);
    QFETCH(QByteArrayList, expected);
    QProcess app;
    app.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    app.start(QStringLiteral(LIFECYCLEAPP_PATH), { scenario, m_server.url().toString() });
    QVERIFY(app.waitForStarted(10000));
    QTRY_COMPARE_WITH_TIMEOUT(app.state(), QProcess::NotRunning, 15000);
    const QByteArray output = app.readAllStandardOutput();
    QCOMPARE(app.exitStatus(), QProcess::NormalExit);
    QCOMPARE(app.exitCode(), 0);
    QByteArrayList lines = output.trimmed().split('\n');
    QCOMPARE(lines, expected);
}

QTEST_GUILESS_MAIN(tst_Lifecycle)
#include "tst_lifecycle.moc"
