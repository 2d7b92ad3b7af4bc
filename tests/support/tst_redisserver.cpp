#include "redisserver.h"

#include <QDir>
#include <QFileInfo>
#include <QLocalSocket>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using DistributedPromiseTest::RedisServer;

namespace {

QStringList words(const char *a, const char *b = nullptr, const char *c = nullptr)
{
    QStringList list { QString::fromLatin1(a) };
    if (b)
        list << QString::fromLatin1(b);
    if (c)
        list << QString::fromLatin1(c);
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

QTEST_GUILESS_MAIN(tst_RedisServer)
#include "tst_redisserver.moc"
