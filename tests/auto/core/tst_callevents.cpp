// SPDX-License-Identifier: MIT
// DistributedPromiseWrapper::callFinished(): what happened to each call (hit, won, waited,
// coalesced, stale, failed), how long it waited and how long the work ran.

#include "coretest.h"

#include <QtTest/QSignalSpy>

using namespace std::chrono_literals;
using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_CallEvents : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void eachCallSaysWhatHappened();
    void failuresAndStaleValues();

private:
    QString key() const
    {
        return QStringLiteral("events-%1").arg(QString::fromLatin1(QTest::currentTestFunction()));
    }
    static QList<DistributedPromiseCallEvent> events(const QList<QList<QVariant>> &spied)
    {
        QList<DistributedPromiseCallEvent> list;
        for (const QList<QVariant> &arguments : spied)
            list.append(arguments.at(0).value<DistributedPromiseCallEvent>());
        return list;
    }

    RedisServer m_server;
};

void tst_CallEvents::eachCallSaysWhatHappened()
{
    DistributedPromiseWrapper holder(configFor(m_server));
    DistributedPromiseWrapper other(configFor(m_server));
    auto slow = holder.wrap(key(), [] { return valueLater(200ms, 7); });
    auto same = other.wrap(key(), [] { return 8; });
    QSignalSpy held(&holder, &DistributedPromiseWrapper::callFinished);
    QSignalSpy waited(&other, &DistributedPromiseWrapper::callFinished);

    const QFuture<int> first = slow();
    const QFuture<int> joined = slow();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<int> fromOther = same();
    QTRY_VERIFY(first.isFinished() && joined.isFinished() && fromOther.isFinished());
    QTRY_COMPARE(held.count(), 2);
    QTRY_COMPARE(waited.count(), 1);
    const QList<DistributedPromiseCallEvent> here = events(held);
    QCOMPARE(here.at(0).outcome, DistributedPromiseCallEvent::Won);
    QCOMPARE(here.at(0).coalesced, false);
    QCOMPARE(here.at(1).outcome, DistributedPromiseCallEvent::Won);
    QCOMPARE(here.at(1).coalesced, true);
    for (const DistributedPromiseCallEvent &event : here) {
        QCOMPARE(event.key, key());
        QCOMPARE(event.errorCode, int(DistributedPromiseError::NoError));
        QVERIFY2(event.workMs >= 150, qPrintable(QString::number(event.workMs)));
        QVERIFY(event.waitedMs >= event.workMs);
    }
    const DistributedPromiseCallEvent there = events(waited).at(0);
    QCOMPARE(there.outcome, DistributedPromiseCallEvent::Waited);
    QCOMPARE(there.workMs, qint64(-1));
    QVERIFY(there.waitedMs > 0);

    const QFuture<int> hit = same();
    QTRY_VERIFY(hit.isFinished());
    QTRY_COMPARE(waited.count(), 2);
    QCOMPARE(events(waited).at(1).outcome, DistributedPromiseCallEvent::Hit);
}

void tst_CallEvents::failuresAndStaleValues()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.staleFor = 1min;
    config.softTimeout = 20ms;
    DistributedPromiseWrapper wrapper(config);
    auto broken = wrapper.wrap(key(), []() -> int { throw std::runtime_error("broken"); });
    DistributedPromiseWrapOptions patient { key() + QStringLiteral("-slow"), 50ms };
    auto slow = wrapper.wrap(patient, [] { return valueLater(300ms, 1); });
    QSignalSpy spy(&wrapper, &DistributedPromiseWrapper::callFinished);

    const QFuture<int> failed = broken();
    const QFuture<int> late = slow();
    QTRY_VERIFY(failed.isFinished() && late.isFinished());
    QTRY_COMPARE(spy.count(), 2);
    QList<DistributedPromiseCallEvent> list = events(spy);
    std::sort(list.begin(), list.end(),
        [](const auto &a, const auto &b) { return a.errorCode < b.errorCode; });
    QCOMPARE(list.at(0).outcome, DistributedPromiseCallEvent::Failed);
    QCOMPARE(list.at(0).errorCode, int(DistributedPromiseError::WorkFailed));
    QCOMPARE(list.at(1).outcome, DistributedPromiseCallEvent::Failed);
    QCOMPARE(list.at(1).errorCode, int(DistributedPromiseError::Timeout));

    // A stale entry: answered stale after softTimeout, while the work runs again.
    QTRY_VERIFY(keyExists(m_server, dataKey(patient.key, "[]"))); // the timed-out work is done
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), dataKey(patient.key, "[]"),
                 QStringLiteral(R"({"v":1,"ok":true,"ttl":1000,"staleFor":60000,"value":0})"),
                 QStringLiteral("PX"), QStringLiteral("30000") }),
        QByteArray("OK"));
    spy.clear();
    const QFuture<int> stale = slow();
    QTRY_VERIFY(stale.isFinished());
    QCOMPARE(stale.result(), 0);
    QTRY_COMPARE(spy.count(), 1);
    QCOMPARE(events(spy).at(0).outcome, DistributedPromiseCallEvent::Stale);
}

QTEST_GUILESS_MAIN(tst_CallEvents)
#include "tst_callevents.moc"
