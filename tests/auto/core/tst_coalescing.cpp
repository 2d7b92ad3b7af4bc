// SPDX-License-Identifier: MIT
// In-process coalescing: many callers of one identity share one set of Redis commands and one
// execution; different arguments never share an identity.

#include "coretest.h"

#include <algorithm>
#include <stdexcept>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_Coalescing : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void tenThousandCallersOneExecution();
    void differentArgumentsNeverCollide_data();
    void differentArgumentsNeverCollide();
    void objectKeyOrderDoesNotMatter();
    void statsAddUp();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("coalescing-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }

    RedisServer m_server;
};

void tst_Coalescing::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
}

void tst_Coalescing::tenThousandCallersOneExecution()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](const QString &name, int n) {
        ++runs;
        return valueLater(std::chrono::milliseconds(50), QStringLiteral("%1=%2").arg(name).arg(n));
    });
    // Warm up: connections open, scripts loaded (that is per process, not per call).
    const QFuture<QString> warmUp = work(QStringLiteral("warm-up"), 0);
    QTRY_VERIFY(warmUp.isFinished());
    QCOMPARE(codeOf(warmUp), QStringLiteral("ok"));
    QCOMPARE(runs, 1);
    const DistributedPromiseStats before = wrapper.stats();

    QCOMPARE(
        m_server.cli({ QStringLiteral("CONFIG"), QStringLiteral("RESETSTAT") }), QByteArray("OK"));
    constexpr int callers = 10000;
    QList<QFuture<QString>> futures;
    futures.reserve(callers);
    for (int i = 0; i < callers; ++i)
        futures.append(work(QStringLiteral("same"), 7));
    QTRY_VERIFY(std::all_of(futures.cbegin(), futures.cend(),
        [](const QFuture<QString> &f) { return f.isFinished(); }));
    for (const QFuture<QString> &f : std::as_const(futures)) {
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), QStringLiteral("same=7"));
    }
    QCOMPARE(runs, 2);
    const qint64 commands = commandCount(m_server);
    QVERIFY2(commands <= 10,
        qPrintable(QStringLiteral("Redis saw %1 commands for %2 callers: %3")
                       .arg(commands)
                       .arg(callers)
                       .arg(QString::fromUtf8(commandStats(m_server)))));
    QVERIFY(commands > 0);
    qInfo("%lld Redis commands for %d callers: %s", commands, callers,
        commandStats(m_server).constData());

    const DistributedPromiseStats after = wrapper.stats();
    QCOMPARE(after.calls - before.calls, quint64(callers));
    QCOMPARE(after.coalesced - before.coalesced, quint64(callers - 1));
    QCOMPARE(after.misses - before.misses, quint64(1));
    QCOMPARE(after.won - before.won, quint64(1));
    QCOMPARE(after.hits - before.hits, quint64(0));
    QCOMPARE(after.errors, quint64(0));
}

void tst_Coalescing::differentArgumentsNeverCollide_data()
{
    QTest::addColumn<QString>("a1");
    QTest::addColumn<QString>("b1");
    QTest::addColumn<QString>("a2");
    QTest::addColumn<QString>("b2");
    QTest::newRow("separator moves") << QStringLiteral("a:b") << QStringLiteral("c")
                                     << QStringLiteral("a") << QStringLiteral("b:c");
    QTest::newRow("comma moves") << QStringLiteral("a,b") << QStringLiteral("c")
                                 << QStringLiteral("a") << QStringLiteral("b,c");
    QTest::newRow("quote and comma") << QStringLiteral("a\",\"b") << QStringLiteral("c")
                                     << QStringLiteral("a") << QStringLiteral("b\",\"c");
    QTest::newRow("empty halves") << QString() << QStringLiteral("ab") << QStringLiteral("ab")
                                  << QString();
    QTest::newRow("braces") << QStringLiteral("}{") << QStringLiteral("x") << QStringLiteral("}")
                            << QStringLiteral("{x");
}

void tst_Coalescing::differentArgumentsNeverCollide()
{
    QFETCH(QString, a1);
    QFETCH(QString, b1);
    QFETCH(QString, a2);
    QFETCH(QString, b2);
    const QString wrapKey = key(QString::fromLatin1(QTest::currentDataTag()));
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(wrapKey, [&runs](const QString &a, const QString &b) {
        ++runs;
        return QStringLiteral("<%1|%2>").arg(a, b);
    });
    // Concurrently, so in-process coalescing has its chance to get it wrong.
    const QFuture<QString> first = work(a1, b1);
    const QFuture<QString> second = work(a2, b2);
    QTRY_VERIFY(first.isFinished() && second.isFinished());
    QCOMPARE(first.result(), QStringLiteral("<%1|%2>").arg(a1, b1));
    QCOMPARE(second.result(), QStringLiteral("<%1|%2>").arg(a2, b2));
    QCOMPARE(runs, 2);

    // And through the cache, from another wrapper.
    DistributedPromiseWrapper other(configFor(m_server));
    auto cached = other.wrap(wrapKey, [&runs](const QString &a, const QString &b) {
        ++runs;
        return QStringLiteral("<%1|%2>").arg(a, b);
    });
    const QFuture<QString> third = cached(a2, b2);
    const QFuture<QString> fourth = cached(a1, b1);
    QTRY_VERIFY(third.isFinished() && fourth.isFinished());
    QCOMPARE(third.result(), QStringLiteral("<%1|%2>").arg(a2, b2));
    QCOMPARE(fourth.result(), QStringLiteral("<%1|%2>").arg(a1, b1));
    QCOMPARE(runs, 2);
    QCOMPARE(other.stats().hits, quint64(2));
}

void tst_Coalescing::objectKeyOrderDoesNotMatter()
{
    // Equal arguments are one identity however they were built; 1 and "1" are not.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](const QJsonValue &v) {
        ++runs;
        return v;
    });
    QJsonObject ab;
    ab.insert(QStringLiteral("a"), 1);
    ab.insert(QStringLiteral("b"), 2);
    QJsonObject ba;
    ba.insert(QStringLiteral("b"), 2);
    ba.insert(QStringLiteral("a"), 1);
    const QList<QFuture<QJsonValue>> futures { work(ab), work(ba), work(QJsonValue(1)),
        work(QJsonValue(QStringLiteral("1"))) };
    for (const QFuture<QJsonValue> &f : futures)
        QTRY_VERIFY(f.isFinished());
    QCOMPARE(futures.at(0).result(), QJsonValue(ab));
    QCOMPARE(futures.at(1).result(), QJsonValue(ab));
    QCOMPARE(futures.at(2).result(), QJsonValue(1));
    QCOMPARE(futures.at(3).result(), QJsonValue(QStringLiteral("1")));
    QCOMPARE(runs, 3);
    QVERIFY(keyExists(m_server, dataKey(key(), R"([{"a":1,"b":2}])")));
}

void tst_Coalescing::statsAddUp()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return valueLater(std::chrono::milliseconds(30), n + 1);
    });
    auto failing = wrapper.wrap(key(QStringLiteral("-failing")), [&runs](int) -> int {
        ++runs;
        throw std::runtime_error("no");
    });

    // Round 1: two identities in flight, 3 + 2 callers.
    QList<QFuture<int>> round1 { work(1), work(1), work(1), work(2), work(2) };
    QTRY_VERIFY(std::all_of(
        round1.cbegin(), round1.cend(), [](const QFuture<int> &f) { return f.isFinished(); }));
    DistributedPromiseStats s = wrapper.stats();
    QCOMPARE(s.calls, quint64(5));
    QCOMPARE(s.misses, quint64(2));
    QCOMPARE(s.coalesced, quint64(3));
    QCOMPARE(s.won, quint64(2));
    QCOMPARE(s.hits, quint64(0));
    QCOMPARE(runs, 2);

    // Round 2: both cached now; 2 callers each.
    QList<QFuture<int>> round2 { work(1), work(1), work(2), work(2) };
    QTRY_VERIFY(std::all_of(
        round2.cbegin(), round2.cend(), [](const QFuture<int> &f) { return f.isFinished(); }));
    QCOMPARE(round2.at(0).result(), 2);
    QCOMPARE(round2.at(3).result(), 3);
    s = wrapper.stats();
    QCOMPARE(s.calls, quint64(9));
    QCOMPARE(s.hits, quint64(2));
    QCOMPARE(s.coalesced, quint64(5));
    QCOMPARE(runs, 2);

    // Round 3: failing work, 3 callers: one run, three errors.
    QList<QFuture<int>> round3 { failing(0), failing(0), failing(0) };
    QTRY_VERIFY(std::all_of(
        round3.cbegin(), round3.cend(), [](const QFuture<int> &f) { return f.isFinished(); }));
    s = wrapper.stats();
    QCOMPARE(s.calls, quint64(12));
    QCOMPARE(s.errors, quint64(3));
    QCOMPARE(s.won, quint64(3));
    QCOMPARE(runs, 3);

    // Every call was a hit, a miss or a join; every miss led to a run here (no other process).
    QCOMPARE(s.calls, s.hits + s.misses + s.coalesced);
    QCOMPARE(s.won, s.misses);
    QCOMPARE(s.waited, quint64(0));
    QCOMPARE(s.takeovers, quint64(0));
    QCOMPARE(s.localRuns, quint64(0));
    QCOMPARE(s.lostLeases, quint64(0));
}

QTEST_GUILESS_MAIN(tst_Coalescing)
#include "tst_coalescing.moc"
