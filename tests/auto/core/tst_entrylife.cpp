// SPDX-License-Identifier: MIT
// What decides an entry's life, in one process: the work's own DistributedPromiseContext, the
// per-wrap options, the config's checks; what a DistributedPromise says of a stale value; and
// entries written before freshness existed (and by it, with staleFor 0) read the same.

#include "coretest.h"

#include <QtCore/QJsonDocument>

using namespace std::chrono_literals;
using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_EntryLife : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void contextSetsTheEntrysLife();
    void wrapOptionsOverrideTheConfig();
    void promiseSaysStaleAndWhen();
    void peekAndInvalidateInOneProcess();
    void entriesOfEarlierVersionsReadTheSame();
    void badSettingsAreRefused();

private:
    QString key() const
    {
        return QStringLiteral("life-%1").arg(QString::fromLatin1(QTest::currentTestFunction()));
    }
    qint64 pttl(const QString &dataKey) const
    {
        return m_server.cli({ QStringLiteral("PTTL"), dataKey }).toLongLong();
    }

    RedisServer m_server;
};

void tst_EntryLife::contextSetsTheEntrysLife()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.ttl = 10min;
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    // Negative caching: a missing user is cached 5 s, a found one the configured 10 min; a
    // "volatile" one not at all.
    auto lookup = wrapper.wrap(key(), [&runs](DistributedPromiseContext ctx, int id) {
        ++runs;
        if (id == 0)
            ctx.setTtl(5s);
        if (id == 2)
            ctx.doNotCache();
        if (id == 3) {
            ctx.setTtl(2s);
            ctx.setStaleFor(3s);
        }
        return QStringLiteral("user-%1").arg(id);
    });
    for (int id : { 0, 1, 2, 3 }) {
        const QFuture<QString> f = lookup(id);
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(f.result(), QStringLiteral("user-%1").arg(id));
    }
    QCOMPARE(runs, 4);
    const qint64 negative = pttl(dataKey(key(), "[0]"));
    QVERIFY2(negative > 0 && negative <= 5000, qPrintable(QString::number(negative)));
    QVERIFY(pttl(dataKey(key(), "[1]")) > 5 * 60 * 1000);
    QVERIFY(!keyExists(m_server, dataKey(key(), "[2]")));
    const qint64 withStale = pttl(dataKey(key(), "[3]"));
    QVERIFY2(withStale > 3000 && withStale <= 5000, qPrintable(QString::number(withStale)));
    // The context is not an argument: the same calls are hits.
    const QFuture<QString> again = lookup(1);
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(runs, 4);
}

void tst_EntryLife::wrapOptionsOverrideTheConfig()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.ttl = 10min;
    DistributedPromiseWrapper wrapper(config);
    DistributedPromiseWrapOptions options { key(), std::nullopt };
    options.ttl = 3s;
    options.staleFor = 4s;
    auto work = wrapper.wrap(options, [] { return 1; });
    const QFuture<int> f = work();
    QTRY_VERIFY(f.isFinished());
    const qint64 left = pttl(dataKey(key(), "[]"));
    QVERIFY2(left > 6000 && left <= 7000, qPrintable(QString::number(left)));
    const QByteArray stored = m_server.cli({ QStringLiteral("GET"), dataKey(key(), "[]") });
    QCOMPARE(stored, QByteArray(R"({"v":1,"ok":true,"ttl":3000,"staleFor":4000,"value":1})"));
}

void tst_EntryLife::promiseSaysStaleAndWhen()
{
    // An entry with 1 s of its 3 s stale window left: past its ttl, computed 2 s + ttl ago.
    DistributedPromiseConfig config = configFor(m_server);
    config.staleFor = 3s;
    config.softTimeout = 20ms;
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    wrapper.wrap(key(), [&runs] {
        ++runs;
        return valueLater(300ms, QStringLiteral("fresh"));
    });
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), dataKey(key(), "[]"),
                 QStringLiteral(R"({"v":1,"ok":true,"ttl":60000,"staleFor":3000,"value":"old"})"),
                 QStringLiteral("PX"), QStringLiteral("1000") }),
        QByteArray("OK"));
    std::unique_ptr<DistributedPromise> stale(wrapper.call(key(), {}));
    QTRY_VERIFY(stale->state() != DistributedPromise::Pending);
    QCOMPARE(stale->value().toString(), QStringLiteral("old"));
    QVERIFY(stale->isStale());
    const qint64 age = stale->updatedAt().msecsTo(QDateTime::currentDateTime());
    QVERIFY2(age >= 62000 && age < 63000, qPrintable(QString::number(age)));
    // The refresh went on: the next call gets the fresh value, computed just now.
    QTRY_COMPARE(runs, 1);
    QTRY_VERIFY(m_server.cli({ QStringLiteral("GET"), dataKey(key(), "[]") }).contains("fresh"));
    std::unique_ptr<DistributedPromise> fresh(wrapper.call(key(), {}));
    QTRY_VERIFY(fresh->state() != DistributedPromise::Pending);
    QCOMPARE(fresh->value().toString(), QStringLiteral("fresh"));
    QVERIFY(!fresh->isStale());
    QVERIFY(fresh->updatedAt().msecsTo(QDateTime::currentDateTime()) < 5000);
    QCOMPARE(wrapper.stats().stale, quint64(1));
    QCOMPARE(wrapper.stats().refreshes, quint64(1));
    QCOMPARE(wrapper.statistics().value(QStringLiteral("stale")).toULongLong(), quint64(1));
}

void tst_EntryLife::peekAndInvalidateInOneProcess()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto report = wrapper.wrap(key(), [&runs](int year) {
        ++runs;
        return year + runs;
    });
    QFuture<std::optional<int>> nothing = report.peek(2026);
    QTRY_VERIFY(nothing.isFinished());
    QCOMPARE(nothing.result(), std::optional<int>());
    QFuture<int> first = report(2026);
    QTRY_VERIFY(first.isFinished());
    QFuture<std::optional<int>> cached = report.peek(2026);
    QTRY_VERIFY(cached.isFinished());
    QCOMPARE(cached.result(), std::optional<int>(2027));
    QFuture<void> removed = report.invalidate(2026);
    QTRY_VERIFY(removed.isFinished());
    QVERIFY(!keyExists(m_server, dataKey(key(), "[2026]")));
    QFuture<int> second = report(2026);
    QTRY_VERIFY(second.isFinished());
    QCOMPARE(second.result(), 2028);
    QCOMPARE(runs, 2);
    // By key, as QML calls it.
    std::unique_ptr<DistributedPromise> refreshed(wrapper.refresh(key(), { 2026 }));
    QTRY_VERIFY(refreshed->state() == DistributedPromise::Resolved);
    QCOMPARE(refreshed->value().toInt(), 2029);
    std::unique_ptr<DistributedPromise> all(wrapper.invalidateAll(key()));
    QTRY_VERIFY(all->state() == DistributedPromise::Resolved);
    QFuture<int> third = report(2026);
    QTRY_VERIFY(third.isFinished());
    QCOMPARE(third.result(), 2030);
    QCOMPARE(wrapper.stats().invalidations, quint64(2));
}

void tst_EntryLife::entriesOfEarlierVersionsReadTheSame()
{
    DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper plain(config);
    int runs = 0;
    auto work = plain.wrap(key(), [&runs](int n) {
        ++runs;
        return QStringLiteral("v%1").arg(n);
    });
    // staleFor 0 (the default): the entry is, byte for byte, what 0.2 writes and reads.
    QFuture<QString> f = work(1);
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), dataKey(key(), "[1]") }),
        QByteArray(R"({"v":1,"ok":true,"value":"v1"})"));
    // An entry written by 0.2 (no life fields) is fresh to a reader with staleFor, for as long as
    // it exists.
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), dataKey(key(), "[2]"),
                 QStringLiteral(R"({"v":1,"ok":true,"value":"old-writer"})"), QStringLiteral("PX"),
                 QStringLiteral("50") }),
        QByteArray("OK"));
    config.staleFor = 1min;
    DistributedPromiseWrapper stale(config);
    auto same = stale.wrap(key(), [&runs](int n) {
        ++runs;
        return QStringLiteral("v%1").arg(n);
    });
    std::unique_ptr<DistributedPromise> old(stale.call(key(), { 2 }));
    QTRY_VERIFY(old->state() == DistributedPromise::Resolved);
    QCOMPARE(old->value().toString(), QStringLiteral("old-writer"));
    QVERIFY(!old->isStale());
    QCOMPARE(runs, 1);
    // The life fields are members 0.2's JSON reader skips: v, ok and value mean what they meant.
    QFuture<QString> g = same(3);
    QTRY_VERIFY(g.isFinished());
    const QByteArray written = m_server.cli({ QStringLiteral("GET"), dataKey(key(), "[3]") });
    const QJsonObject envelope = QJsonDocument::fromJson(written).object();
    QCOMPARE(envelope.value(QLatin1String("v")).toInt(), 1);
    QCOMPARE(envelope.value(QLatin1String("ok")).toBool(), true);
    QCOMPARE(envelope.value(QLatin1String("value")).toString(), QStringLiteral("v3"));
    QCOMPARE(envelope.value(QLatin1String("staleFor")).toInt(), 60000);
}

void tst_EntryLife::badSettingsAreRefused()
{
    const auto errorFor = [this](auto change) {
        DistributedPromiseConfig config = configFor(m_server);
        change(config);
        DistributedPromiseWrapper wrapper(config);
        return wrapper.configurationError();
    };
    QVERIFY(errorFor([](DistributedPromiseConfig &c) { c.staleFor = -1ms; }).contains(u"staleFor"));
    QVERIFY(errorFor([](DistributedPromiseConfig &c) {
        c.softTimeout = -1ms;
    }).contains(u"softTimeout"));
    QVERIFY(errorFor([](DistributedPromiseConfig &c) {
        c.eagerRefresh = 1.0;
    }).contains(u"eagerRefresh"));
    QVERIFY(errorFor([](DistributedPromiseConfig &c) {
        c.eagerRefresh = -0.1;
    }).contains(u"eagerRefresh"));
    QVERIFY(errorFor([](DistributedPromiseConfig &c) { c.eagerRefresh = 0.8; }).isEmpty());
}

QTEST_GUILESS_MAIN(tst_EntryLife)
#include "tst_entrylife.moc"
