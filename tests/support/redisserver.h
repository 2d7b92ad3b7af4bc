#pragma once

#include <QByteArray>
#include <QByteArrayList>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <memory>

class QProcess;
class QTemporaryDir;

namespace DistributedPromiseTest {

/*!
    A private redis-server for one test: started from a temporary directory on a free loopback
    TCP port or on a unix socket, with no persistence, and never outliving the test process (the
    destructor kills it, and the child gets SIGKILL if the thread that started it dies).

    All calls are synchronous and bounded (about 10 s); they do not need an event loop, but the
    server's log is drained through QProcess signals, so use the object from the thread that
    created it.

    \code
    DistributedPromiseTest::RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    config.redisUrl = redis.url();
    QCOMPARE(redis.cli({QStringLiteral("GET"), QStringLiteral("k")}), QByteArray("v"));
    \endcode
*/
class RedisServer
{
public:
    enum class Transport { Tcp, Unix };

    /*! \a extraArgs are appended to the redis-server command line (after ours, so they win),
        e.g. {"--requirepass", "secret"}. */
    explicit RedisServer(Transport transport = Transport::Tcp, QStringList extraArgs = {});
    /*! Kills the server if it is running and removes the temporary directory. */
    ~RedisServer();

    RedisServer(const RedisServer &) = delete;
    RedisServer &operator=(const RedisServer &) = delete;

    /*! Call before the first start(): \a contents is written to \a fileName (a plain name) in
        dir() when the directory is created, and redis-server reads that file as its
        configuration (the first argument; our command-line options and extraArgs still win). The
        file is written only if it does not exist yet, so whatever the server rewrites into it (a
        sentinel's state, CONFIG REWRITE) survives restart(). */
    void setConfigFile(const QString &fileName, const QByteArray &contents);
    /*! The absolute path of the setConfigFile() file; empty without one or before the first
        start(). */
    QString configFilePath() const;

    /*! Call before start(): run as a Redis Sentinel, `redis-server <config file> --sentinel`
        (Tcp only). A sentinel keeps its state in its configuration file, so setConfigFile() is
        required; the file holds the `sentinel monitor` lines. As a sentinel logs no "ready" line,
        start() waits until it answers PING. */
    void setSentinelMode(bool sentinel);
    /*! Whether setSentinelMode(true) was called. */
    bool isSentinelMode() const;

    /*! Call before the first start() (Tcp only): pick a port no higher than 55535 whose
        port + 10000 is free as well, because a cluster node (extraArgs
        {"--cluster-enabled", "yes", ...}) also listens there, on its cluster bus. A start() that
        finds either port taken tries another pair. */
    void setReserveClusterBusPort(bool reserve);

    /*! Starts the server and waits until it answers PING. Returns false, with errorString(), on
        failure; a missing redis-server says so. Starting a running server is a no-op. */
    bool start();
    QString errorString() const;

    /*! SIGTERM, wait for exit (SIGKILL after 10 s). Also works on a paused server. */
    void stop();
    /*! SIGKILL, wait for exit. */
    void kill();
    /*! Starts again on the same port / socket path; stops the server first if it is running. The
        data is gone (no persistence). */
    bool restart();
    /*! SIGSTOP: the server keeps its sockets open but answers nothing until resume(). */
    void pause();
    /*! SIGCONT. */
    void resume();

    bool isRunning() const;
    bool isPaused() const;
    /*! The server's pid, or 0 when it is not running. */
    qint64 pid() const;
    /*! redis://127.0.0.1:<port> or unix://<absolute socket path>. Empty before the first
        successful start() for Tcp. */
    QUrl url() const;
    /*! 0 for the Unix transport (and before the first start()). */
    quint16 port() const;
    /*! Empty for the Tcp transport. */
    QString socketPath() const;
    /*! The temporary directory the server runs in (its --dir). */
    QString dir() const;
    Transport transport() const;

    /*! Runs redis-cli against this server (bounded by 10 s) and returns its trimmed stdout.
        redis-cli prints raw replies when its output is not a terminal: "PONG", "v", "1", one
        line per array element; an empty or nil reply gives an empty result. Errors (server down,
        redis-cli missing, timeout) give an empty result and a qWarning() with the details. */
    QByteArray cli(const QStringList &args) const;

    /*! The last lines the server printed (its log goes to stdout), including what it printed
        since the event loop last ran. */
    QByteArrayList recentLog() const;

private:
    enum class Attempt { Started, AddressInUse, Failed };

    Attempt launch();
    bool waitUntilReady();
    /*! The process is gone while starting: records why and returns true. */
    bool exitedDuringStartUp();
    bool pingOnce(int timeoutMs) const;
    void drainOutput();
    void finishProcess(int signalNumber);
    void setFailure(const QString &what);
    QString logTail() const;

    quint16 pickPort() const;
    bool writeConfigFile();

    Transport m_transport;
    QStringList m_extraArgs;
    QString m_configFileName;
    QByteArray m_configFileContents;
    bool m_sentinel = false;
    bool m_reserveClusterBusPort = false;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QProcess> m_process;
    QString m_program;
    QString m_error;
    QString m_socketPath;
    quint16 m_port = 0;
    bool m_paused = false;
    bool m_sawReady = false;
    QByteArray m_partialLine;
    QByteArrayList m_log;
};

} // namespace DistributedPromiseTest
