#include "redisserver.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLocalSocket>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using DistributedPromiseTest::RedisServer;

namespace {

QStringList words(
    const char *a, const char *b = nullptr, const char *c = nullptr, const char *d = nullptr)
{
    QStringList list { QString::fromLatin1(a) };
    for (const char *word : { b, c, d }) {
        if (word)
            list << QString::fromLatin1(word);
    }
    return list;
}

} // namespace

class tst_RedisServer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startTcp();
    void setAndGet();
    void killAndRestartOnSamePort();
    void stopAndRestartOnSamePort();
    void pauseAndResume();
    void unixTransport();
    void extraArgs();
    void destructorCleansUp();
    void missingRedisServer();
    void configFile();
    void sentinelMode();
    void sentinelNeedsConfigFile();
    void clusterBusPort();
    void recentLogWithoutEventLoop();
};

void tst_RedisServer::startTcp()
{
    RedisServer redis;
    QVERIFY(!redis.isRunning());
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QVERIFY(redis.isRunning());
    QVERIFY(redis.pid() > 0);
    QVERIFY(redis.port() > 0);
    QVERIFY(redis.socketPath().isEmpty());
    QCOMPARE(redis.url(), QUrl(QStringLiteral("redis://127.0.0.1:%1").arg(redis.port())));
    QVERIFY(QFileInfo(redis.dir()).isDir());
    QCOMPARE(redis.cli(words("PING")), QByteArrayLiteral("PONG"));
    // start() on a running server is a no-op.
    const qint64 pid = redis.pid();
    QVERIFY(redis.start());
    QCOMPARE(redis.pid(), pid);
}

void tst_RedisServer::setAndGet()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QCOMPARE(redis.cli(words("SET", "dptest:k", "value one")), QByteArrayLiteral("OK"));
    QCOMPARE(redis.cli(words("GET", "dptest:k")), QByteArrayLiteral("value one"));
    QCOMPARE(redis.cli(words("GET", "dptest:missing")), QByteArray());
}

void tst_RedisServer::killAndRestartOnSamePort()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    const quint16 port = redis.port();
    const qint64 pid = redis.pid();
    QCOMPARE(redis.cli(words("SET", "dptest:k", "v")), QByteArrayLiteral("OK"));

    redis.kill();
    QVERIFY(!redis.isRunning());
    QCOMPARE(redis.pid(), qint64(0));
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(!socket.waitForConnected(5000));
        QCOMPARE(socket.error(), QAbstractSocket::ConnectionRefusedError);
    }

    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));
    QVERIFY(redis.isRunning());
    QVERIFY(redis.pid() != pid);
    QCOMPARE(redis.port(), port);
    QCOMPARE(redis.cli(words("PING")), QByteArrayLiteral("PONG"));
    QCOMPARE(redis.cli(words("DBSIZE")), QByteArrayLiteral("0"));
    QCOMPARE(redis.cli(words("GET", "dptest:k")), QByteArray());
}

void tst_RedisServer::stopAndRestartOnSamePort()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    const quint16 port = redis.port();
    QCOMPARE(redis.cli(words("SET", "dptest:k", "v")), QByteArrayLiteral("OK"));

    redis.stop();
    QVERIFY(!redis.isRunning());

    // restart() on a running server stops it first; on a stopped one it just starts.
    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));
    QCOMPARE(redis.port(), port);
    QCOMPARE(redis.cli(words("DBSIZE")), QByteArrayLiteral("0"));
    QCOMPARE(redis.cli(words("SET", "dptest:k", "v")), QByteArrayLiteral("OK"));
    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));
    QCOMPARE(redis.port(), port);
    QCOMPARE(redis.cli(words("DBSIZE")), QByteArrayLiteral("0"));
}

void tst_RedisServer::pauseAndResume()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));

    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, redis.port());
    QVERIFY(socket.waitForConnected(5000));

    redis.pause();
    QVERIFY(redis.isRunning());
    QVERIFY(redis.isPaused());
    socket.write(QByteArrayLiteral("PING\r\n"));
    QVERIFY(!QTest::qWaitFor([&] { return socket.bytesAvailable() > 0; }, 300));

    redis.resume();
    QVERIFY(!redis.isPaused());
    QVERIFY(QTest::qWaitFor([&] { return socket.canReadLine(); }, 5000));
    QCOMPARE(socket.readLine(), QByteArrayLiteral("+PONG\r\n"));

    // stop() works on a paused server too.
    redis.pause();
    redis.stop();
    QVERIFY(!redis.isRunning());
}

void tst_RedisServer::unixTransport()
{
    RedisServer redis(RedisServer::Transport::Unix);
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QCOMPARE(redis.port(), quint16(0));
    const QString path = redis.socketPath();
    QVERIFY(QDir::isAbsolutePath(path));
    QVERIFY(path.startsWith(redis.dir()));
    QVERIFY(QFileInfo::exists(path));
    QCOMPARE(redis.url().scheme(), QStringLiteral("unix"));
    QCOMPARE(redis.url().path(), path);
    QCOMPARE(redis.url().toString(), QStringLiteral("unix://") + path);
    QCOMPARE(redis.cli(words("PING")), QByteArrayLiteral("PONG"));

    QLocalSocket socket;
    socket.connectToServer(path);
    QVERIFY(socket.waitForConnected(5000));
    socket.write(QByteArrayLiteral("PING\r\n"));
    QVERIFY(QTest::qWaitFor([&] { return socket.canReadLine(); }, 5000));
    QCOMPARE(socket.readLine(), QByteArrayLiteral("+PONG\r\n"));
    socket.disconnectFromServer();

    redis.kill();
    QVERIFY(!redis.isRunning());
    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));
    QCOMPARE(redis.socketPath(), path);
    QCOMPARE(redis.cli(words("PING")), QByteArrayLiteral("PONG"));
}

void tst_RedisServer::extraArgs()
{
    RedisServer redis(RedisServer::Transport::Tcp,
        { QStringLiteral("--maxmemory-policy"), QStringLiteral("allkeys-lru") });
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QCOMPARE(redis.cli(words("CONFIG", "GET", "maxmemory-policy")),
        QByteArrayLiteral("maxmemory-policy\nallkeys-lru"));
    QCOMPARE(redis.cli(words("CONFIG", "GET", "save")), QByteArrayLiteral("save"));
    QCOMPARE(redis.cli(words("CONFIG", "GET", "appendonly")), QByteArrayLiteral("appendonly\nno"));
}

void tst_RedisServer::destructorCleansUp()
{
    qint64 pid = 0;
    QString dir;
    quint16 port = 0;
    {
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        pid = redis.pid();
        dir = redis.dir();
        port = redis.port();
    }
    QVERIFY(!QFileInfo::exists(dir));
    // The pid has been reaped; if it was reused already, it is not our server.
    QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (cmdline.open(QIODevice::ReadOnly))
        QVERIFY(!cmdline.readAll().contains(QByteArray::number(port)));
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    QVERIFY(!socket.waitForConnected(5000));
}

void tst_RedisServer::missingRedisServer()
{
    QTemporaryDir emptyDir;
    QVERIFY(emptyDir.isValid());
    const QByteArray savedPath = qgetenv("PATH");
    qputenv("PATH", QFile::encodeName(emptyDir.path()));
    RedisServer redis;
    const bool started = redis.start();
    qputenv("PATH", savedPath);
    QVERIFY(!started);
    QVERIFY(!redis.isRunning());
    QCOMPARE(redis.errorString(),
        QStringLiteral("redis-server not found on PATH; install it (scripts/install-deps.sh)"));
}

void tst_RedisServer::configFile()
{
    // The file is read, and the command line (extraArgs) wins over it.
    RedisServer redis(
        RedisServer::Transport::Tcp, { QStringLiteral("--maxmemory"), QStringLiteral("2mb") });
    redis.setConfigFile(QStringLiteral("redis.conf"),
        QByteArrayLiteral("maxmemory-policy allkeys-lru\nmaxmemory 1mb\n"));
    QVERIFY(redis.configFilePath().isEmpty());
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QCOMPARE(redis.configFilePath(), redis.dir() + QStringLiteral("/redis.conf"));
    QVERIFY(QFileInfo::exists(redis.configFilePath()));
    QCOMPARE(redis.cli(words("CONFIG", "GET", "maxmemory-policy")),
        QByteArrayLiteral("maxmemory-policy\nallkeys-lru"));
    QCOMPARE(
        redis.cli(words("CONFIG", "GET", "maxmemory")), QByteArrayLiteral("maxmemory\n2097152"));

    // What the server writes into its file survives a restart.
    QCOMPARE(redis.cli(words("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")),
        QByteArrayLiteral("OK"));
    QCOMPARE(redis.cli(words("CONFIG", "REWRITE")), QByteArrayLiteral("OK"));
    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));
    QCOMPARE(redis.cli(words("CONFIG", "GET", "maxmemory-policy")),
        QByteArrayLiteral("maxmemory-policy\nvolatile-ttl"));
}

void tst_RedisServer::sentinelMode()
{
    RedisServer master;
    QVERIFY2(master.start(), qPrintable(master.errorString()));

    RedisServer sentinel;
    sentinel.setSentinelMode(true);
    QVERIFY(sentinel.isSentinelMode());
    sentinel.setConfigFile(QStringLiteral("sentinel.conf"),
        "sentinel monitor dpmaster 127.0.0.1 " + QByteArray::number(master.port()) + " 1\n");
    QVERIFY2(sentinel.start(), qPrintable(sentinel.errorString()));
    QVERIFY(sentinel.port() > 0);
    QCOMPARE(sentinel.cli(words("PING")), QByteArrayLiteral("PONG"));
    QCOMPARE(sentinel.cli(words("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "dpmaster")),
        "127.0.0.1\n" + QByteArray::number(master.port()));

    // The sentinel keeps its state (its id) in the file, which survives a restart.
    const QByteArray id = sentinel.cli(words("SENTINEL", "MYID"));
    QCOMPARE(id.size(), 40);
    QFile file(sentinel.configFilePath());
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains(QByteArray("sentinel myid " + id)));
    sentinel.kill();
    QVERIFY2(sentinel.restart(), qPrintable(sentinel.errorString()));
    QCOMPARE(sentinel.cli(words("SENTINEL", "MYID")), id);
}

void tst_RedisServer::sentinelNeedsConfigFile()
{
    RedisServer sentinel;
    sentinel.setSentinelMode(true);
    QVERIFY(!sentinel.start());
    QVERIFY(sentinel.errorString().contains(QStringLiteral("setConfigFile")));
}

void tst_RedisServer::clusterBusPort()
{
    RedisServer node(RedisServer::Transport::Tcp,
        { QStringLiteral("--cluster-enabled"), QStringLiteral("yes"),
            QStringLiteral("--cluster-config-file"), QStringLiteral("nodes.conf") });
    node.setReserveClusterBusPort(true);
    QVERIFY2(node.start(), qPrintable(node.errorString()));
    const quint16 port = node.port();
    QVERIFY(port <= 55535);
    {
        QTcpSocket bus;
        bus.connectToHost(QHostAddress::LocalHost, port + 10000);
        QVERIFY(bus.waitForConnected(5000));
    }
    // The directory, and with it nodes.conf and the node's identity, survives a restart.
    const QByteArray id = node.cli(words("CLUSTER", "MYID"));
    QCOMPARE(id.size(), 40);
    QVERIFY(QFileInfo::exists(node.dir() + QStringLiteral("/nodes.conf")));
    node.kill();
    QVERIFY2(node.restart(), qPrintable(node.errorString()));
    QCOMPARE(node.port(), port);
    QCOMPARE(node.cli(words("CLUSTER", "MYID")), id);
}

void tst_RedisServer::recentLogWithoutEventLoop()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QCOMPARE(redis.cli(words("SAVE")), QByteArrayLiteral("OK"));
    // No event loop ran since; recentLog() reads the pipe itself.
    const QByteArrayList log = redis.recentLog();
    QVERIFY(std::any_of(log.cbegin(), log.cend(),
        [](const QByteArray &line) { return line.contains("DB saved on disk"); }));
}

QTEST_GUILESS_MAIN(tst_RedisServer)
#include "tst_redisserver.moc"
