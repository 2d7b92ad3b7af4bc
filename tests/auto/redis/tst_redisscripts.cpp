// SPDX-License-Identifier: MIT
#include "redisserver.h"
#include "redisserverclient_p.h"
#include "redistest.h"

#include <QtCore/QCryptographicHash>
#include <QtTest/QTest>

using DistributedPromiseRedis::Reply;
using DistributedPromiseRedis::Script;
using DistributedPromiseRedis::ServerClient;
using DistributedPromiseTest::RedisServer;
using RedisTest::describe;

namespace {

// Runs \a script and waits (bounded) for its reply.
Reply evalAndWait(ServerClient &client, const Script &script, const QList<QByteArray> &keys,
    const QList<QByteArray> &args)
{
    bool done = false;
    Reply result;
    client.eval(script, keys, args, [&](const Reply &reply) {
        result = reply;
        done = true;
    });
    if (!QTest::qWaitFor([&] { return done; }, 5000))
        return Reply::failure(DistributedPromiseError::Timeout, QStringLiteral("no reply"));
    return result;
}

// How often the server has run \a command ("eval", "evalsha"), from INFO commandstats.
qint64 calls(RedisServer &server, const QByteArray &command)
{
    const QByteArray info = server.cli({ QStringLiteral("INFO"), QStringLiteral("commandstats") });
    for (const QByteArray &line : info.split('\n')) {
        const QByteArray prefix = "cmdstat_" + command + ":calls=";
        if (line.startsWith(prefix)) {
            const QByteArray rest = line.mid(prefix.size());
            return rest.left(rest.indexOf(',')).toLongLong();
        }
    }
    return 0;
}

} // namespace

class tst_RedisScripts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void sha1();
    void keysAndArgs();
    void reloadsAfterScriptFlush();
    void scriptErrorIsAnErrorReply();
    void scriptReturnsNil();

private:
    std::unique_ptr<RedisServer> m_server;
    std::unique_ptr<ServerClient> m_client;
};

void tst_RedisScripts::initTestCase()
{
    m_server = std::make_unique<RedisServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_client = std::make_unique<ServerClient>(RedisTest::endpointOf(m_server->url()));
    m_client->open();
    QTRY_VERIFY_WITH_TIMEOUT(m_client->isConnected(), 5000);
}

void tst_RedisScripts::cleanupTestCase()
{
    m_client.reset();
    m_server.reset();
}

void tst_RedisScripts::sha1()
{
    const Script script("return 1");
    QCOMPARE(script.source, QByteArrayLiteral("return 1"));
    QCOMPARE(script.sha1, QByteArrayLiteral("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
    // The same name Redis gives it.
    const Reply loaded = RedisTest::call(m_client->commands(), { "SCRIPT", "LOAD", "return 1" });
    QCOMPARE(loaded.string, script.sha1);
}

void tst_RedisScripts::keysAndArgs()
{
    const Script script("redis.call('SET', KEYS[1], ARGV[1])\n"
                        "local n = redis.call('INCRBY', KEYS[2], ARGV[2])\n"
                        "return {KEYS[1], KEYS[2], ARGV[1], n, #KEYS, #ARGV}");
    const QByteArray binary("v\0\xff", 3);
    Reply reply = evalAndWait(*m_client, script, { "dptest:s:k1", "dptest:s:k2" }, { binary, "5" });
    QVERIFY2(reply.isArray(), describe(reply).constData());
    QCOMPARE(reply.elements.size(), 6);
    QCOMPARE(reply.elements.at(0).string, QByteArrayLiteral("dptest:s:k1"));
    QCOMPARE(reply.elements.at(1).string, QByteArrayLiteral("dptest:s:k2"));
    QCOMPARE(reply.elements.at(2).string, binary);
    QCOMPARE(reply.elements.at(3).integer, 5);
    QCOMPARE(reply.elements.at(4).integer, 2);
    QCOMPARE(reply.elements.at(5).integer, 2);
    QCOMPARE(RedisTest::call(m_client->commands(), { "GET", "dptest:s:k1" }).string, binary);

    // Again: now by SHA only.
    const qint64 evalBefore = calls(*m_server, "eval");
    const qint64 evalshaBefore = calls(*m_server, "evalsha");
    reply = evalAndWait(*m_client, script, { "dptest:s:k1", "dptest:s:k2" }, { binary, "5" });
    QCOMPARE(reply.elements.value(3).integer, 10);
    QCOMPARE(calls(*m_server, "eval"), evalBefore);
    QCOMPARE(calls(*m_server, "evalsha"), evalshaBefore + 1);

    // No keys, no args.
    reply = evalAndWait(*m_client, Script("return 'plain'"), {}, {});
    QCOMPARE(describe(reply), QByteArrayLiteral("string plain"));
}

void tst_RedisScripts::reloadsAfterScriptFlush()
{
    const Script script("return redis.call('INCR', KEYS[1])");
    QCOMPARE(describe(evalAndWait(*m_client, script, { "dptest:s:flush" }, {})),
        QByteArrayLiteral("integer 1"));

    QCOMPARE(describe(RedisTest::call(m_client->commands(), { "SCRIPT", "FLUSH" })),
        QByteArrayLiteral("status OK"));
    QCOMPARE(m_server->cli({ QStringLiteral("SCRIPT"), QStringLiteral("EXISTS"),
                 QString::fromLatin1(script.sha1) }),
        QByteArrayLiteral("0"));

    const qint64 evalBefore = calls(*m_server, "eval");
    const qint64 evalshaBefore = calls(*m_server, "evalsha");
    // NOSCRIPT is handled inside: the caller sees the script's result.
    QCOMPARE(describe(evalAndWait(*m_client, script, { "dptest:s:flush" }, {})),
        QByteArrayLiteral("integer 2"));
    QCOMPARE(calls(*m_server, "evalsha"), evalshaBefore + 1); // answered NOSCRIPT
    QCOMPARE(calls(*m_server, "eval"), evalBefore + 1); // the reload
    QCOMPARE(m_server->cli({ QStringLiteral("SCRIPT"), QStringLiteral("EXISTS"),
                 QString::fromLatin1(script.sha1) }),
        QByteArrayLiteral("1"));

    // Several calls in flight while the script is missing all reload and all succeed.
    QCOMPARE(describe(RedisTest::call(m_client->commands(), { "SCRIPT", "FLUSH" })),
        QByteArrayLiteral("status OK"));
    QList<qint64> results;
    for (int i = 0; i < 10; ++i)
        m_client->eval(script, { "dptest:s:flush" }, {},
            [&](const Reply &reply) { results.append(reply.integer); });
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 10, 5000);
    std::sort(results.begin(), results.end());
    for (int i = 0; i < 10; ++i)
        QCOMPARE(results.at(i), qint64(3 + i));
}

void tst_RedisScripts::scriptErrorIsAnErrorReply()
{
    // An explicit error reply.
    Reply reply
        = evalAndWait(*m_client, Script("return redis.error_reply('MYERR went wrong')"), {}, {});
    QVERIFY2(reply.isError(), describe(reply).constData());
    QVERIFY(!reply.isFailure());
    QVERIFY2(reply.string.contains("went wrong"), reply.string.constData());

    // A runtime error in the script.
    QCOMPARE(describe(RedisTest::call(m_client->commands(), { "SET", "dptest:s:text", "abc" })),
        QByteArrayLiteral("status OK"));
    reply = evalAndWait(
        *m_client, Script("return redis.call('INCR', KEYS[1])"), { "dptest:s:text" }, {});
    QVERIFY2(reply.isError(), describe(reply).constData());
    QCOMPARE(reply.toError().code(), DistributedPromiseError::RedisError);

    // A script that does not compile: EVALSHA says NOSCRIPT, EVAL then reports the syntax
    // error (and is not retried forever).
    reply = evalAndWait(*m_client, Script("this is not lua"), {}, {});
    QVERIFY2(reply.isError(), describe(reply).constData());
    QVERIFY2(!reply.string.startsWith("NOSCRIPT"), reply.string.constData());
    QVERIFY(m_client->isConnected());
}

void tst_RedisScripts::scriptReturnsNil()
{
    const Reply reply = evalAndWait(*m_client, Script("return nil"), {}, {});
    QVERIFY2(reply.isNil(), describe(reply).constData());
}

QTEST_GUILESS_MAIN(tst_RedisScripts)
#include "tst_redisscripts.moc"
