#pragma once

#include <QByteArray>
#include <QByteArrayList>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <memory>

class QProcess;
class QThread;

namespace DistributedPromiseTest {

class FaultProxyEngine;

/*!
    A TCP proxy for fault tests: it listens on a free loopback port, forwards every accepted
    connection to a real server (a redis-server), and injects network faults on request: replies
    delayed, one direction black-holed (bytes silently dropped while the connection stays open),
    connections cut, new connections refused, all traffic paused.

    Connections are numbered from 0 in accept order. Each one is also classified by the commands
    its client sends (RESP or inline): the first command other than AUTH, HELLO, PING, SELECT,
    CLIENT, ECHO, READONLY and QUIT decides: SUBSCRIBE, SSUBSCRIBE or PSUBSCRIBE make it a
    Subscriber connection, anything else a Commands connection. A fault aimed at a role applies to
    every connection of that role, present and future, from the moment it is classified; a fault
    aimed at a number applies to that connection only.

    The proxy runs in a thread of its own, so its timing does not depend on the caller's event
    loop (a test blocked in RedisServer::cli() does not stall it). Every method is synchronous
    and may be called from the thread that made the object.

    \code
    FaultProxy proxy(redis.port());
    QVERIFY2(proxy.start(), qPrintable(proxy.errorString()));
    config.redisUrl = proxy.url();
    proxy.setBlackhole(FaultProxy::Direction::Down, FaultProxy::Target::subscriber());
    \endcode

    The same proxy runs as a separate process (dp_faultproxy, driven through FaultProxyProcess
    or by hand) for tests whose clients are child processes; its stdin commands are described
    at FaultProxy::execute().
*/
class FaultProxy : public QObject
{
    Q_OBJECT
public:
    enum class Role { Unknown, Commands, Subscriber };
    Q_ENUM(Role)
    /*! Up: client to server (commands); Down: server to client (replies, messages). */
    enum class Direction { Up, Down, Both };
    Q_ENUM(Direction)

    /*! Which connections a fault is aimed at. */
    struct Target
    {
        enum class Kind { All, Role, Index };
        Kind kind = Kind::All;
        Role role = Role::Unknown;
        int index = -1;

        static Target all() { return {}; }
        static Target subscriber() { return { Kind::Role, Role::Subscriber, -1 }; }
        static Target commands() { return { Kind::Role, Role::Commands, -1 }; }
        static Target connection(int index) { return { Kind::Index, Role::Unknown, index }; }
        /*! "all", "sub", "cmd", or a connection number ("3" or "#3"); false if none of these. */
        static bool parse(const QString &text, Target *target);
        QString toString() const;
        bool operator==(const Target &other) const
        {
            return kind == other.kind && role == other.role && index == other.index;
        }
    };

    /*!
        A fault armed for one protocol step: it fires once, on the first command named \a command
        (case-insensitive) whose first argument starts with \a argumentPrefix (e.g. EVALSHA and
        the first characters of a script's SHA1), sent on a connection matching \a target.
    */
    struct Trigger
    {
        enum class Action {
            Cut, ///< close the connection; the command and what follows never reach the server
            DropReplies, ///< forward the command, then black-hole this connection's replies
            DelayReplies, ///< forward the command, then delay this connection's replies by ms
        };
        QByteArray command;
        QByteArray argumentPrefix;
        Action action = Action::Cut;
        int ms = 0;
        Target target;
    };

    /*! One connection as the proxy sees it. */
    struct ConnectionInfo
    {
        int index = -1;
        Role role = Role::Unknown;
        bool open = false;
        QByteArrayList commands; ///< the first few command names the client sent, upper case
        qint64 bytesUp = 0; ///< forwarded (or queued) to the server
        qint64 bytesDown = 0; ///< forwarded (or queued) to the client
        qint64 droppedUp = 0; ///< black-holed on the way to the server
        qint64 droppedDown = 0; ///< black-holed on the way to the client
    };

    /*! Forwards to \a upstreamHost:\a upstreamPort; nothing happens before start(). */
    explicit FaultProxy(quint16 upstreamPort,
        const QString &upstreamHost = QStringLiteral("127.0.0.1"), QObject *parent = nullptr);
    /*! Closes every connection and stops the thread. */
    ~FaultProxy() override;

    /*! Listens on \a port (0: a free one) of 127.0.0.1. False with errorString() on failure. */
    bool start(quint16 port = 0);
    QString errorString() const;
    quint16 port() const;
    /*! redis://127.0.0.1:<port()>. */
    QUrl url() const;

    /*! Holds data in \a direction (replies by default) for \a ms before forwarding it; order is
        kept. 0 removes the delay for \a target. */
    void setDelay(
        int ms, const Target &target = Target::all(), Direction direction = Direction::Down);
    /*! Drops every byte in \a direction for \a target while \a on; the connections stay open. */
    void setBlackhole(Direction direction, const Target &target = Target::all(), bool on = true);
    /*! Arms \a trigger. While any trigger is armed, client data is forwarded whole commands at a
        time (to find the one that fires). The delay or black hole a trigger sets is aimed at the
        one connection (Target::connection) and stays until clearFaults(). */
    void addTrigger(const Trigger &trigger);
    /*! How many triggers have fired so far. */
    int firedTriggers() const;
    /*! Removes every delay, black hole and armed trigger (refuse and pause stay as they are). */
    void clearFaults();
    /*! Closes the matching open connections (both sides at once); returns how many. */
    int cut(const Target &target = Target::all());
    /*! While \a refuse, nobody can connect (the listening socket is closed: connection refused);
        open connections go on. */
    void setRefuseNew(bool refuse);
    /*! Stops forwarding in both directions for every connection (data waits in the socket
        buffers, as for a stopped peer) until resume(). */
    void pause();
    void resume();

    QList<ConnectionInfo> connections() const;
    /*! Connections accepted so far, open or not. */
    int acceptedCount() const;
    /*! Open connections that match \a target. */
    int openCount(const Target &target = Target::all()) const;

    /*!
        Runs one text command, as the helper process reads them from stdin, and returns its
        answer line: "ok ..." or "error <why>". Commands (TARGET: all | sub | cmd | N | #N,
        default all; DIR: up | down | both):
        - "delay MS [TARGET] [DIR]"  (DIR default down; MS 0 removes)
        - "blackhole DIR [TARGET]", "unblackhole DIR [TARGET]"
        - "on COMMAND[:ARGPREFIX] cut|drop|delay MS [TARGET]" (a Trigger: e.g. "on
          EVALSHA:9f3c drop cmd"), "fired" (answers "ok <count>")
        - "clear" (every delay, black hole and trigger)
        - "cut [TARGET]" (answers "ok <count>")
        - "refuse on|off", "pause", "resume"
        - "list" (answers "ok <n>" then one line per connection: "#i role open|closed cmds=A,B
          up=.. down=.. dropped-up=.. dropped-down=..")
        - "port" (answers "ok <port>")
    */
    QString execute(const QString &line);

private:
    template<typename F>
    auto call(F &&function) const;

    QThread *m_thread = nullptr;
    FaultProxyEngine *m_engine = nullptr;
    const QString m_upstreamHost;
    const quint16 m_upstreamPort;
};

/*!
    The dp_faultproxy helper as a child process: start() runs it against a server and reads the
    port it listens on; command() sends one stdin command and waits (bounded, about 5 s) for its
    answer. The child exits when this object is destroyed (its stdin closes) and gets SIGKILL if
    the test process dies.

    \code
    FaultProxyProcess proxy;
    QVERIFY2(proxy.start(redis.port()), qPrintable(proxy.errorString()));
    QCOMPARE(proxy.command(QStringLiteral("blackhole down sub")), QStringLiteral("ok"));
    \endcode

    Tests that use it depend on the helper target: add_dependencies(<test> dp_faultproxy).
*/
class FaultProxyProcess
{
public:
    FaultProxyProcess();
    ~FaultProxyProcess();
    FaultProxyProcess(const FaultProxyProcess &) = delete;
    FaultProxyProcess &operator=(const FaultProxyProcess &) = delete;

    /*! The helper's path, set by CMake (empty when unknown). */
    static QString program();

    /*! Starts the helper forwarding to 127.0.0.1:\a upstreamPort, listening on \a port (0: a
        free one). False with errorString() on failure. */
    bool start(quint16 upstreamPort, quint16 port = 0);
    QString errorString() const;
    quint16 port() const;
    QUrl url() const;
    /*! Sends \a line and returns the answer's first line ("ok ...", "error ..."; empty when the
        helper did not answer in time). Extra lines (of "list") go to \a more if given. */
    QString command(const QString &line, QStringList *more = nullptr);
    /*! Closes stdin and waits for the helper to exit. */
    void stop();

private:
    QByteArray readLine(int timeoutMs);

    std::unique_ptr<QProcess> m_process;
    QString m_error;
    quint16 m_port = 0;
    QByteArray m_buffer;
};

} // namespace DistributedPromiseTest
