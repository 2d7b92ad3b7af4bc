// SPDX-License-Identifier: MIT
// Bad input from every side: unreadable cache entries and messages, passwords that must never
// be shown, arguments that try to break out of their key, values too large to keep, and calls
// that outlive their wrapper.

#include "faultstest.h"

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QJsonArray>
#include <QtCore/QLoggingCategory>
#include <QtTest/QSignalSpy>
#include <QtTest/QtTest>

using namespace CoreTest;
using namespace FaultsTest;
using DistributedPromiseTest::RedisServer;
using namespace std::chrono_literals;

namespace {

QByteArray compactJson(const QJsonArray &args)
{
    return QJsonDocument(args).toJson(QJsonDocument::Compact);
}

/*! The part of \a key Redis Cluster hashes: between the first '{' and the next '}', if any. */
QByteArray hashTag(const QByteArray &key)
{
    const qsizetype open = key.indexOf('{');
    if (open < 0)
        return key;
    const qsizetype close = key.indexOf('}', open + 1);
    if (close < 0 || close == open + 1)
        return key;
    return key.mid(open + 1, close - open - 1);
}

/*! A future the test finishes by hand, for work that should stay running until then. */
struct ManualWork
{
    std::shared_ptr<QPromise<QString>> promise;
    QFuture<QString> start()
    {
        promise = std::make_shared<QPromise<QString>>();
        promise->start();
        return promise->future();
    }
    void finish(const QString &value)
    {
        promise->addResult(value);
        promise->finish();
    }
};

} // namespace

class tst_BadInput : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void corruptEntryIsRecomputed_data();
    void corruptEntryIsRecomputed();
    void corruptMessageIsIgnored();
    void passwordNeverShown();
    void argumentsCannotChangeTheKeys();
    void valueOverTheLimit();
    void nonFiniteNumbersAreRefused();
    void valuesTooDeepAreRefused();
    void bracesInTheWrapKeyAreRefused();
    void wrapperDestroyedWithCallsInFlight();

private:
    QString key() const
    {
        QString name = QStringLiteral("bad-") + QString::fromLatin1(QTest::currentTestFunction());
        if (QTest::currentDataTag())
            name += QLatin1Char('-') + QString::fromLatin1(QTest::currentDataTag());
        return name;
    }
    int subscribers(const QString &channel) const
    {
        const QByteArrayList reply
            = m_server.cli({ QStringLiteral("PUBSUB"), QStringLiteral("NUMSUB"), channel })
                  .split('\n');
        return reply.size() == 2 ? reply.at(1).trimmed().toInt() : -1;
    }

    RedisServer m_server;
};

void tst_BadInput::corruptEntryIsRecomputed_data()
{
    QTest::addColumn<QString>("stored");
    QTest::addColumn<bool>("whileWaiting");
    const std::pair<const char *, QString> entries[] = {
        { "garbage", QStringLiteral("\x01garbage{\"v\":1") },
        { "v2", QStringLiteral(R"({"v":2,"ok":true,"value":"from the future"})") },
        { "no value", QStringLiteral(R"({"v":1,"ok":true})") },
    };
    for (const auto &[name, stored] : entries) {
        // Found by the first GET, or by the lock script of a waiter once the lease ran out.
        QTest::addRow("%s, checking", name) << stored << false;
        QTest::addRow("%s, waiting", name) << stored << true;
    }
}

void tst_BadInput::corruptEntryIsRecomputed()
{
    QFETCH(QString, stored);
    QFETCH(bool, whileWaiting);
    const QString data = dataKey(key(), "[]");
    const QString lock = lockKey(key(), "[]");
    LogCapture log;
    DistributedPromiseConfig config = configFor(m_server);
    // A waiter looks at a lock without expiry again every lockTimeout.
    config.lockTimeout = 300ms;
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto work = wrapper.wrap(key(), [&runs] { return QStringLiteral("fresh-%1").arg(++runs); });

    QFuture<QString> f;
    if (!whileWaiting) {
        QCOMPARE(m_server.cli({ QStringLiteral("SET"), data, stored }), QByteArray("OK"));
        f = work();
    } else {
        // A holder's lock (it will die); the entry shows up while we wait, then the lock goes.
        QCOMPARE(m_server.cli({ QStringLiteral("SET"), lock, QStringLiteral("dying-holder") }),
            QByteArray("OK"));
        f = work();
        QTRY_COMPARE(
            subscribers(QStringLiteral("distributed-promise:notif:{%1:[]}").arg(key())), 1);
        QCOMPARE(m_server.cli({ QStringLiteral("SET"), data, stored }), QByteArray("OK"));
        QVERIFY(!f.isFinished());
        QCOMPARE(m_server.cli({ QStringLiteral("DEL"), lock }), QByteArray("1"));
    }
    QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 5000);
    QCOMPARE(codeOf(f), QStringLiteral("ok"));
    QCOMPARE(f.result(), QStringLiteral("fresh-1"));
    QCOMPARE(runs, 1);
    // Warned once, naming the call; deleted and replaced by the fresh value.
    QVERIFY2(log.count(QStringLiteral("unreadable cache entry for ") + key()) == 1,
        qPrintable(log.dump()));
    QCOMPARE(m_server.cli({ QStringLiteral("GET"), data }),
        QByteArray(R"({"v":1,"ok":true,"value":"fresh-1"})"));
    const QFuture<QString> again = work();
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(again.result(), QStringLiteral("fresh-1"));
    QCOMPARE(runs, 1);
    QCOMPARE(wrapper.stats().hits, quint64(1));
}

void tst_BadInput::corruptMessageIsIgnored()
{
    LogCapture log;
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    ManualWork manual;
    auto held = holder.wrap(key(), [&manual] { return manual.start(); });
    int waiterRuns = 0;
    auto same = waiter.wrap(key(), [&waiterRuns] {
        ++waiterRuns;
        return QStringLiteral("waiter ran it");
    });
    const QFuture<QString> h = held();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<QString> w1 = same();
    const QFuture<QString> w2 = same();
    const QString channel = QStringLiteral("distributed-promise:notif:{%1:[]}").arg(key());
    QTRY_COMPARE(subscribers(channel), 1);

    const QStringList junk {
        QStringLiteral("not json at all"),
        QStringLiteral(R"({"v":2,"ok":true,"value":"newer format"})"),
        QStringLiteral(R"({"v":1,"ok":true})"),
        QStringLiteral(R"({"v":1,"ok":false,"error":{"code":"WorkFailed"}})"),
        QStringLiteral("[1,2,3]"),
    };
    for (const QString &message : junk)
        QCOMPARE(m_server.cli({ QStringLiteral("PUBLISH"), channel, message }), QByteArray("1"));
    QTRY_COMPARE(log.count(QStringLiteral("ignored a message")), int(junk.size()));
    QVERIFY(!w1.isFinished() && !w2.isFinished());

    // The real result still arrives.
    manual.finish(QStringLiteral("real"));
    QTRY_VERIFY(h.isFinished() && w1.isFinished() && w2.isFinished());
    for (const QFuture<QString> &f : { h, w1, w2 }) {
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), QStringLiteral("real"));
    }
    QCOMPARE(waiterRuns, 0);
    QCOMPARE(waiter.stats().errors, quint64(0));
}

void tst_BadInput::passwordNeverShown()
{
    const QString password = QStringLiteral("Pw-7q:s3cr@t/x");
    RedisServer server(RedisServer::Transport::Tcp, { QStringLiteral("--requirepass"), password });
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    // Everything the library says, debug included.
    QLoggingCategory::setFilterRules(QStringLiteral("distributedpromise.debug=true"));
    auto restoreRules = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
    LogCapture log;
    QStringList secrets { password };
    QStringList shown; // every error text the user gets to see

    const auto urlWith = [&](const QString &user, const QString &pass) {
        QUrl url = server.url();
        url.setUserName(user);
        url.setPassword(pass);
        secrets.append(url.password(QUrl::FullyEncoded));
        return url;
    };

    // The right password, without and with a user name: calls go through Redis.
    for (const QString &user : { QString(), QStringLiteral("default") }) {
        DistributedPromiseConfig config;
        config.redisUrl = urlWith(user, password);
        config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
        DistributedPromiseWrapper wrapper(config);
        QVERIFY(wrapper.configurationError().isEmpty());
        auto work = wrapper.wrap(key(), [] { return 42; });
        const QFuture<int> f = work();
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 5000);
        QCOMPARE(codeOf(f), QStringLiteral("ok"));
        QCOMPARE(f.result(), 42);
        QVERIFY(wrapper.isConnected());
        QCOMPARE(wrapper.stats().won + wrapper.stats().hits, quint64(1));
    }
    QCOMPARE(server.cli({ QStringLiteral("-a"), password, QStringLiteral("--no-auth-warning"),
                 QStringLiteral("GET"), dataKey(key(), "[]") }),
        QByteArray(R"({"v":1,"ok":true,"value":42})"));

    // A wrong password: the connection is refused, and the message says why without it.
    const QString wrong = QStringLiteral("Wr0ng-pa55:phrase");
    secrets.append(wrong);
    {
        DistributedPromiseConfig config;
        config.redisUrl = urlWith(QString(), wrong);
        config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
        const int attemptsBefore = log.count(QStringLiteral("could not connect to Redis"));
        DistributedPromiseWrapper wrapper(config);
        auto work = wrapper.wrap(key(), [] { return 1; });
        QSignalSpy connected(&wrapper, &DistributedPromiseWrapper::connectedChanged);
        // Once the first attempt was refused (connectedChanged says nothing: never connected).
        QTRY_VERIFY_WITH_TIMEOUT(
            log.count(QStringLiteral("could not connect to Redis")) > attemptsBefore, 5000);
        QVERIFY(connected.isEmpty());
        const QFuture<int> f = work();
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 5000);
        QCOMPARE(codeOf(f), QStringLiteral("ConnectionFailed"));
        QVERIFY2(messageOf(f).contains(QLatin1String("authentication failed")),
            qPrintable(messageOf(f)));
        shown << messageOf(f);
        const std::optional<DistributedPromiseError> error = errorOf(f);
        QVERIFY(error);
        shown << QString::fromUtf8(error->what()) << error->key();
        QVERIFY(!wrapper.isConnected());
    }

    // URLs the library cannot use, with a password in them.
    const QString unusable = QStringLiteral("Unus4ble-pw");
    secrets.append(unusable);
    const QUrl badUrls[] = {
        QUrl(QStringLiteral("redis://:%1@127.0.0.1:6379/not-a-db").arg(unusable)),
        QUrl(QStringLiteral("redis://user:%1@127.0.0.1:99999").arg(unusable)),
        // Unusable with TLS support (a certificate without its key) and without it.
        QUrl(QStringLiteral("rediss://:%1@127.0.0.1:6379?cert=/c.pem").arg(unusable)),
        QUrl(QStringLiteral("redis://127.0.0.1:6379/?db=x&password=%1").arg(unusable)),
        QUrl(QStringLiteral("redis://:%1@[::1").arg(unusable)),
        // Credentials where only host:port belongs (a further cluster node or sentinel).
        QUrl(QStringLiteral("redis+cluster://127.0.0.1:7000?node=user:%1@127.0.0.1:7001")
                 .arg(unusable)),
        QUrl(QStringLiteral("redis+sentinel://127.0.0.1:26379/m?sentinel=:%1@127.0.0.1:1")
                 .arg(unusable)),
    };
    for (const QUrl &url : badUrls) {
        DistributedPromiseConfig config;
        config.redisUrl = url;
        DistributedPromiseWrapper wrapper(config);
        QVERIFY2(!wrapper.configurationError().isEmpty(), qPrintable(url.toString()));
        shown << wrapper.configurationError();
        auto work = wrapper.wrap(key(), [] { return 1; });
        const QFuture<int> f = work();
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
        shown << messageOf(f);
    }

    const QList<LogCapture::Line> lines = log.lines();
    QVERIFY(!lines.isEmpty());
    for (const QString &secret : std::as_const(secrets)) {
        QVERIFY(!secret.isEmpty());
        for (const LogCapture::Line &line : lines)
            QVERIFY2(!line.message.contains(secret), qPrintable(line.message));
        for (const QString &text : std::as_const(shown))
            QVERIFY2(!text.contains(secret), qPrintable(text));
    }
}

void tst_BadInput::argumentsCannotChangeTheKeys()
{
    // Whatever the arguments hold, a call touches exactly three names, all with the identity
    // inside one hash tag: P:{I} (the value), P:lock:{I} (while it works) and P:notif:{I} (the
    // channel its waiters listen on, and while they wait, the key where an outcome that is not
    // cached would be recorded for them). A fresh server, so KEYS * shows everything.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const DistributedPromiseConfig config = configFor(server);
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(config);
    ManualWork manual;
    auto held = holder.wrap(
        QStringLiteral("echo"), [&manual](const QString &) { return manual.start(); });
    auto same = waiter.wrap(
        QStringLiteral("echo"), [](const QString &) { return QStringLiteral("waiter ran it"); });

    const QString nasty[] = {
        QStringLiteral("a:b"),
        QStringLiteral("lock:x"),
        QStringLiteral("{x}"),
        QStringLiteral("}{"),
        QStringLiteral("}"),
        QStringLiteral("distributed-promise:notif:{echo:[]}"),
        QStringLiteral("line one\nline two\r\n"),
        QString::fromUtf8("nul\0byte", 8),
        QStringLiteral(R"(quote" and \ backslash)"),
    };
    QByteArrayList dataKeys;
    for (const QString &arg : nasty) {
        const QByteArray identity = "echo:" + compactJson(QJsonArray { arg });
        const QByteArray data = "distributed-promise:{" + identity + '}';
        const QByteArray lock = "distributed-promise:lock:{" + identity + '}';
        const QByteArray channel = "distributed-promise:notif:{" + identity + '}';
        QVERIFY(!identity.contains('\n') && !identity.contains('\0'));
        QCOMPARE(hashTag(lock), hashTag(data));
        QCOMPARE(hashTag(channel), hashTag(data));

        const QFuture<QString> h = held(arg);
        const QFuture<QString> w = same(arg);
        QByteArrayList whileWorking = dataKeys;
        whileWorking << lock << channel;
        std::sort(whileWorking.begin(), whileWorking.end());
        QTRY_COMPARE(
            sortedLines(server.cli({ QStringLiteral("KEYS"), QStringLiteral("*") })), whileWorking);
        // The call's channel (the wrap key's generation channel aside).
        QTRY_COMPARE(server.cli({ QStringLiteral("PUBSUB"), QStringLiteral("CHANNELS"),
                         QStringLiteral("distributed-promise:notif:{*") }),
            channel);
        manual.finish(QStringLiteral("echo of ") + arg);
        QTRY_VERIFY(h.isFinished() && w.isFinished());
        QCOMPARE(h.result(), QStringLiteral("echo of ") + arg);
        QCOMPARE(w.result(), QStringLiteral("echo of ") + arg);
        dataKeys.append(data);
        QCOMPARE(sortedLines(server.cli({ QStringLiteral("KEYS"), QStringLiteral("*") })),
            sortedLines(dataKeys.join('\n')));
        QCOMPARE(server.cli({ QStringLiteral("GET"), QString::fromUtf8(data) }),
            "{\"v\":1,\"ok\":true,\"value\":"
                + compactJson(QJsonArray { QString(QStringLiteral("echo of ") + arg) })
                      .mid(1)
                      .chopped(1)
                + '}');
    }
    QCOMPARE(holder.stats().won, quint64(std::size(nasty)));
    QCOMPARE(waiter.stats().waited, quint64(std::size(nasty)));
    QCOMPARE(waiter.stats().won, quint64(0));
}

void tst_BadInput::valueOverTheLimit()
{
    DistributedPromiseConfig config = configFor(m_server);
    config.maxValueBytes = 1000;
    DistributedPromiseWrapper holder(config);
    DistributedPromiseWrapper waiter(configFor(m_server));
    int runs = 0;
    auto big = holder.wrap(key(), [&runs] {
        ++runs;
        return valueLater(200ms, QString(2000, QLatin1Char('v')));
    });
    auto same = waiter.wrap(key(), [] { return QStringLiteral("small"); });
    const QFuture<QString> h = big();
    QTRY_VERIFY(keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<QString> w = same();
    QTRY_VERIFY(h.isFinished() && w.isFinished());
    // Both the holder's caller and the waiter elsewhere are told, with the key named.
    for (const QFuture<QString> &f : { h, w }) {
        QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
        QVERIFY2(messageOf(f).contains(key()), qPrintable(messageOf(f)));
        QVERIFY2(messageOf(f).contains(QLatin1String("maxValueBytes")), qPrintable(messageOf(f)));
        const std::optional<DistributedPromiseError> error = errorOf(f);
        QVERIFY(error);
        QVERIFY2(error->key().contains(key()), qPrintable(error->key()));
    }
    // Nothing cached, the lock released: the next call runs the work again.
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));
    QVERIFY(!keyExists(m_server, lockKey(key(), "[]")));
    const QFuture<QString> again = big();
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(codeOf(again), QStringLiteral("InvalidArgument"));
    QCOMPARE(runs, 2);
    QVERIFY(!keyExists(m_server, dataKey(key(), "[]")));

    // Arguments over the limit never reach Redis.
    auto echo = holder.wrap(key() + QStringLiteral("-args"), [](const QString &s) { return s; });
    const qint64 commandsBefore = commandCount(m_server);
    const QFuture<QString> tooLong = echo(QString(2000, QLatin1Char('a')));
    QTRY_VERIFY(tooLong.isFinished());
    QCOMPARE(codeOf(tooLong), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(tooLong).contains(key() + QStringLiteral("-args")),
        qPrintable(messageOf(tooLong)));
    QVERIFY(m_server.cli({ QStringLiteral("KEYS"), QStringLiteral("*-args*") }).isEmpty());
    QCOMPARE(commandCount(m_server), commandsBefore + 1); // the KEYS above
}

void tst_BadInput::wrapperDestroyedWithCallsInFlight()
{
    // Calls in every stage when the wrapper goes away: waiting on another process, working
    // here, not sent yet, queued from another thread, through a DistributedPromise object.
    const QString prefix = key();
    Workers workers(m_server.url(), prefix);
    const int other = workers.start({ QStringLiteral("--calls"), QStringLiteral("2"),
        QStringLiteral("--work-ms"), QStringLiteral("1000"), QStringLiteral("--no-go") });
    QTRY_VERIFY_WITH_TIMEOUT(workers.printed(other, "WORKING"), 10000);

    DistributedPromiseConfig config = configFor(m_server);
    config.keyPrefix = prefix;
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(config);
    int runs = 0;
    auto slow = wrapper->wrap(QStringLiteral("slow"), [&runs](const QString &) {
        ++runs;
        return QStringLiteral("not from here");
    });
    ManualWork manual;
    auto working = wrapper->wrap(QStringLiteral("working"), [&manual] { return manual.start(); });
    auto fresh = wrapper->wrap(QStringLiteral("fresh"), [] { return 1; });

    QList<QFuture<QString>> waiting { slow(QStringLiteral("x")), slow(QStringLiteral("x")) };
    std::unique_ptr<DistributedPromise> promise(
        wrapper->call(QStringLiteral("slow"), { QStringLiteral("x") }));
    QSignalSpy failed(promise.get(), &DistributedPromise::failed);
    QSignalSpy finished(promise.get(), &DistributedPromise::finished);
    QTRY_COMPARE(subscribers(prefix + QStringLiteral(":notif:{slow:[\"x\"]}")), 1);
    const QFuture<QString> worked = working();
    QTRY_VERIFY(manual.promise);
    const QFuture<int> notSent = fresh();
    QList<QFuture<int>> queued;
    std::unique_ptr<QThread> thread(QThread::create([&] {
        for (int i = 0; i < 10; ++i)
            queued.append(fresh());
    }));
    thread->start();
    QVERIFY(thread->wait(5000));

    wrapper.reset();
    // Finished from the event loop, never from inside the destructor.
    QList<QFuture<void>> all;
    for (const QFuture<QString> &f : std::as_const(waiting))
        all.append(QFuture<void>(f));
    all << QFuture<void>(worked) << QFuture<void>(notSent);
    for (const QFuture<int> &f : std::as_const(queued))
        all.append(QFuture<void>(f));
    for (const QFuture<void> &f : std::as_const(all)) {
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("Cancelled"));
    }
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(failed.count(), 1);
    QCOMPARE(failed.at(0).at(0).toInt(), int(DistributedPromiseError::Cancelled));
    QCOMPARE(promise->state(), DistributedPromise::Failed);

    // Calls after the wrapper is gone fail too, naming the key, from any thread.
    const QFuture<QString> after = slow(QStringLiteral("x"));
    QVERIFY(after.isFinished());
    QCOMPARE(codeOf(after), QStringLiteral("Cancelled"));
    QVERIFY2(messageOf(after).contains(QLatin1String("slow")), qPrintable(messageOf(after)));
    const QFuture<QFuture<int>> fromThread = QtConcurrent::run([fresh] { return fresh(); });
    QTRY_VERIFY(fromThread.isFinished());
    QCOMPARE(codeOf(fromThread.result()), QStringLiteral("Cancelled"));
    manual.finish(QStringLiteral("too late")); // nobody listens any more
    QCOMPARE(runs, 0);

    // The other process was not disturbed.
    QTRY_VERIFY_WITH_TIMEOUT(workers.hasResult(other), 10000);
    QCOMPARE(valuesOf(workers.result(other)), QStringList(2, QStringLiteral("value-of-x")));
}

void tst_BadInput::nonFiniteNumbersAreRefused()
{
    // JSON has no NaN or infinity: written, they all become null, so NaN, +Inf and -Inf would
    // share one identity and a result of +Inf would read back as DecodeFailed elsewhere.
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto identityOf = wrapper.wrap(key(), [&runs](double x) {
        ++runs;
        return x;
    });
    for (const double bad : { qQNaN(), qInf(), -qInf() }) {
        const QFuture<double> f = identityOf(bad);
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
        QVERIFY2(messageOf(f).contains(QLatin1String("not finite")), qPrintable(messageOf(f)));
    }
    QCOMPARE(runs, 0);

    auto infinite = wrapper.wrap(key() + QStringLiteral("-result"), [&runs](int sign) {
        ++runs;
        return sign * qInf();
    });
    const QFuture<double> first = infinite(1);
    QTRY_VERIFY(first.isFinished());
    QCOMPARE(codeOf(first), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(first).contains(QLatin1String("not finite")), qPrintable(messageOf(first)));
    QCOMPARE(runs, 1);
    // Not cached: the error is not a value.
    QVERIFY(!keyExists(m_server, dataKey(key() + QStringLiteral("-result"), "[1]")));
}

void tst_BadInput::valuesTooDeepAreRefused()
{
    // Qt's JSON reader refuses documents nested deeper than 1024 levels: such a value would be
    // written, read back as unreadable, deleted, and the work run again. Refused up front.
    const auto nested = [](int depth) {
        QJsonValue value(1);
        for (int i = 0; i < depth; ++i)
            value = QJsonArray { value };
        return value.toArray();
    };
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper wrapper(config);
    int runs = 0;
    auto deep = wrapper.wrap(key(), [&runs, nested](int depth) {
        ++runs;
        return nested(depth);
    });
    const QFuture<QJsonArray> tooDeep = deep(1200);
    QTRY_VERIFY(tooDeep.isFinished());
    QCOMPARE(codeOf(tooDeep), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(tooDeep).contains(QLatin1String("nested")), qPrintable(messageOf(tooDeep)));
    const QFuture<QJsonArray> again = deep(1200);
    QTRY_VERIFY(again.isFinished());
    QCOMPARE(codeOf(again), QStringLiteral("InvalidArgument"));
    // Errors are not cached, so it ran again: once per call, never twice for one call.
    QCOMPARE(runs, 2);

    // Deep enough is fine, and reads back from the cache as it was.
    const QFuture<QJsonArray> fine = deep(900);
    QTRY_VERIFY(fine.isFinished());
    QCOMPARE(codeOf(fine), QStringLiteral("ok"));
    DistributedPromiseWrapper other(config);
    auto cached = other.wrap(key(), [](int) { return QJsonArray(); });
    const QFuture<QJsonArray> hit = cached(900);
    QTRY_VERIFY(hit.isFinished());
    QCOMPARE(hit.result(), nested(900));
    QCOMPARE(runs, 3);

    auto echo = wrapper.wrap(key() + QStringLiteral("-args"), [&runs](const QJsonArray &a) {
        ++runs;
        return a.size();
    });
    const QFuture<qsizetype> deepArgs = echo(nested(1200));
    QTRY_VERIFY(deepArgs.isFinished());
    QCOMPARE(codeOf(deepArgs), QStringLiteral("InvalidArgument"));
    QCOMPARE(runs, 3);
}

void tst_BadInput::bracesInTheWrapKeyAreRefused()
{
    // On a Redis Cluster the hash tag is what lies between the first '{' and the next '}': a key
    // starting with '}' makes an empty tag (the three keys of a call land in different slots),
    // and "x}" pins every call of the key to one slot. Refused, on every topology alike.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    for (const QString &bad :
        { QStringLiteral("}report"), QStringLiteral("report}"), QStringLiteral("{report}") }) {
        auto work = wrapper.wrap(bad, [&runs] { return ++runs; });
        const QFuture<int> f = work();
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(codeOf(f), QStringLiteral("InvalidArgument"));
        QVERIFY2(messageOf(f).contains(QLatin1String("brace")), qPrintable(messageOf(f)));
    }
    QCOMPARE(runs, 0);
}

QTEST_GUILESS_MAIN(tst_BadInput)
#include "tst_badinput.moc"
