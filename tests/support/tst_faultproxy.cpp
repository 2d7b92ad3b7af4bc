#include "faultproxy.h"
#include "redisserver.h"

#include <QElapsedTimer>
#include <QTcpSocket>
#include <QTest>

using DistributedPromiseTest::FaultProxy;
using DistributedPromiseTest::FaultProxyProcess;
using DistributedPromiseTest::RedisServer;
using Target = FaultProxy::Target;

namespace {

// A bare RESP client: writes commands, collects every byte the server sends.
struct RawClient
{
    QTcpSocket socket;
    QByteArray received;

    explicit RawClient(quint16 port)
    {
        QObject::connect(&socket, &QTcpSocket::readyRead, &socket,
            [this] { received.append(socket.readAll()); });
        socket.connectToHost(QStringLiteral("127.0.0.1"), port);
    }
    bool waitConnected() { return socket.waitForConnected(5000); }
    void send(const QByteArrayList &args)
    {
        QByteArray resp = "*" + QByteArray::number(args.size()) + "\r\n";
        for (const QByteArray &arg : args)
            resp += "$" + QByteArray::number(arg.size()) + "\r\n" + arg + "\r\n";
        socket.write(resp);
    }
    /*! Waits until \a reply has arrived, removes everything up to and including it. */
    bool expect(const QByteArray &reply, int timeoutMs = 5000)
    {
        const bool seen = QTest::qWaitFor([&] { return received.contains(reply); }, timeoutMs);
        if (seen)
            received.remove(0, received.indexOf(reply) + reply.size());
        return seen;
    }
};

QByteArray bulk(const QByteArray &text)
{
    return "$" + QByteArray::number(text.size()) + "\r\n" + text + "\r\n";
}

} // namespace

class tst_FaultProxy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void forwardsAndClassifies();
    void delaysReplies();
    void blackholeDownKeepsConnectionOpen();
    void blackholeUpDropsCommands();
    void cutAndRefuse();
    void pauseHoldsTraffic();
    void triggers();
    void helperProcess();

private:
    std::unique_ptr<RedisServer> m_redis;
    std::unique_ptr<FaultProxy> m_proxy;
};

void tst_FaultProxy::init()
{
    m_redis = std::make_unique<RedisServer>();
    QVERIFY2(m_redis->start(), qPrintable(m_redis->errorString()));
    m_proxy = std::make_unique<FaultProxy>(m_redis->port());
    QVERIFY2(m_proxy->start(), qPrintable(m_proxy->errorString()));
    QVERIFY(m_proxy->port() != 0);
    QCOMPARE(m_proxy->url(), QUrl(QStringLiteral("redis://127.0.0.1:%1").arg(m_proxy->port())));
}

void tst_FaultProxy::cleanup()
{
    m_proxy.reset();
    m_redis.reset();
}

void tst_FaultProxy::forwardsAndClassifies()
{
    RawClient sub(m_proxy->port());
    QVERIFY(sub.waitConnected());
    sub.send({ "PING" });
    QVERIFY(sub.expect("+PONG\r\n"));
    sub.send({ "SUBSCRIBE", "dptest:ch" });
    QVERIFY(sub.expect(bulk("dptest:ch") + ":1\r\n"));
    RawClient cmd(m_proxy->port());
    QVERIFY(cmd.waitConnected());
    cmd.send({ "SET", "dptest:k", "v" });
    QVERIFY(cmd.expect("+OK\r\n"));

    const QList<FaultProxy::ConnectionInfo> list = m_proxy->connections();
    QCOMPARE(list.size(), 2);
    QCOMPARE(list.at(0).index, 0);
    QCOMPARE(list.at(0).role, FaultProxy::Role::Subscriber);
    QCOMPARE(list.at(0).commands, QByteArrayList({ "PING", "SUBSCRIBE" }));
    QCOMPARE(list.at(1).role, FaultProxy::Role::Commands);
    QVERIFY(list.at(1).open);
    QCOMPARE(m_proxy->openCount(Target::subscriber()), 1);
    QCOMPARE(m_proxy->openCount(Target::commands()), 1);

    cmd.send({ "PUBLISH", "dptest:ch", "hello" });
    QVERIFY(cmd.expect(":1\r\n"));
    QVERIFY(sub.expect(bulk("message") + bulk("dptest:ch") + bulk("hello")));
}

void tst_FaultProxy::delaysReplies()
{
    RawClient cmd(m_proxy->port());
    QVERIFY(cmd.waitConnected());
    cmd.send({ "SET", "dptest:k", "v" }); // classifies it
    QVERIFY(cmd.expect("+OK\r\n"));

    m_proxy->setDelay(300, Target::commands());
    QElapsedTimer timer;
    timer.start();
    cmd.send({ "GET", "dptest:k" });
    QVERIFY(cmd.expect(bulk("v")));
    QVERIFY2(timer.elapsed() >= 295 && timer.elapsed() < 3000,
        qPrintable(QString::number(timer.elapsed())));

    // Aimed at the subscriber role only: the command connection is fast again.
    m_proxy->setDelay(0, Target::commands());
    m_proxy->setDelay(5000, Target::subscriber());
    timer.restart();
    cmd.send({ "GET", "dptest:k" });
    QVERIFY(cmd.expect(bulk("v")));
    QVERIFY2(timer.elapsed() < 250, qPrintable(QString::number(timer.elapsed())));
}

void tst_FaultProxy::blackholeDownKeepsConnectionOpen()
{
    RawClient sub(m_proxy->port());
    QVERIFY(sub.waitConnected());
    sub.send({ "SUBSCRIBE", "dptest:ch" });
    QVERIFY(sub.expect(":1\r\n"));
    RawClient cmd(m_proxy->port());
    QVERIFY(cmd.waitConnected());

    m_proxy->setBlackhole(FaultProxy::Direction::Down, Target::subscriber());
    cmd.send({ "PUBLISH", "dptest:ch", "lost" });
    QVERIFY(cmd.expect(":1\r\n")); // the server delivered it to the proxy
    QTRY_VERIFY_WITH_TIMEOUT(m_proxy->connections().at(0).droppedDown > 0, 5000);

    m_proxy->setBlackhole(FaultProxy::Direction::Down, Target::subscriber(), false);
    cmd.send({ "PUBLISH", "dptest:ch", "after" });
    QVERIFY(cmd.expect(":1\r\n"));
    QVERIFY(sub.expect(bulk("after")));
    QVERIFY2(!sub.received.contains("lost"), sub.received.constData());
    QCOMPARE(sub.socket.state(), QAbstractSocket::ConnectedState);
    QVERIFY(m_proxy->connections().at(0).open);
}

void tst_FaultProxy::blackholeUpDropsCommands()
{
    RawClient cmd(m_proxy->port());
    QVERIFY(cmd.waitConnected());
    cmd.send({ "GET", "dptest:k" });
    QVERIFY(cmd.expect("$-1\r\n"));

    m_proxy->setBlackhole(FaultProxy::Direction::Up, Target::connection(0));
    cmd.send({ "SET", "dptest:k", "dropped" });
    QTRY_VERIFY_WITH_TIMEOUT(m_proxy->connections().at(0).droppedUp > 0, 5000);
    m_proxy->clearFaults();
    cmd.send({ "GET", "dptest:k" });
    QVERIFY(cmd.expect("$-1\r\n")); // the SET never reached the server
    QVERIFY2(!cmd.received.contains("+OK"), cmd.received.constData());
    QCOMPARE(m_redis->cli({ QStringLiteral("GET"), QStringLiteral("dptest:k") }), QByteArray());
}

void tst_FaultProxy::cutAndRefuse()
{
    RawClient sub(m_proxy->port());
    QVERIFY(sub.waitConnected());
    sub.send({ "SSUBSCRIBE", "dptest:ch" });
    QVERIFY(sub.expect(":1\r\n"));
    RawClient cmd(m_proxy->port());
    QVERIFY(cmd.waitConnected());
    cmd.send({ "DBSIZE" });
    QVERIFY(cmd.expect(":0\r\n"));

    QCOMPARE(m_proxy->cut(Target::subscriber()), 1);
    QTRY_COMPARE_WITH_TIMEOUT(sub.socket.state(), QAbstractSocket::UnconnectedState, 5000);
    QCOMPARE(m_proxy->openCount(), 1);
    cmd.send({ "DBSIZE" });
    QVERIFY(cmd.expect(":0\r\n"));

    m_proxy->setRefuseNew(true);
    QTcpSocket refused;
    refused.connectToHost(QStringLiteral("127.0.0.1"), m_proxy->port());
    QVERIFY(!refused.waitForConnected(5000));
    QCOMPARE(refused.error(), QAbstractSocket::ConnectionRefusedError);
    cmd.send({ "DBSIZE" }); // open connections go on
    QVERIFY(cmd.expect(":0\r\n"));

    m_proxy->setRefuseNew(false);
    RawClient again(m_proxy->port());
    QVERIFY(again.waitConnected());
    again.send({ "PING" });
    QVERIFY(again.expect("+PONG\r\n"));
    QCOMPARE(m_proxy->acceptedCount(), 3);
    QCOMPARE(m_proxy->cut(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(cmd.socket.state(), QAbstractSocket::UnconnectedState, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(again.socket.state(), QAbstractSocket::UnconnectedState, 5000);
}

void tst_FaultProxy::pauseHoldsTraffic()
{
    RawClient cmd(m_proxy->port());
    QVERIFY(cmd.waitConnected());
    cmd.send({ "PING" });
    QVERIFY(cmd.expect("+PONG\r\n"));

    m_proxy->pause();
    cmd.send({ "SET", "dptest:k", "paused" });
    QVERIFY(cmd.socket.waitForBytesWritten(5000));
    // redis-cli goes around the proxy: the SET has not arrived.
    QCOMPARE(m_redis->cli({ QStringLiteral("GET"), QStringLiteral("dptest:k") }), QByteArray());
    QVERIFY(cmd.received.isEmpty());
    m_proxy->resume();
    QVERIFY(cmd.expect("+OK\r\n"));
    QCOMPARE(
        m_redis->cli({ QStringLiteral("GET"), QStringLiteral("dptest:k") }), QByteArray("paused"));
}

void tst_FaultProxy::triggers()
{
    using Action = FaultProxy::Trigger::Action;
    const auto cli = [&](const QStringList &args) { return m_redis->cli(args); };

    // Cut at a given command: what came before it is executed, it and what follows are not.
    m_proxy->addTrigger({ "get", "dptest:b", Action::Cut, 0, Target::commands() });
    RawClient first(m_proxy->port());
    QVERIFY(first.waitConnected());
    first.send({ "SET", "dptest:a", "1" });
    first.send({ "GET", "dptest:a" }); // does not match the prefix
    QVERIFY(first.expect(bulk("1")));
    QCOMPARE(m_proxy->firedTriggers(), 0);
    first.send({ "SET", "dptest:before", "x" });
    first.send({ "GET", "dptest:b" });
    first.send({ "SET", "dptest:after", "x" });
    QTRY_COMPARE_WITH_TIMEOUT(first.socket.state(), QAbstractSocket::UnconnectedState, 5000);
    QCOMPARE(m_proxy->firedTriggers(), 1);
    QCOMPARE(cli({ QStringLiteral("GET"), QStringLiteral("dptest:before") }), QByteArray("x"));
    QCOMPARE(cli({ QStringLiteral("EXISTS"), QStringLiteral("dptest:after") }), QByteArray("0"));

    // Drop: the command runs, its reply (and every later one) is lost, the connection stays.
    m_proxy->addTrigger({ "INCR", QByteArray(), Action::DropReplies, 0, Target::all() });
    RawClient second(m_proxy->port());
    QVERIFY(second.waitConnected());
    second.send({ "PING" });
    QVERIFY(second.expect("+PONG\r\n"));
    second.send({ "INCR", "dptest:n" });
    QTRY_COMPARE_WITH_TIMEOUT(
        cli({ QStringLiteral("GET"), QStringLiteral("dptest:n") }), QByteArray("1"), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(m_proxy->connections().at(1).droppedDown > 0, 5000);
    QVERIFY(second.received.isEmpty());
    QCOMPARE(second.socket.state(), QAbstractSocket::ConnectedState);

    // Delay: replies from that command on come late.
    QCOMPARE(
        m_proxy->execute(QStringLiteral("on GET:dptest:slow delay 300")), QStringLiteral("ok"));
    RawClient third(m_proxy->port());
    QVERIFY(third.waitConnected());
    QElapsedTimer timer;
    timer.start();
    third.send({ "GET", "dptest:fast" });
    QVERIFY(third.expect("$-1\r\n"));
    QVERIFY2(timer.elapsed() < 250, qPrintable(QString::number(timer.elapsed())));
    timer.restart();
    third.send({ "GET", "dptest:slow" });
    QVERIFY(third.expect("$-1\r\n"));
    QVERIFY2(timer.elapsed() >= 295, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(m_proxy->firedTriggers(), 3);
    QVERIFY(m_proxy->execute(QStringLiteral("on GET explode")).startsWith(QLatin1String("error")));
}

void tst_FaultProxy::helperProcess()
{
    FaultProxyProcess helper;
    QVERIFY2(helper.start(m_redis->port()), qPrintable(helper.errorString()));
    QVERIFY(helper.port() != 0);
    QCOMPARE(helper.command(QStringLiteral("port")), QStringLiteral("ok %1").arg(helper.port()));
    QCOMPARE(helper.command(QStringLiteral("delay 200 cmd")), QStringLiteral("ok"));
    QVERIFY(helper.command(QStringLiteral("delay soon")).startsWith(QLatin1String("error")));
    QVERIFY(helper.command(QStringLiteral("explode")).startsWith(QLatin1String("error")));

    RawClient cmd(helper.port());
    QVERIFY(cmd.waitConnected());
    QElapsedTimer timer;
    timer.start();
    cmd.send({ "SET", "dptest:k", "v" });
    QVERIFY(cmd.expect("+OK\r\n"));
    QVERIFY2(timer.elapsed() >= 195, qPrintable(QString::number(timer.elapsed())));

    QStringList lines;
    QCOMPARE(helper.command(QStringLiteral("list"), &lines), QStringLiteral("ok 1"));
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines.constFirst().startsWith(QLatin1String("#0 cmd open cmds=SET")),
        qPrintable(lines.constFirst()));

    QCOMPARE(helper.command(QStringLiteral("on SET:dptest:k cut")), QStringLiteral("ok"));
    QCOMPARE(helper.command(QStringLiteral("fired")), QStringLiteral("ok 0"));
    QCOMPARE(helper.command(QStringLiteral("blackhole down #0")), QStringLiteral("ok"));
    QCOMPARE(helper.command(QStringLiteral("cut all")), QStringLiteral("ok 1"));
    QTRY_COMPARE_WITH_TIMEOUT(cmd.socket.state(), QAbstractSocket::UnconnectedState, 5000);
    helper.stop();
    QCOMPARE(helper.port(), quint16(0));
}

QTEST_MAIN(tst_FaultProxy)
#include "tst_faultproxy.moc"
