// SPDX-License-Identifier: MIT
// The wire format and the cache rules: key names, the envelope, ttl, corrupt entries, long
// arguments and bad configuration.

#include "coretest.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRegularExpression>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

class tst_Protocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void keyNamesWithCustomPrefixes();
    void storedValueIsCompactEnvelope();
    void resultIsStoredBeforeCallersResolve();
    void ttlZeroNeverCaches();
    void ttlExpiryRecomputes();
    void corruptEntryIsAMiss_data();
    void corruptEntryIsAMiss();
    void longArgumentsAreHashed();
    void identityOfTrickyArguments();
    void hitsWithTimeoutsReuseFlights();
    void valueOverMaxValueBytes();
    void argumentsOverMaxValueBytes();
    void badConfiguration_data();
    void badConfiguration();
    void emptyWrapKey();
    void connectionsAreNamedAndOpenedWhenNeeded();

private:
    QString key(const QString &name = QString()) const
    {
        return QStringLiteral("protocol-%1%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }
    QByteArrayList keysMatching(const QString &pattern) const
    {
        QByteArrayList keys = m_server.cli({ QStringLiteral("KEYS"), pattern }).split('\n');
        keys.removeAll(QByteArray());
        std::sort(keys.begin(), keys.end());
        return keys;
    }

    RedisServer m_server;
};

void tst_Protocol::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
}

void tst_Protocol::keyNamesWithCustomPrefixes()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.keyPrefix = QStringLiteral("myapp-") + key();
    config.lockPrefix = QStringLiteral("lk");
    config.notifPrefix = QStringLiteral("nt");
    config.keySeparator = QStringLiteral("|");
    const QString prefix = config.keyPrefix;
    const QString identity = QStringLiteral(R"(job|["x",1])");
    const QByteArray dataName
        = (prefix + QStringLiteral("|{") + identity + QLatin1Char('}')).toUtf8();
    const QByteArray lockName
        = (prefix + QStringLiteral("|lk|{") + identity + QLatin1Char('}')).toUtf8();
    const QByteArray channelName
        = (prefix + QStringLiteral("|nt|{") + identity + QLatin1Char('}')).toUtf8();
    // Where invalidateAll() publishes the wrap key's new generation.
    const QByteArray generationChannel = (prefix + QStringLiteral("|nt|generation|{job}")).toUtf8();
    const auto channels = [this, &prefix] {
        return sortedLines(m_server.cli(
            { QStringLiteral("PUBSUB"), QStringLiteral("CHANNELS"), prefix + QLatin1Char('*') }));
    };

    DistributedPromiseWrapper holder(config);
    int runs = 0;
    auto slow = holder.wrap(QStringLiteral("job"), [&runs](const QString &s, int n) {
        ++runs;
        return valueLater(std::chrono::milliseconds(600), QString(s + QString::number(n)));
    });
    const QFuture<QString> held = slow(QStringLiteral("x"), 1);
    // While the work runs: the lock, under the lock prefix, in the same hash slot.
    QTRY_COMPARE(keysMatching(prefix + QLatin1Char('*')), QByteArrayList { lockName });

    // A waiter in another wrapper listens on the channel.
    DistributedPromiseWrapper waiter(config);
    auto waiting = waiter.wrap(QStringLiteral("job"), [&runs](const QString &s, int n) {
        ++runs;
        return s + QString::number(n);
    });
    const QFuture<QString> waited = waiting(QStringLiteral("x"), 1);
    QTRY_COMPARE(channels(), QByteArrayList({ generationChannel, channelName }));
    QVERIFY(!held.isFinished());

    QTRY_VERIFY(held.isFinished() && waited.isFinished());
    QCOMPARE(held.result(), QStringLiteral("x1"));
    QCOMPARE(waited.result(), QStringLiteral("x1"));
    QCOMPARE(runs, 1);
    QCOMPARE(keysMatching(prefix + QLatin1Char('*')), QByteArrayList { dataName });
    // The last local waiter gone: unsubscribed (the generation's channel stays).
    QTRY_COMPARE(channels(), QByteArrayList { generationChannel });
    QCOMPARE(m_server.cli({ QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"),
                 QString::fromUtf8(dataName) }),
        m_server.cli(
            { QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), QString::fromUtf8(lockName) }));
}

void tst_Protocol::storedValueIsCompactEnvelope()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    auto work = wrapper.wrap(key(), [](const QJsonObject &in) {
        QJsonObject out = in;
        out.insert(QStringLiteral("list"), QJsonArray { 1, 2.5, QStringLiteral("\u00e9") });
        return out;
    });
    QJsonObject argument;
    argument.insert(QStringLiteral("z"), true);
    argument.insert(QStringLiteral("a"), QJsonValue());
    const QFuture<QJsonObject> f = work(argument);
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    const QString data = dataKey(key(), R"([{"a":null,"z":true}])");
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), data }),
        QByteArray(R"({"v":1,"ok":true,"value":{"a":null,"list":[1,2.5,"é"],"z":true}})"));
    const qint64 pttl = m_server.cli({ QStringLiteral("PTTL"), data }).toLongLong();
    QVERIFY2(pttl > 1800000 - 60000 && pttl <= 1800000, QByteArray::number(pttl));

    // Scalars too: the value is the JSON scalar itself.
    auto scalar = wrapper.wrap(key(QStringLiteral("-scalar")), [] { return 0; });
    const QFuture<int> zero = scalar();
    QTRY_VERIFY(zero.isFinished());
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), dataKey(key(QStringLiteral("-scalar")), "[]") }),
        QByteArray(R"({"v":1,"ok":true,"value":0})"));
}

void tst_Protocol::resultIsStoredBeforeCallersResolve()
{
    // "the winner works, caches, publishes, returns": when a caller sees the value it is
    // already in Redis and the lock is released, so this process may exit at once.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    auto work = wrapper.wrap(key(), [](int n) { return n * 3; });
    bool cachedWhenResolved = false;
    bool unlockedWhenResolved = false;
    QFuture<void> checked = work(5).then([&](int value) {
        Q_UNUSED(value)
        // Runs synchronously in the thread that resolved the future, before any other event.
        cachedWhenResolved = keyExists(m_server, dataKey(key(), "[5]"));
        unlockedWhenResolved = !keyExists(m_server, lockKey(key(), "[5]"));
    });
    QTRY_VERIFY(checked.isFinished());
    QVERIFY(cachedWhenResolved);
    QVERIFY(unlockedWhenResolved);
}

void tst_Protocol::ttlZeroNeverCaches()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.ttl = std::chrono::milliseconds(0);
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](int n) {
        ++runs;
        return valueLater(std::chrono::milliseconds(100), n + runs * 100);
    });
    QList<QFuture<int>> futures;
    for (int i = 0; i < 5; ++i)
        futures.append(work(1));
    // A second wrapper (another process) waits for the holder through pub/sub: no cache.
    DistributedPromiseWrapper other(config);
    int otherRuns = 0;
    auto otherWork = other.wrap(key(), [&otherRuns](int n) {
        ++otherRuns;
        return n;
    });
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[1]")));
    const QFuture<int> waited = otherWork(1);
    for (const QFuture<int> &f : std::as_const(futures)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(f.result(), 101);
    }
    QTRY_VERIFY(waited.isFinished());
    QCOMPARE(codeOf(waited), QStringLiteral("ok"));
    QCOMPARE(waited.result(), 101);
    QCOMPARE(runs, 1);
    QCOMPARE(otherRuns, 0);
    QCOMPARE(wrapper.stats().coalesced, quint64(4));
    QVERIFY(!keyExists(m_server, dataKey(key(), "[1]")));
    QVERIFY(!keyExists(m_server, lockKey(key(), "[1]")));
    QCOMPARE(wrapper.stats().hits + other.stats().hits, quint64(0));

    // Nothing cached: the next call runs the work again.
    const QFuture<int> again = work(1);
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), 201);
    QCOMPARE(runs, 2);
    QVERIFY(!keyExists(m_server, dataKey(key(), "[1]")));
}

void tst_Protocol::ttlExpiryRecomputes()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.ttl = std::chrono::milliseconds(300);
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs] { return ++runs; });
    const QFuture<int> first = work();
    QTRY_VERIFY(first.isFinished());
    QCOMPARE(first.result(), 1);
    const QString data = dataKey(key(), "[]");
    const qint64 pttl = m_server.cli({ QStringLiteral("PTTL"), data }).toLongLong();
    QVERIFY2(pttl > 0 && pttl <= 300, QByteArray::number(pttl));

    const QFuture<int> hit = work();
    QTRY_VERIFY(hit.isFinished());
    // Either still cached (most likely) or just expired; never a third run.
    QVERIFY(hit.result() == 1 || (hit.result() == 2 && runs == 2));

    QTRY_VERIFY_WITH_TIMEOUT(!keyExists(m_server, data), 3000);
    const int runsBefore = runs;
    const QFuture<int> recomputed = work();
    QTRY_VERIFY(recomputed.isFinished());
    QCOMPARE(recomputed.result(), runsBefore + 1);
    QCOMPARE(runs, runsBefore + 1);
}

void tst_Protocol::corruptEntryIsAMiss_data()
{
    QTest::addColumn<QString>("stored");
    QTest::newRow("garbage") << QStringLiteral("garbage");
    QTest::newRow("empty") << QString();
    QTest::newRow("other version") << QStringLiteral(R"({"v":2,"ok":true,"value":5})");
    QTest::newRow("no value") << QStringLiteral(R"({"v":1,"ok":true})");
    QTest::newRow("plain JSON") << QStringLiteral("5");
    QTest::newRow("truncated") << QStringLiteral(R"({"v":1,"ok":true,"value":)");
    QTest::newRow("cached error") << QStringLiteral(
        R"({"v":1,"ok":false,"error":{"code":"WorkFailed","message":"x"}})");
}

void tst_Protocol::corruptEntryIsAMiss()
{
    QFETCH(QString, stored);
    const QString wrapKey = key(QString::fromLatin1(QTest::currentDataTag()));
    const QString data = dataKey(wrapKey, "[]");
    QCOMPARE(m_server.cli({ QStringLiteral("SET"), data, stored }), QByteArray("OK"));
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(wrapKey, [&runs] { return ++runs * 10; });
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("unreadable cache entry")));
    const QFuture<int> f = work();
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    QCOMPARE(f.result(), 10);
    QCOMPARE(runs, 1);
    // Replaced by a good entry.
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), data }),
        QByteArray(R"({"v":1,"ok":true,"value":10})"));
    const QFuture<int> again = work();
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), 10);
    QCOMPARE(runs, 1);
}

void tst_Protocol::longArgumentsAreHashed()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](const QString &s) {
        ++runs;
        return int(s.size());
    });
    const QString longA = QString(200, QLatin1Char('a'));
    const QString longB = QString(199, QLatin1Char('a')) + QLatin1Char('b');
    const QFuture<int> a = work(longA);
    const QFuture<int> b = work(longB);
    QTRY_VERIFY(a.isFinished() && b.isFinished());
    QCOMPARE(a.result(), 200);
    QCOMPARE(b.result(), 200);
    QCOMPARE(runs, 2);
    const auto hashed = [this](const QString &s) {
        const QByteArray json = QJsonDocument(QJsonArray { s }).toJson(QJsonDocument::Compact);
        return QStringLiteral("distributed-promise:{%1:#%2}")
            .arg(key(),
                QString::fromLatin1(
                    QCryptographicHash::hash(json, QCryptographicHash::Sha256).toHex()))
            .toUtf8();
    };
    QByteArrayList expected { hashed(longA), hashed(longB) };
    std::sort(expected.begin(), expected.end());
    QCOMPARE(keysMatching(QStringLiteral("distributed-promise:{%1:*").arg(key())), expected);

    // 128 bytes of arguments are kept as they are.
    const QString edge = QString(124, QLatin1Char('e')); // ["eee...e"] = 128 bytes
    const QFuture<int> plain = work(edge);
    QTRY_VERIFY(plain.isFinished());
    QVERIFY(keyExists(m_server, dataKey(key(), "[\"" + edge.toLatin1() + "\"]")));
}

void tst_Protocol::identityOfTrickyArguments()
{
    // The identity is written by the library's own JSON writer: it must name the very key that
    // QJsonDocument::toJson(Compact) names, for any argument (other clients compute it so).
    DistributedPromiseWrapper wrapper(configFor(m_server));
    auto work = wrapper.wrap(key(), [](const QJsonArray &a, double d, qint64 n) {
        return QString::number(a.size() + qint64(d) + n);
    });
    const QJsonArray tricky { QStringLiteral("caf\u00e9 \u20ac \"q\" \\ \n\t\u0001\u001f\u007f"),
        QString::fromUtf8("\xf0\x9f\x98\x80"),
        QJsonObject {
            { QStringLiteral("z"), 1 }, { QStringLiteral("a"), QJsonArray { 0.1, -0.0 } } },
        qint64(9007199254740993LL), 1e21, QString(20, QChar(0x4e2d)) };
    const QFuture<QString> f = work(tricky, 2.5, std::numeric_limits<qint64>::min());
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    const QByteArray json
        = QJsonDocument(QJsonArray { tricky, 2.5, std::numeric_limits<qint64>::min() })
              .toJson(QJsonDocument::Compact);
    QVERIFY2(json.size() > 128, json.constData()); // hashed: the hash covers every byte
    const QByteArray hashed
        = '#' + QCryptographicHash::hash(json, QCryptographicHash::Sha256).toHex();
    QVERIFY2(keyExists(m_server, dataKey(key(), hashed)), json.constData());
    // And short ones as they are.
    const QJsonArray shortTricky { QStringLiteral("\u00e9\"\\\u0001"), QJsonArray { 0.5, 1e300 } };
    const QFuture<QString> g = work(shortTricky, -0.0, 0);
    QTRY_VERIFY(g.isFinished());
    QCOMPARE(codeOf(g), QStringLiteral("ok"));
    const QByteArray shortJson
        = QJsonDocument(QJsonArray { shortTricky, -0.0, 0 }).toJson(QJsonDocument::Compact);
    QVERIFY2(keyExists(m_server, dataKey(key(), shortJson)), shortJson.constData());
}

void tst_Protocol::hitsWithTimeoutsReuseFlights()
{
    // Finished flights are reused, with their deadline timer: a reused timer must neither fire
    // for a later call nor keep a later call from timing out.
    DistributedPromiseConfig config = configFor(m_server);
    config.timeout = std::chrono::milliseconds(300);
    DistributedPromiseWrapper wrapper(config);
    auto quick = wrapper.wrap(key(), [](int i) { return i; });
    for (int round = 0; round < 3; ++round) {
        QList<QFuture<int>> futures;
        for (int i = 0; i < 50; ++i)
            futures.append(quick(i));
        for (int i = 0; i < futures.size(); ++i) {
            QTRY_VERIFY(futures.at(i).isFinished());
            QCOMPARE(futures.at(i).result(), i);
        }
    }
    auto slow = wrapper.wrap(key(QStringLiteral("-slow")),
        [](int i) { return valueLater(std::chrono::milliseconds(1500), i); });
    QElapsedTimer clock;
    clock.start();
    const QFuture<int> late = slow(1);
    QTRY_VERIFY_WITH_TIMEOUT(late.isFinished(), 3000);
    QCOMPARE(codeOf(late), QStringLiteral("Timeout"));
    QVERIFY2(clock.elapsed() >= 290 && clock.elapsed() < 1200, QByteArray::number(clock.elapsed()));
    // And the hits after it still get their values.
    const QFuture<int> again = quick(7);
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), 7);
}

void tst_Protocol::valueOverMaxValueBytes()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.maxValueBytes = 1000;
    DistributedPromiseWrapper wrapper(config);
    auto work = wrapper.wrap(key(), [] { return QString(2000, QLatin1Char('v')); });
    const QFuture<QString> f = work();
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(f).contains(QLatin1String("maxValueBytes")), qPrintable(messageOf(f)));
    QVERIFY2(messageOf(f).contains(key()), qPrintable(messageOf(f)));
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
    QVERIFY(!keyExists(m_server, lockKey(key(), "[]")));
}

void tst_Protocol::argumentsOverMaxValueBytes()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.maxValueBytes = 1000;
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs](const QString &s) {
        ++runs;
        return int(s.size());
    });
    const QFuture<int> f = work(QString(2000, QLatin1Char('a')));
    QTRY_VERIFY(f.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(f).contains(QLatin1String("maxValueBytes")), qPrintable(messageOf(f)));
    QCOMPARE(runs, 0);
}

void tst_Protocol::badConfiguration_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("mention");
    const auto row = [](const char *tag, const char *field, const QString &value,
                         const char *mention) {
        QTest::newRow(tag) << QString::fromLatin1(field) << value << QString::fromLatin1(mention);
    };
    row("empty separator", "keySeparator", QString(), "keySeparator");
    row("brace in keyPrefix", "keyPrefix", QStringLiteral("a{b"), "keyPrefix");
    row("brace in lockPrefix", "lockPrefix", QStringLiteral("lock}"), "lockPrefix");
    row("brace in notifPrefix", "notifPrefix", QStringLiteral("{n}"), "notifPrefix");
    row("brace in separator", "keySeparator", QStringLiteral("{"), "keySeparator");
    row("http URL", "redisUrl", QStringLiteral("http://x"), "Redis URL");
    row("garbage URL", "redisUrl", QStringLiteral("::not a url::"), "Redis URL");
    row("empty URL", "redisUrl", QString(), "Redis URL");
}

void tst_Protocol::badConfiguration()
{
    QFETCH(QString, field);
    QFETCH(QString, value);
    QFETCH(QString, mention);
    DistributedPromiseConfig config = configFor(m_server);
    if (field == QLatin1String("keySeparator"))
        config.keySeparator = value;
    else if (field == QLatin1String("keyPrefix"))
        config.keyPrefix = value;
    else if (field == QLatin1String("lockPrefix"))
        config.lockPrefix = value;
    else if (field == QLatin1String("notifPrefix"))
        config.notifPrefix = value;
    else
        config.redisUrl = QUrl(value);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(".")));
    DistributedPromiseWrapper wrapper(config);
    QVERIFY2(!wrapper.configurationError().isEmpty(), "configurationError() is empty");
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs] { return ++runs; });
    for (int i = 0; i < 3; ++i) {
        const QFuture<int> f = work();
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
        const QString message = messageOf(f);
        QVERIFY2(message.contains(mention, Qt::CaseInsensitive), qPrintable(message));
        QVERIFY2(message.contains(key()), qPrintable(message));
    }
    std::unique_ptr<DistributedPromise> promise(wrapper.call(key(), {}));
    QTRY_VERIFY(promise->future().isFinished());
    QCOMPARE(codeOf(promise->future()), QStringLiteral("InvalidArgument"));
    QCOMPARE(runs, 0);
    QCOMPARE(wrapper.stats().errors, quint64(4));
    QVERIFY(!wrapper.isConnected());
}

void tst_Protocol::emptyWrapKey()
{
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(QString(), [&runs] { return ++runs; });
    auto withOptions = wrapper.wrap(
        DistributedPromiseWrapOptions { QString(), std::nullopt }, [&runs](int) { return ++runs; });
    const QFuture<int> f = work();
    const QFuture<int> g = withOptions(1);
    QTRY_VERIFY(f.isFinished() && g.isFinished());
    QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
    QCOMPARE(codeOf(g), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(f).contains(QLatin1String("key")), qPrintable(messageOf(f)));
    QCOMPARE(runs, 0);
    // Not registered for call() either.
    std::unique_ptr<DistributedPromise> promise(wrapper.call(QString(), {}));
    QTRY_VERIFY(promise->future().isFinished());
    QCOMPARE(codeOf(promise->future()), QStringLiteral("InvalidArgument"));
}

void tst_Protocol::connectionsAreNamedAndOpenedWhenNeeded()
{
    // A wrapper opens its command connection at once, its subscriber connection at the first
    // call (it listens for the wrap key's generation), and its lease keeper's when it first holds
    // a lock; CLIENT LIST names each.
    DistributedPromiseConfig config = configFor(m_server);
    config.keyPrefix = QStringLiteral("named");
    const QString pid = QString::number(QCoreApplication::applicationPid());
    const auto names = [this] {
        QStringList found;
        const QByteArrayList lines
            = m_server.cli({ QStringLiteral("CLIENT"), QStringLiteral("LIST") }).split('\n');
        for (const QByteArray &line : lines) {
            const qsizetype at = line.indexOf(" name=");
            if (at >= 0)
                found.append(
                    QString::fromUtf8(line.mid(at + 6, line.indexOf(' ', at + 6) - at - 6)));
        }
        found.removeAll(QString());
        found.sort();
        return found;
    };
    DistributedPromiseWrapper holder(config);
    QTRY_COMPARE(names(), QStringList { QStringLiteral("named:%1:commands").arg(pid) });
    auto slow = holder.wrap(
        QStringLiteral("job"), [] { return valueLater(std::chrono::milliseconds(300), 1); });
    const QFuture<int> held = slow();
    QTRY_COMPARE(names(),
        QStringList({ QStringLiteral("named:%1:commands").arg(pid),
            QStringLiteral("named:%1:commands:subscriber").arg(pid),
            QStringLiteral("named:%1:lease").arg(pid) }));
    DistributedPromiseWrapper waiter(config);
    auto same = waiter.wrap(QStringLiteral("job"), [] { return 2; });
    const QFuture<int> waited = same();
    QTRY_VERIFY(names().contains(QStringLiteral("named:%1:commands:subscriber").arg(pid)));
    QTRY_VERIFY(held.isFinished() && waited.isFinished());
    QCOMPARE(waited.result(), 1);
}

QTEST_GUILESS_MAIN(tst_Protocol)
#include "tst_protocol.moc"
