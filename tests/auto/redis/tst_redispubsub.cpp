// SPDX-License-Identifier: MIT
#include "redisserver.h"
#include "redisserverclient_p.h"
#include "redistest.h"

#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using namespace std::chrono_literals;
using DistributedPromiseRedis::ConnectionOptions;
using DistributedPromiseRedis::Reply;
using DistributedPromiseRedis::ServerClient;
using DistributedPromiseTest::RedisServer;
using RedisTest::describe;

namespace {

ConnectionOptions fastOptions()
{
    ConnectionOptions options;
    options.reconnectMin = 20ms;
    options.reconnectMax = 200ms;
    return options;
}

// PUBSUB NUMSUB <channel> through the client's command connection: how many connections
// the server has subscribed to it, or -1 when that could not be found out.
qint64 subscribers(ServerClient &client, const QByteArray &channel)
{
    const Reply reply = RedisTest::call(client.commands(), { "PUBSUB", "NUMSUB", channel });
    if (!reply.isArray() || reply.elements.size() != 2)
        return -1;
    return reply.elements.at(1).integer;
}

// PUBLISH; returns how many subscribers got it, or -1.
qint64 publish(ServerClient &client, const QByteArray &channel, const QByteArray &payload)
{
    const Reply reply = RedisTest::call(client.commands(), { "PUBLISH", channel, payload });
    return reply.isInteger() ? reply.integer : -1;
}

} // namespace

class tst_RedisPubSub : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void subscribeAndReceive();
    void binaryPayload_data();
    void binaryPayload();
    void onlyWantedChannels();
    void listenerRefcount();
    void subscribeUnsubscribeSubscribe();
    void unsubscribeSubscribeWhileConfirmed();
    void subscribeUnsubscribe();
    void resubscribesAfterRestart();
    void withPassword();

private:
    std::unique_ptr<RedisServer> m_server;
    std::unique_ptr<ServerClient> m_client;
};

void tst_RedisPubSub::init()
{
    m_server = std::make_unique<RedisServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_client
        = std::make_unique<ServerClient>(RedisTest::endpointOf(m_server->url()), fastOptions());
    m_client->open();
    QTRY_VERIFY_WITH_TIMEOUT(m_client->isConnected(), 5000);
    // The subscriber connection opens with the first channel, not before.
    QCOMPARE(m_client->subscriber().connection().state(),
        DistributedPromiseRedis::Connection::State::Disconnected);
}

void tst_RedisPubSub::cleanup()
{
    m_client.reset();
    m_server.reset();
}

void tst_RedisPubSub::subscribeAndReceive()
{
    ServerClient &client = *m_client;
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);

    QVERIFY(!client.subscribe("dptest:news")); // not confirmed yet
    QCOMPARE(client.listenerCount("dptest:news"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QCOMPARE(subscribed.constFirst().constFirst().toByteArray(), QByteArrayLiteral("dptest:news"));
    QVERIFY(client.isSubscribed("dptest:news"));
    QCOMPARE(subscribers(client, "dptest:news"), 1);

    QCOMPARE(publish(client, "dptest:news", "hello"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
    QCOMPARE(messages.constFirst().at(0).toByteArray(), QByteArrayLiteral("dptest:news"));
    QCOMPARE(messages.constFirst().at(1).toByteArray(), QByteArrayLiteral("hello"));

    // A second listener on a confirmed channel is confirmed at once, without a new SUBSCRIBE.
    QVERIFY(client.subscribe("dptest:news"));
    QCOMPARE(subscribed.size(), 1);
}

void tst_RedisPubSub::binaryPayload_data()
{
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<QByteArray>("payload");
    QTest::newRow("nul and high bytes")
        << QByteArrayLiteral("dptest:bin") << QByteArray("\0\xff\xfe\r\n\0tail", 10);
    QTest::newRow("binary channel")
        << QByteArray("dptest:\0\xc3\x28", 10) << QByteArray("\x80\x81", 2);
    QTest::newRow("empty payload") << QByteArrayLiteral("dptest:empty") << QByteArray();
    QTest::newRow("large payload")
        << QByteArrayLiteral("dptest:large") << QByteArray(200 * 1024, '\0');
}

void tst_RedisPubSub::binaryPayload()
{
    QFETCH(QByteArray, channel);
    QFETCH(QByteArray, payload);
    ServerClient &client = *m_client;
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);

    client.subscribe(channel);
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QCOMPARE(subscribed.constFirst().constFirst().toByteArray(), channel);
    QCOMPARE(publish(client, channel, payload), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
    QCOMPARE(messages.constFirst().at(0).toByteArray(), channel);
    const QByteArray received = messages.constFirst().at(1).toByteArray();
    QCOMPARE(received.size(), payload.size());
    QVERIFY(received == payload);
}

void tst_RedisPubSub::onlyWantedChannels()
{
    ServerClient &client = *m_client;
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);
    client.subscribe("dptest:a");
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);

    QCOMPARE(publish(client, "dptest:b", "not for us"), 0);
    QCOMPARE(publish(client, "dptest:a", "1"), 1);
    QCOMPARE(publish(client, "dptest:a", "2"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 2, 5000);
    QCOMPARE(messages.at(0).at(1).toByteArray(), QByteArrayLiteral("1"));
    QCOMPARE(messages.at(1).at(1).toByteArray(), QByteArrayLiteral("2"));
}

void tst_RedisPubSub::listenerRefcount()
{
    ServerClient &client = *m_client;
    const QByteArray channel = QByteArrayLiteral("dptest:shared");
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);

    client.subscribe(channel);
    client.subscribe(channel);
    QCOMPARE(client.listenerCount(channel), 2);
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QCOMPARE(subscribers(client, channel), 1); // one SUBSCRIBE for both listeners

    // One listener leaves: the channel stays subscribed and messages keep coming.
    client.unsubscribe(channel);
    QCOMPARE(client.listenerCount(channel), 1);
    QVERIFY(client.isSubscribed(channel));
    QCOMPARE(subscribers(client, channel), 1);
    QCOMPARE(publish(client, channel, "still here"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
    QCOMPARE(messages.constFirst().at(1).toByteArray(), QByteArrayLiteral("still here"));

    // The last listener leaves: UNSUBSCRIBE goes out.
    client.unsubscribe(channel);
    QCOMPARE(client.listenerCount(channel), 0);
    QVERIFY(!client.isSubscribed(channel));
    QTRY_COMPARE_WITH_TIMEOUT(subscribers(client, channel), 0, 5000);
    QCOMPARE(m_server->cli({ QStringLiteral("PUBSUB"), QStringLiteral("NUMSUB"),
                 QString::fromLatin1(channel) }),
        QByteArray(channel + "\n0"));
    QCOMPARE(publish(client, channel, "nobody listens"), 0);

    // Unbalanced unsubscribe is harmless.
    client.unsubscribe(channel);
    QCOMPARE(client.listenerCount(channel), 0);
}

void tst_RedisPubSub::subscribeUnsubscribeSubscribe()
{
    ServerClient &client = *m_client;
    const QByteArray channel = QByteArrayLiteral("dptest:flip");
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);

    // All three before any confirmation arrives.
    client.subscribe(channel);
    client.unsubscribe(channel);
    client.subscribe(channel);
    QTRY_VERIFY_WITH_TIMEOUT(client.isSubscribed(channel), 5000);
    QCOMPARE(subscribed.size(), 1);
    QCOMPARE(subscribers(client, channel), 1);
    QCOMPARE(publish(client, channel, "after the flip"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
    QVERIFY(client.isSubscribed(channel));
}

void tst_RedisPubSub::unsubscribeSubscribeWhileConfirmed()
{
    ServerClient &client = *m_client;
    const QByteArray channel = QByteArrayLiteral("dptest:again");
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);

    client.subscribe(channel);
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    // Leave and come back before the server has confirmed the UNSUBSCRIBE.
    client.unsubscribe(channel);
    QVERIFY(!client.isSubscribed(channel));
    QVERIFY(!client.subscribe(channel));
    QTRY_VERIFY_WITH_TIMEOUT(client.isSubscribed(channel), 5000);
    QCOMPARE(subscribed.size(), 2);
    QCOMPARE(subscribers(client, channel), 1);
    QCOMPARE(publish(client, channel, "back"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
}

void tst_RedisPubSub::subscribeUnsubscribe()
{
    ServerClient &client = *m_client;
    const QByteArray channel = QByteArrayLiteral("dptest:brief");
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);

    client.subscribe(channel);
    client.unsubscribe(channel);
    // Another channel's confirmation tells us the server has handled both commands.
    client.subscribe("dptest:marker");
    QTRY_VERIFY_WITH_TIMEOUT(client.isSubscribed("dptest:marker"), 5000);
    QCOMPARE(subscribed.size(), 1);
    QCOMPARE(
        subscribed.constFirst().constFirst().toByteArray(), QByteArrayLiteral("dptest:marker"));
    QVERIFY(!client.isSubscribed(channel));
    QCOMPARE(subscribers(client, channel), 0);
    QCOMPARE(publish(client, channel, "gone"), 0);
    QCOMPARE(publish(client, "dptest:marker", "here"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
    QCOMPARE(messages.constFirst().at(0).toByteArray(), QByteArrayLiteral("dptest:marker"));
}

void tst_RedisPubSub::resubscribesAfterRestart()
{
    ServerClient &client = *m_client;
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);
    QSignalSpy disconnected(&client, &ServerClient::disconnected);
    QSignalSpy connected(&client, &ServerClient::connected);

    client.subscribe("dptest:one");
    client.subscribe("dptest:two");
    client.subscribe("dptest:left");
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 3, 5000);
    client.unsubscribe("dptest:left");
    QTRY_COMPARE_WITH_TIMEOUT(subscribers(client, "dptest:left"), 0, 5000);

    m_server->kill();
    QTRY_VERIFY_WITH_TIMEOUT(!disconnected.isEmpty(), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(!client.isSubscribed("dptest:one"), 5000);
    QVERIFY(!client.isSubscribed("dptest:two"));
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));

    // Both wanted channels come back by themselves, and only those.
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 5, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), 5000);
    QVERIFY(!connected.isEmpty());
    QByteArrayList again;
    for (int i = 3; i < subscribed.size(); ++i)
        again.append(subscribed.at(i).constFirst().toByteArray());
    std::sort(again.begin(), again.end());
    QCOMPARE(again, QByteArrayList({ "dptest:one", "dptest:two" }));
    QVERIFY(client.isSubscribed("dptest:one"));
    QVERIFY(client.isSubscribed("dptest:two"));
    QCOMPARE(subscribers(client, "dptest:one"), 1);
    QCOMPARE(subscribers(client, "dptest:left"), 0);
    QCOMPARE(client.listenerCount("dptest:one"), 1);

    QCOMPARE(publish(client, "dptest:two", "after restart"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
    QCOMPARE(messages.constFirst().at(0).toByteArray(), QByteArrayLiteral("dptest:two"));
    QCOMPARE(messages.constFirst().at(1).toByteArray(), QByteArrayLiteral("after restart"));
}

void tst_RedisPubSub::withPassword()
{
    RedisServer server(
        RedisServer::Transport::Tcp, { QStringLiteral("--requirepass"), QStringLiteral("secret") });
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QUrl url = server.url();
    url.setPassword(QStringLiteral("secret"));
    ServerClient client(RedisTest::endpointOf(url), fastOptions());
    QSignalSpy subscribed(&client, &ServerClient::subscribed);
    QSignalSpy messages(&client, &ServerClient::message);
    // Subscribed before the connection (and its AUTH) is up.
    client.subscribe("dptest:auth");
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), 5000);
    QCOMPARE(publish(client, "dptest:auth", "ok"), 1);
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, 5000);
}

QTEST_GUILESS_MAIN(tst_RedisPubSub)
#include "tst_redispubsub.moc"
