#include "redistopology.h"

#include <QDeadlineTimer>
#include <QHostAddress>
#include <QList>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>

namespace DistributedPromiseTest {

namespace {

constexpr int kSlots = 16384;
constexpr int kCommandTimeoutMs = 5000;
constexpr int kPollTimeoutMs = 2000; // one command while polling
constexpr int kPollIntervalMs = 50;
constexpr int kStartTimeoutMs = 15000;
constexpr int kClusterCreateTimeoutMs = 30000;
constexpr int kMigrateBatch = 100;
// QVERIFY2 shows only about 1000 characters of a message, so keep the tails short.
constexpr int kLogTailLines = 8;
constexpr int kMaxReplyDepth = 8;
// Sentinels consider a replica for promotion only if its INFO is younger than 30 s.
constexpr qint64 kMaxInfoAgeMs = 20000;

// A RESP2 reply, or NoReply (with the reason in text) when the server could not be asked.
struct Reply
{
    enum class Type { Status, Error, Integer, Bulk, Nil, Array, NoReply };

    Type type = Type::NoReply;
    QByteArray text;
    qint64 integer = 0;
    QList<Reply> elements;

    bool isError() const { return type == Type::Error || type == Type::NoReply; }
    bool isOk() const { return type == Type::Status && text == "OK"; }

    // For error messages: the reply roughly as redis-cli would print it.
    QString toString() const
    {
        switch (type) {
        case Type::Status:
        case Type::Bulk:
            return QString::fromUtf8(text);
        case Type::Error:
            return QStringLiteral("-") + QString::fromUtf8(text);
        case Type::Integer:
            return QString::number(integer);
        case Type::Nil:
            return QStringLiteral("(nil)");
        case Type::NoReply:
            return QStringLiteral("no reply: ") + QString::fromUtf8(text);
        case Type::Array: {
            QStringList parts;
            for (const Reply &element : elements)
                parts << element.toString();
            return QStringLiteral("[") + parts.join(QStringLiteral(", ")) + QStringLiteral("]");
        }
        }
        return {};
    }
};

enum class Parse { Complete, Incomplete, Invalid };

// Parses one reply from buffer at pos; on Complete, pos is past it.
Parse parseReply(const QByteArray &buffer, qsizetype &pos, Reply &out, int depth = 0)
{
    const qsizetype lineEnd = buffer.indexOf("\r\n", pos);
    if (lineEnd < 0)
        return Parse::Incomplete;
    if (lineEnd == pos)
        return Parse::Invalid;
    const char type = buffer.at(pos);
    const QByteArray line = buffer.mid(pos + 1, lineEnd - pos - 1);
    qsizetype next = lineEnd + 2;
    bool ok = true;
    switch (type) {
    case '+':
        out.type = Reply::Type::Status;
        out.text = line;
        break;
    case '-':
        out.type = Reply::Type::Error;
        out.text = line;
        break;
    case ':':
        out.type = Reply::Type::Integer;
        out.integer = line.toLongLong(&ok);
        break;
    case '$': {
        const qint64 length = line.toLongLong(&ok);
        if (!ok || length < -1)
            return Parse::Invalid;
        if (length == -1) {
            out.type = Reply::Type::Nil;
            break;
        }
        if (buffer.size() < next + length + 2)
            return Parse::Incomplete;
        out.type = Reply::Type::Bulk;
        out.text = buffer.mid(next, length);
        next += length + 2;
        break;
    }
    case '*': {
        const qint64 count = line.toLongLong(&ok);
        if (!ok || count < -1 || depth >= kMaxReplyDepth)
            return Parse::Invalid;
        if (count == -1) {
            out.type = Reply::Type::Nil;
            break;
        }
        out.type = Reply::Type::Array;
        for (qint64 i = 0; i < count; ++i) {
            Reply element;
            const Parse result = parseReply(buffer, next, element, depth + 1);
            if (result != Parse::Complete)
                return result;
            out.elements.append(element);
        }
        break;
    }
    default:
        return Parse::Invalid;
    }
    if (!ok)
        return Parse::Invalid;
    pos = next;
    return Parse::Complete;
}

Reply noReply(const QString &why)
{
    Reply reply;
    reply.text = why.toUtf8();
    return reply;
}

// Sends one command on a fresh connection to 127.0.0.1:port and reads its reply; synchronous,
// bounded by timeoutMs, quiet (failures come back as a NoReply).
Reply command(quint16 port, const QByteArrayList &args, int timeoutMs = kCommandTimeoutMs)
{
    if (port == 0)
        return noReply(QStringLiteral("no port (not started)"));
    QByteArray request = '*' + QByteArray::number(args.size()) + "\r\n";
    for (const QByteArray &arg : args)
        request += '$' + QByteArray::number(arg.size()) + "\r\n" + arg + "\r\n";

    const QDeadlineTimer deadline(timeoutMs);
    const auto remaining = [&deadline] { return int(qMax<qint64>(deadline.remainingTime(), 1)); };
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(remaining()))
        return noReply(QStringLiteral("cannot connect to 127.0.0.1:%1: %2")
                           .arg(port)
                           .arg(socket.errorString()));
    socket.write(request);
    QByteArray buffer;
    for (;;) {
        if (socket.bytesToWrite() > 0 && !socket.waitForBytesWritten(remaining()))
            break;
        qsizetype pos = 0;
        Reply reply;
        const Parse result = parseReply(buffer, pos, reply);
        if (result == Parse::Complete)
            return reply;
        if (result == Parse::Invalid)
            return noReply(QStringLiteral("unparsable reply from 127.0.0.1:%1: %2")
                               .arg(port)
                               .arg(QString::fromUtf8(buffer.left(200))));
        if (deadline.hasExpired() || !socket.waitForReadyRead(remaining()))
            break;
        buffer += socket.readAll();
    }
    return noReply(QStringLiteral("no reply to %1 from 127.0.0.1:%2 within %3 ms (%4)")
                       .arg(QString::fromUtf8(args.value(0)))
                       .arg(port)
                       .arg(timeoutMs)
                       .arg(socket.errorString()));
}

Reply command(
    const RedisServer &server, const QByteArrayList &args, int timeoutMs = kCommandTimeoutMs)
{
    return command(server.port(), args, timeoutMs);
}

QByteArray number(int value) { return QByteArray::number(value); }

// The value of "field:value" in an INFO reply.
QByteArray infoField(const Reply &info, const QByteArray &field)
{
    const QByteArray prefix = field + ':';
    const QByteArrayList lines = info.text.split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).trimmed();
    }
    return {};
}

// A flat [key, value, key, value...] array (RESP2 maps) as a lookup.
QByteArray mapValue(const Reply &map, const QByteArray &key)
{
    for (qsizetype i = 0; i + 1 < map.elements.size(); i += 2) {
        if (map.elements.at(i).text == key)
            return map.elements.at(i + 1).text;
    }
    return {};
}

// Polls condition every kPollIntervalMs until it holds or the deadline passes; why says what
// was missing the last time.
bool pollUntil(
    const QDeadlineTimer &deadline, const std::function<bool(QString *)> &condition, QString *why)
{
    for (;;) {
        why->clear();
        if (condition(why))
            return true;
        if (deadline.hasExpired())
            return false;
        QThread::msleep(ulong(qMin<qint64>(kPollIntervalMs, deadline.remainingTime() + 1)));
    }
}

// A key of slot, found by trying hash tags.
QByteArray keyInSlot(int slot)
{
    for (int n = 0;; ++n) {
        const QByteArray key = "{dptest-probe-" + QByteArray::number(n) + '}';
        if (RedisClusterSetup::slotOf(key) == slot)
            return key;
    }
}

QString logTail(const RedisServer &server, const QString &label)
{
    QByteArrayList lines = server.recentLog();
    if (lines.isEmpty())
        return {};
    if (lines.size() > kLogTailLines)
        lines = lines.mid(lines.size() - kLogTailLines);
    return QStringLiteral("\n--- last lines of %1 (port %2) ---\n").arg(label).arg(server.port())
        + QString::fromLocal8Bit(lines.join('\n'));
}

// A port in a reply: a bulk string in SENTINEL replies, an integer in ROLE and CLUSTER SLOTS.
quint16 replyPort(const Reply &reply)
{
    return quint16(reply.type == Reply::Type::Integer ? reply.integer : reply.text.toUInt());
}

} // namespace

// ---------------------------------------------------------------------------------------------
// RedisSentinelSetup

RedisSentinelSetup::RedisSentinelSetup(int sentinels, QString masterName)
    : m_sentinelCount(qMax(sentinels, 1))
    , m_masterName(std::move(masterName))
{
    // Either server may become master, so both sync replicas at once (the default waits 5 s).
    const QStringList serverArgs { QStringLiteral("--repl-diskless-sync-delay"),
        QStringLiteral("0") };
    for (auto &server : m_servers)
        server = std::make_unique<RedisServer>(RedisServer::Transport::Tcp, serverArgs);
    for (int i = 0; i < m_sentinelCount; ++i) {
        m_sentinels.push_back(std::make_unique<RedisServer>());
        m_sentinels.back()->setSentinelMode(true);
    }
}

RedisSentinelSetup::~RedisSentinelSetup()
{
    // Sentinels first, so that they do not react to the servers going away.
    m_sentinels.clear();
    for (auto &server : m_servers)
        server.reset();
}

bool RedisSentinelSetup::start()
{
    if (m_started)
        return true;
    m_error.clear();
    const QDeadlineTimer deadline(kStartTimeoutMs);

    const char *roles[] = { "master", "replica" };
    for (int i = 0; i < 2; ++i) {
        if (!m_servers[i]->start()) {
            m_error = QStringLiteral("RedisSentinelSetup: cannot start the %1: %2")
                          .arg(QLatin1String(roles[i]), m_servers[i]->errorString());
            return false;
        }
    }
    m_masterIndex = 0;
    const quint16 masterPort = m_servers[0]->port();
    const Reply replicaOf
        = command(*m_servers[1], { "REPLICAOF", "127.0.0.1", QByteArray::number(masterPort) });
    if (!replicaOf.isOk()) {
        fail(QStringLiteral("REPLICAOF on the replica failed: %1").arg(replicaOf.toString()));
        return false;
    }
    QString why;
    if (!pollUntil(
            deadline,
            [&](QString *reason) { return replicaInSync(*m_servers[1], masterPort, reason); },
            &why)) {
        fail(QStringLiteral("the replica did not get in sync with the master: %1").arg(why));
        return false;
    }

    const QByteArray name = m_masterName.toUtf8();
    const QByteArray config = "sentinel monitor " + name + " 127.0.0.1 "
        + QByteArray::number(masterPort) + " 1\n" + "sentinel down-after-milliseconds " + name
        + " 1000\n" + "sentinel failover-timeout " + name + " 3000\n" + "sentinel parallel-syncs "
        + name + " 1\n";
    for (int i = 0; i < m_sentinelCount; ++i) {
        RedisServer &sentinelServer = *m_sentinels[size_t(i)];
        sentinelServer.setConfigFile(QStringLiteral("sentinel.conf"), config);
        if (!sentinelServer.start()) {
            m_error = QStringLiteral("RedisSentinelSetup: cannot start sentinel %1: %2")
                          .arg(i)
                          .arg(sentinelServer.errorString());
            return false;
        }
    }

    const quint16 replicaPort = m_servers[1]->port();
    if (!pollUntil(
            deadline,
            [&](QString *reason) {
                return sentinelsAgreeOnMaster(masterPort, reason)
                    && sentinelsKnowReplica(replicaPort, reason);
            },
            &why)) {
        fail(QStringLiteral("the sentinels did not pick up the master and the replica within "
                            "%1 ms: %2")
                 .arg(kStartTimeoutMs)
                 .arg(why));
        return false;
    }
    m_started = true;
    return true;
}

QString RedisSentinelSetup::errorString() const { return m_error; }

QString RedisSentinelSetup::masterName() const { return m_masterName; }

QUrl RedisSentinelSetup::url() const
{
    QList<quint16> ports;
    for (const auto &sentinelServer : m_sentinels)
        ports.append(sentinelServer->port());
    return url(ports);
}

QUrl RedisSentinelSetup::url(const QList<quint16> &sentinelPorts) const
{
    if (sentinelPorts.isEmpty() || sentinelPorts.contains(quint16(0)))
        return {};
    QString text = QStringLiteral("redis+sentinel://127.0.0.1:%1/%2")
                       .arg(sentinelPorts.constFirst())
                       .arg(QString::fromUtf8(QUrl::toPercentEncoding(m_masterName)));
    for (qsizetype i = 1; i < sentinelPorts.size(); ++i) {
        text += (i == 1 ? QStringLiteral("?") : QStringLiteral("&"))
            + QStringLiteral("sentinel=127.0.0.1:%1").arg(sentinelPorts.at(i));
    }
    return QUrl(text, QUrl::StrictMode);
}

RedisServer &RedisSentinelSetup::master()
{
    const int index = indexOfPort(masterPort());
    if (index >= 0)
        m_masterIndex = index;
    return *m_servers[m_masterIndex];
}

RedisServer &RedisSentinelSetup::replica()
{
    master();
    return *m_servers[1 - m_masterIndex];
}

RedisServer &RedisSentinelSetup::sentinel(int i)
{
    Q_ASSERT_X(i >= 0 && i < m_sentinelCount, "RedisSentinelSetup::sentinel", "out of range");
    return *m_sentinels[size_t(i)];
}

int RedisSentinelSetup::sentinelCount() const { return m_sentinelCount; }

const RedisServer &RedisSentinelSetup::liveSentinel() const
{
    for (const auto &sentinelServer : m_sentinels) {
        if (sentinelServer->isRunning() && !sentinelServer->isPaused())
            return *sentinelServer;
    }
    return *m_sentinels.front();
}

quint16 RedisSentinelSetup::masterPort() const
{
    const Reply reply = command(liveSentinel(),
        { "SENTINEL", "GET-MASTER-ADDR-BY-NAME", m_masterName.toUtf8() }, kPollTimeoutMs);
    if (reply.type != Reply::Type::Array || reply.elements.size() != 2)
        return 0;
    return replyPort(reply.elements.at(1));
}

bool RedisSentinelSetup::failover(int timeoutMs)
{
    m_error.clear();
    const QDeadlineTimer deadline(timeoutMs);
    const int oldIndex = indexOfPort(masterPort());
    if (oldIndex < 0) {
        fail(QStringLiteral("failover: no sentinel reports either server as master"));
        return false;
    }
    RedisServer &promoted = *m_servers[1 - oldIndex];

    // -NOGOODSLAVE: the sentinel has not seen the replica fit yet; -INPROG: an earlier failover
    // is still finishing. Both pass.
    for (;;) {
        const Reply reply = command(
            liveSentinel(), { "SENTINEL", "FAILOVER", m_masterName.toUtf8() }, kPollTimeoutMs);
        if (reply.isOk())
            break;
        const bool transient = reply.type == Reply::Type::Error
            && (reply.text.startsWith("NOGOODSLAVE") || reply.text.startsWith("INPROG"));
        if (!transient || deadline.hasExpired()) {
            fail(QStringLiteral("SENTINEL FAILOVER %1 failed: %2")
                     .arg(m_masterName, reply.toString()));
            return false;
        }
        QThread::msleep(kPollIntervalMs);
    }

    QString why;
    const bool switched = pollUntil(
        deadline,
        [&](QString *reason) {
            if (!sentinelsAgreeOnMaster(promoted.port(), reason))
                return false;
            const Reply role = command(promoted, { "ROLE" }, kPollTimeoutMs);
            if (role.type == Reply::Type::Array && !role.elements.isEmpty()
                && role.elements.at(0).text == "master")
                return true;
            *reason
                = QStringLiteral("the promoted server answers ROLE with %1").arg(role.toString());
            return false;
        },
        &why);
    if (!switched) {
        fail(QStringLiteral("failover to port %1 did not complete within %2 ms: %3")
                 .arg(promoted.port())
                 .arg(timeoutMs)
                 .arg(why));
        return false;
    }
    m_masterIndex = 1 - oldIndex;
    return true;
}

bool RedisSentinelSetup::waitForMaster(quint16 port, int timeoutMs)
{
    m_error.clear();
    QString why;
    if (!pollUntil(
            QDeadlineTimer(timeoutMs),
            [&](QString *reason) { return sentinelsAgreeOnMaster(port, reason); }, &why)) {
        fail(QStringLiteral("the sentinels did not report port %1 as master within %2 ms: %3")
                 .arg(port)
                 .arg(timeoutMs)
                 .arg(why));
        return false;
    }
    const int index = indexOfPort(port);
    if (index >= 0)
        m_masterIndex = index;
    return true;
}

bool RedisSentinelSetup::waitForReplicaInSync(int timeoutMs)
{
    m_error.clear();
    const quint16 port = masterPort();
    const int masterIndex = indexOfPort(port);
    if (masterIndex < 0) {
        fail(QStringLiteral("sentinel 0 does not report either server as master"));
        return false;
    }
    m_masterIndex = masterIndex;
    RedisServer &server = *m_servers[1 - masterIndex];
    if (!server.isRunning()) {
        fail(QStringLiteral("the replica (port %1) is not running").arg(server.port()));
        return false;
    }

    QString why;
    bool converted = false;
    const bool inSync = pollUntil(
        QDeadlineTimer(timeoutMs),
        [&](QString *reason) {
            // An old master that still thinks it is one: do what the sentinels would do some
            // 10 s later (+convert-to-slave: REPLICAOF, then disconnect its clients).
            const Reply role = command(server, { "ROLE" }, kPollTimeoutMs);
            if (!converted && role.type == Reply::Type::Array && !role.elements.isEmpty()
                && (role.elements.at(0).text == "master"
                    || (role.elements.at(0).text == "slave" && role.elements.size() > 2
                        && replyPort(role.elements.at(2)) != port))) {
                converted = true;
                command(
                    server, { "REPLICAOF", "127.0.0.1", QByteArray::number(port) }, kPollTimeoutMs);
                command(server, { "CLIENT", "KILL", "TYPE", "normal" }, kPollTimeoutMs);
                command(server, { "CLIENT", "KILL", "TYPE", "pubsub" }, kPollTimeoutMs);
            }
            return replicaInSync(server, port, reason)
                && sentinelsKnowReplica(server.port(), reason);
        },
        &why);
    if (!inSync) {
        fail(QStringLiteral("the replica (port %1) did not get in sync with the master (port %2) "
                            "within %3 ms: %4")
                 .arg(server.port())
                 .arg(port)
                 .arg(timeoutMs)
                 .arg(why));
        return false;
    }
    return true;
}

int RedisSentinelSetup::indexOfPort(quint16 port) const
{
    if (port == 0)
        return -1;
    for (int i = 0; i < 2; ++i) {
        if (m_servers[i]->port() == port)
            return i;
    }
    return -1;
}

bool RedisSentinelSetup::sentinelsAgreeOnMaster(quint16 port, QString *why) const
{
    for (int i = 0; i < m_sentinelCount; ++i) {
        if (m_sentinels[size_t(i)]->isPaused())
            continue; // hung on purpose: it answers nothing
        const Reply reply = command(*m_sentinels[size_t(i)],
            { "SENTINEL", "GET-MASTER-ADDR-BY-NAME", m_masterName.toUtf8() }, kPollTimeoutMs);
        if (reply.type != Reply::Type::Array || reply.elements.size() != 2
            || replyPort(reply.elements.at(1)) != port) {
            *why = QStringLiteral("sentinel %1 reports the master at %2, not at port %3")
                       .arg(i)
                       .arg(reply.toString())
                       .arg(port);
            return false;
        }
    }
    return true;
}

bool RedisSentinelSetup::sentinelsKnowReplica(quint16 port, QString *why) const
{
    const QByteArray portText = QByteArray::number(port);
    for (int i = 0; i < m_sentinelCount; ++i) {
        if (m_sentinels[size_t(i)]->isPaused())
            continue; // hung on purpose: it answers nothing
        const Reply reply = command(*m_sentinels[size_t(i)],
            { "SENTINEL", "REPLICAS", m_masterName.toUtf8() }, kPollTimeoutMs);
        if (reply.type != Reply::Type::Array) {
            *why = QStringLiteral("sentinel %1 answers SENTINEL REPLICAS with %2")
                       .arg(i)
                       .arg(reply.toString());
            return false;
        }
        const auto entry = std::find_if(reply.elements.cbegin(), reply.elements.cend(),
            [&](const Reply &replicaInfo) { return mapValue(replicaInfo, "port") == portText; });
        if (entry == reply.elements.cend()) {
            *why
                = QStringLiteral("sentinel %1 does not list port %2 as a replica").arg(i).arg(port);
            return false;
        }
        const QByteArrayList flags = mapValue(*entry, "flags").split(',');
        bool infoAgeOk = false;
        const qint64 infoAge = mapValue(*entry, "info-refresh").toLongLong(&infoAgeOk);
        if (flags.contains("s_down") || flags.contains("o_down") || flags.contains("disconnected")
            || !infoAgeOk || infoAge > kMaxInfoAgeMs) {
            *why = QStringLiteral("sentinel %1 lists the replica on port %2 with flags %3 and "
                                  "info-refresh %4")
                       .arg(i)
                       .arg(port)
                       .arg(QString::fromUtf8(mapValue(*entry, "flags")),
                           QString::fromUtf8(mapValue(*entry, "info-refresh")));
            return false;
        }
    }
    return true;
}

bool RedisSentinelSetup::replicaInSync(
    const RedisServer &server, quint16 masterPort, QString *why) const
{
    const Reply info = command(server, { "INFO", "replication" }, kPollTimeoutMs);
    if (info.type != Reply::Type::Bulk) {
        *why = QStringLiteral("INFO replication on port %1: %2")
                   .arg(server.port())
                   .arg(info.toString());
        return false;
    }
    const QByteArray role = infoField(info, "role");
    const QByteArray port = infoField(info, "master_port");
    const QByteArray link = infoField(info, "master_link_status");
    if (role == "slave" && port.toUInt() == masterPort && link == "up")
        return true;
    *why = QStringLiteral("port %1 has role:%2, master_port:%3, master_link_status:%4")
               .arg(server.port())
               .arg(QString::fromUtf8(role), QString::fromUtf8(port), QString::fromUtf8(link));
    return false;
}

void RedisSentinelSetup::fail(const QString &what)
{
    m_error = QStringLiteral("RedisSentinelSetup: ") + what;
    for (int i = 0; i < 2; ++i) {
        m_error += logTail(*m_servers[i],
            i == m_masterIndex ? QStringLiteral("the master") : QStringLiteral("the replica"));
    }
    for (int i = 0; i < m_sentinelCount; ++i)
        m_error += logTail(*m_sentinels[size_t(i)], QStringLiteral("sentinel %1").arg(i));
}

// ---------------------------------------------------------------------------------------------
// RedisClusterSetup

RedisClusterSetup::RedisClusterSetup(int masters, bool withReplicas)
    : m_size(qMax(masters, 1) * (withReplicas ? 2 : 1))
    , m_masters(qMax(masters, 1))
{
    const QStringList args { QStringLiteral("--cluster-enabled"), QStringLiteral("yes"),
        QStringLiteral("--cluster-config-file"), QStringLiteral("nodes.conf"),
        QStringLiteral("--cluster-node-timeout"),
        withReplicas ? QStringLiteral("500") : QStringLiteral("1000"),
        QStringLiteral("--cluster-require-full-coverage"), QStringLiteral("no") };
    for (int i = 0; i < m_size; ++i) {
        m_nodes.push_back(std::make_unique<RedisServer>(RedisServer::Transport::Tcp, args));
        m_nodes.back()->setReserveClusterBusPort(true);
    }
}

RedisClusterSetup::~RedisClusterSetup() { m_nodes.clear(); }

bool RedisClusterSetup::start()
{
    if (m_started)
        return true;
    m_error.clear();
    if (m_masters < 3) {
        m_error = QStringLiteral("RedisClusterSetup: redis-cli --cluster create needs at least 3 "
                                 "masters, not %1")
                      .arg(m_masters);
        return false;
    }
    const QString cli = QStandardPaths::findExecutable(QStringLiteral("redis-cli"));
    if (cli.isEmpty()) {
        m_error = QStringLiteral("RedisClusterSetup: redis-cli not found on PATH; install it "
                                 "(scripts/install-deps.sh, Debian package redis-tools)");
        return false;
    }

    QStringList args { QStringLiteral("--cluster"), QStringLiteral("create") };
    for (int i = 0; i < m_size; ++i) {
        RedisServer &server = *m_nodes[size_t(i)];
        if (!server.start()) {
            m_error = QStringLiteral("RedisClusterSetup: cannot start node %1: %2")
                          .arg(i)
                          .arg(server.errorString());
            return false;
        }
        if (i < m_masters)
            args << QStringLiteral("127.0.0.1:%1").arg(server.port());
    }
    args << QStringLiteral("--cluster-replicas") << QStringLiteral("0")
         << QStringLiteral("--cluster-yes");

    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.setStandardInputFile(QProcess::nullDevice());
    process.start(cli, args);
    const bool finished = process.waitForFinished(kClusterCreateTimeoutMs);
    if (!finished) {
        process.kill();
        process.waitForFinished(kCommandTimeoutMs);
    }
    const QByteArray output = process.readAll().trimmed();
    if (!finished || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        fail(QStringLiteral("redis-cli %1 %2 (exit code %3):\n%4")
                 .arg(args.join(QLatin1Char(' ')),
                     finished ? QStringLiteral("failed")
                              : QStringLiteral("did not finish within %1 ms")
                                    .arg(kClusterCreateTimeoutMs))
                 .arg(process.exitCode())
                 .arg(QString::fromLocal8Bit(output.right(2000))));
        return false;
    }
    if (!addReplicas() || !waitUntilHealthy(kStartTimeoutMs))
        return false;
    m_started = true;
    return true;
}

bool RedisClusterSetup::addReplicas()
{
    for (int i = m_masters; i < m_size; ++i) {
        RedisServer &replica = *m_nodes[size_t(i)];
        const int master = i - m_masters;
        const QByteArray masterId = nodeId(master);
        const Reply meet = command(replica,
            { "CLUSTER", "MEET", "127.0.0.1",
                QByteArray::number(m_nodes[size_t(master)]->port()) });
        if (masterId.isEmpty() || !meet.isOk()) {
            fail(QStringLiteral("node %1 cannot meet node %2 (id '%3'): %4")
                     .arg(i)
                     .arg(master)
                     .arg(QString::fromUtf8(masterId), meet.toString()),
                i);
            return false;
        }
        // -ERR Unknown node until the handshake has told the replica about its master.
        QString why;
        const bool replicating = pollUntil(
            QDeadlineTimer(kStartTimeoutMs),
            [&](QString *reason) {
                const Reply reply
                    = command(replica, { "CLUSTER", "REPLICATE", masterId }, kPollTimeoutMs);
                *reason = reply.toString();
                return reply.isOk();
            },
            &why);
        if (!replicating) {
            fail(QStringLiteral("CLUSTER REPLICATE %1 on node %2: %3")
                     .arg(QString::fromUtf8(masterId))
                     .arg(i)
                     .arg(why),
                i);
            return false;
        }
    }
    return true;
}

QString RedisClusterSetup::errorString() const { return m_error; }

QUrl RedisClusterSetup::url() const
{
    if (m_nodes.front()->port() == 0)
        return {};
    QString text = QStringLiteral("redis+cluster://127.0.0.1:%1").arg(m_nodes.front()->port());
    for (size_t i = 1; i < m_nodes.size(); ++i) {
        text += (i == 1 ? QStringLiteral("?") : QStringLiteral("&"))
            + QStringLiteral("node=127.0.0.1:%1").arg(m_nodes[i]->port());
    }
    return QUrl(text, QUrl::StrictMode);
}

int RedisClusterSetup::size() const { return m_size; }

int RedisClusterSetup::masterCount() const { return m_masters; }

RedisServer &RedisClusterSetup::node(int i)
{
    Q_ASSERT_X(i >= 0 && i < m_size, "RedisClusterSetup::node", "out of range");
    return *m_nodes[size_t(i)];
}

int RedisClusterSetup::nodeForSlot(int slot) const
{
    for (const auto &server : m_nodes) {
        if (!server->isRunning())
            continue;
        const Reply reply = command(*server, { "CLUSTER", "SLOTS" }, kPollTimeoutMs);
        if (reply.type != Reply::Type::Array)
            continue;
        for (const Reply &range : reply.elements) {
            if (range.elements.size() < 3 || range.elements.at(2).elements.size() < 2)
                continue;
            if (slot >= range.elements.at(0).integer && slot <= range.elements.at(1).integer)
                return indexOfPort(quint16(range.elements.at(2).elements.at(1).integer));
        }
        return -1;
    }
    return -1;
}

int RedisClusterSetup::slotOf(const QByteArray &key)
{
    QByteArray hashed = key;
    const qsizetype open = key.indexOf('{');
    if (open >= 0) {
        const qsizetype close = key.indexOf('}', open + 1);
        if (close > open + 1)
            hashed = key.mid(open + 1, close - open - 1);
    }
    // CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection, no final xor.
    quint16 crc = 0;
    for (const char byte : std::as_const(hashed)) {
        crc ^= quint16(quint8(byte)) << 8;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000) ? quint16((crc << 1) ^ 0x1021) : quint16(crc << 1);
    }
    return crc & (kSlots - 1);
}

QByteArray RedisClusterSetup::nodeId(int i) const
{
    if (i < 0 || i >= m_size)
        return {};
    const Reply reply = command(*m_nodes[size_t(i)], { "CLUSTER", "MYID" });
    return reply.type == Reply::Type::Bulk ? reply.text : QByteArray();
}

int RedisClusterSetup::replicaOf(int master) const
{
    if (master < 0 || master >= m_size)
        return -1;
    const quint16 masterPort = m_nodes[size_t(master)]->port();
    for (int i = 0; i < m_size; ++i) {
        const RedisServer &server = *m_nodes[size_t(i)];
        if (i == master || !server.isRunning())
            continue;
        // ["slave", host, port, state, offset] on a replica.
        const Reply role = command(server, { "ROLE" }, kPollTimeoutMs);
        if (role.elements.size() >= 3 && role.elements.at(0).text == "slave"
            && replyPort(role.elements.at(2)) == masterPort)
            return i;
    }
    return -1;
}

bool RedisClusterSetup::waitForReplication(int master, int timeoutMs)
{
    m_error.clear();
    const int replica = replicaOf(master);
    const Reply info = command(*m_nodes[size_t(master)], { "INFO", "replication" });
    bool ok = false;
    const qint64 written = infoField(info, "master_repl_offset").toLongLong(&ok);
    if (replica < 0 || !ok) {
        fail(QStringLiteral("waitForReplication(%1): no replica (%2) or no offset (%3)")
                 .arg(master)
                 .arg(replica)
                 .arg(info.toString()),
            master);
        return false;
    }
    QString why;
    const bool caughtUp = pollUntil(
        QDeadlineTimer(timeoutMs),
        [&](QString *reason) {
            const Reply replicaInfo
                = command(*m_nodes[size_t(replica)], { "INFO", "replication" }, kPollTimeoutMs);
            const qint64 processed = infoField(replicaInfo, "slave_repl_offset").toLongLong();
            *reason = QStringLiteral("node %1 is at offset %2 of %3")
                          .arg(replica)
                          .arg(processed)
                          .arg(written);
            return processed >= written;
        },
        &why);
    if (!caughtUp) {
        fail(
            QStringLiteral("the replica did not catch up within %1 ms: %2").arg(timeoutMs).arg(why),
            replica);
        return false;
    }
    return true;
}

int RedisClusterSetup::killMaster(int master, int timeoutMs)
{
    m_error.clear();
    const QDeadlineTimer deadline(timeoutMs);
    const int replica = replicaOf(master);
    if (replica < 0) {
        fail(QStringLiteral("killMaster(%1): no running replica of node %1").arg(master));
        return -1;
    }
    const QList<int> slots = slotsOf(master);
    m_nodes[size_t(master)]->kill();
    QString why;
    const bool promoted = pollUntil(
        deadline,
        [&](QString *reason) {
            const Reply role = command(*m_nodes[size_t(replica)], { "ROLE" }, kPollTimeoutMs);
            if (role.elements.value(0).text != "master") {
                *reason = QStringLiteral("node %1 answers ROLE with %2")
                              .arg(replica)
                              .arg(role.toString());
                return false;
            }
            for (const auto &server : m_nodes) {
                if (!server->isRunning())
                    continue;
                const QByteArray state = infoField(
                    command(*server, { "CLUSTER", "INFO" }, kPollTimeoutMs), "cluster_state");
                if (state != "ok") {
                    *reason = QStringLiteral("port %1 reports cluster_state:%2")
                                  .arg(server->port())
                                  .arg(QString::fromUtf8(state));
                    return false;
                }
            }
            return slots.isEmpty()
                || (servesSlot(replica, slots.constFirst(), reason)
                    && servesSlot(replica, slots.constLast(), reason));
        },
        &why);
    if (!promoted) {
        fail(QStringLiteral("the replica (node %1) of the killed node %2 was not promoted within "
                            "%3 ms: %4")
                 .arg(replica)
                 .arg(master)
                 .arg(timeoutMs)
                 .arg(why),
            replica);
        return -1;
    }
    return replica;
}

QList<int> RedisClusterSetup::slotsOf(int i) const
{
    const quint16 port = m_nodes[size_t(i)]->port();
    QList<int> result;
    for (const auto &server : m_nodes) {
        if (!server->isRunning())
            continue;
        const Reply reply = command(*server, { "CLUSTER", "SLOTS" }, kPollTimeoutMs);
        if (reply.type != Reply::Type::Array)
            continue;
        for (const Reply &range : reply.elements) {
            if (range.elements.size() >= 3 && range.elements.at(2).elements.size() >= 2
                && range.elements.at(2).elements.at(1).integer == port) {
                for (qint64 slot = range.elements.at(0).integer;
                     slot <= range.elements.at(1).integer; ++slot)
                    result << int(slot);
            }
        }
        break;
    }
    return result;
}

bool RedisClusterSetup::servesSlot(int i, int slot, QString *why) const
{
    for (const auto &server : m_nodes) {
        if (!server->isRunning())
            continue;
        const Reply reply = command(*server, { "CLUSTER", "SLOTS" }, kPollTimeoutMs);
        const auto range
            = std::find_if(reply.elements.cbegin(), reply.elements.cend(), [slot](const Reply &r) {
                  return r.elements.size() >= 3 && r.elements.at(2).elements.size() >= 2
                      && slot >= r.elements.at(0).integer && slot <= r.elements.at(1).integer;
              });
        if (range == reply.elements.cend()
            || range->elements.at(2).elements.at(1).integer != m_nodes[size_t(i)]->port()) {
            *why = QStringLiteral("port %1 does not map slot %2 to node %3")
                       .arg(server->port())
                       .arg(slot)
                       .arg(i);
            return false;
        }
    }
    const Reply reply = command(*m_nodes[size_t(i)], { "EXISTS", keyInSlot(slot) }, kPollTimeoutMs);
    if (reply.type == Reply::Type::Integer)
        return true;
    *why = QStringLiteral("node %1 answers EXISTS on slot %2 with %3")
               .arg(i)
               .arg(slot)
               .arg(reply.toString());
    return false;
}

bool RedisClusterSetup::beginSlotMigration(int slot, int to)
{
    m_error.clear();
    if (slot < 0 || slot >= kSlots || to < 0 || to >= m_size) {
        m_error = QStringLiteral("RedisClusterSetup: beginSlotMigration(%1, %2): no such slot or "
                                 "node")
                      .arg(slot)
                      .arg(to);
        return false;
    }
    if (m_migration.slot >= 0) {
        m_error = QStringLiteral("RedisClusterSetup: slot %1 is being migrated already; call "
                                 "finishSlotMigration(%1) first")
                      .arg(m_migration.slot);
        return false;
    }
    const int from = nodeForSlot(slot);
    if (from < 0) {
        fail(QStringLiteral("no node serves slot %1").arg(slot));
        return false;
    }
    if (from == to) {
        m_error
            = QStringLiteral("RedisClusterSetup: node %1 serves slot %2 already").arg(to).arg(slot);
        return false;
    }
    const QByteArray fromId = nodeId(from);
    const QByteArray toId = nodeId(to);
    for (const int i : { from, to }) {
        if ((i == from ? fromId : toId).isEmpty()) {
            fail(QStringLiteral("node %1 does not answer CLUSTER MYID (%2)")
                     .arg(i)
                     .arg(m_nodes[size_t(i)]->isRunning() ? QStringLiteral("running")
                                                          : QStringLiteral("not running")),
                i);
            return false;
        }
    }
    const Reply importing = command(
        *m_nodes[size_t(to)], { "CLUSTER", "SETSLOT", number(slot), "IMPORTING", fromId });
    if (!importing.isOk()) {
        fail(QStringLiteral("CLUSTER SETSLOT %1 IMPORTING on node %2: %3")
                 .arg(slot)
                 .arg(to)
                 .arg(importing.toString()),
            to);
        return false;
    }
    const Reply migrating = command(
        *m_nodes[size_t(from)], { "CLUSTER", "SETSLOT", number(slot), "MIGRATING", toId });
    if (!migrating.isOk()) {
        command(*m_nodes[size_t(to)], { "CLUSTER", "SETSLOT", number(slot), "STABLE" });
        fail(QStringLiteral("CLUSTER SETSLOT %1 MIGRATING on node %2: %3")
                 .arg(slot)
                 .arg(from)
                 .arg(migrating.toString()),
            from);
        return false;
    }
    m_migration = Migration { slot, from, to };
    return true;
}

bool RedisClusterSetup::finishSlotMigration(int slot)
{
    m_error.clear();
    if (slot < 0 || m_migration.slot != slot) {
        m_error = QStringLiteral("RedisClusterSetup: finishSlotMigration(%1) without "
                                 "beginSlotMigration(%1)")
                      .arg(slot);
        return false;
    }
    const QDeadlineTimer deadline(kStartTimeoutMs);
    RedisServer &source = *m_nodes[size_t(m_migration.from)];
    RedisServer &target = *m_nodes[size_t(m_migration.to)];
    for (;;) {
        const Reply keys
            = command(source, { "CLUSTER", "GETKEYSINSLOT", number(slot), number(kMigrateBatch) });
        if (keys.type != Reply::Type::Array) {
            fail(QStringLiteral("CLUSTER GETKEYSINSLOT %1 on node %2: %3")
                     .arg(slot)
                     .arg(m_migration.from)
                     .arg(keys.toString()),
                m_migration.from);
            return false;
        }
        if (keys.elements.isEmpty())
            break;
        QByteArrayList migrate { "MIGRATE", "127.0.0.1", QByteArray::number(target.port()),
            QByteArray(), "0", number(kCommandTimeoutMs), "REPLACE", "KEYS" };
        for (const Reply &key : keys.elements)
            migrate << key.text;
        const Reply moved = command(source, migrate, 2 * kCommandTimeoutMs);
        if (!moved.isOk() && !(moved.type == Reply::Type::Status && moved.text == "NOKEY")) {
            fail(QStringLiteral("MIGRATE of %1 keys of slot %2 from node %3 to node %4: %5")
                     .arg(keys.elements.size())
                     .arg(slot)
                     .arg(m_migration.from)
                     .arg(m_migration.to)
                     .arg(moved.toString()),
                m_migration.from);
            return false;
        }
        if (deadline.hasExpired()) {
            fail(QStringLiteral("moving the keys of slot %1 took longer than %2 ms")
                     .arg(slot)
                     .arg(kStartTimeoutMs));
            return false;
        }
    }

    const QByteArray targetId = nodeId(m_migration.to);
    QList<int> order { m_migration.to, m_migration.from };
    for (int i = 0; i < m_size; ++i) {
        if (!order.contains(i))
            order << i;
    }
    for (const int i : std::as_const(order)) {
        const Reply reply = command(
            *m_nodes[size_t(i)], { "CLUSTER", "SETSLOT", number(slot), "NODE", targetId });
        if (!reply.isOk()) {
            fail(QStringLiteral("CLUSTER SETSLOT %1 NODE %2 on node %3: %4")
                     .arg(slot)
                     .arg(QString::fromUtf8(targetId))
                     .arg(i)
                     .arg(reply.toString()),
                i);
            return false;
        }
    }
    const int to = m_migration.to;
    m_migration = Migration {};
    return waitUntilHealthy(int(qMax<qint64>(deadline.remainingTime(), 1)), [&](QString *why) {
        const int owner = nodeForSlot(slot);
        if (owner == to)
            return true;
        *why = QStringLiteral("slot %1 is served by node %2, not node %3")
                   .arg(slot)
                   .arg(owner)
                   .arg(to);
        return false;
    });
}

bool RedisClusterSetup::restartNode(int i, int timeoutMs)
{
    m_error.clear();
    if (i < 0 || i >= m_size) {
        m_error = QStringLiteral("RedisClusterSetup: restartNode(%1): no such node").arg(i);
        return false;
    }
    const QDeadlineTimer deadline(timeoutMs);
    RedisServer &server = *m_nodes[size_t(i)];

    // The slots it serves now, from the others' point of view if it is down already.
    const QList<int> ownSlots = slotsOf(i);

    server.kill();
    if (!server.start()) {
        m_error = QStringLiteral("RedisClusterSetup: cannot restart node %1: %2")
                      .arg(i)
                      .arg(server.errorString());
        return false;
    }

    return waitUntilHealthy(int(qMax<qint64>(deadline.remainingTime(), 1)), [&](QString *why) {
        for (const int slot : { ownSlots.value(0, -1), ownSlots.value(ownSlots.size() - 1, -1) }) {
            if (slot >= 0 && !servesSlot(i, slot, why))
                return false;
        }
        return true;
    });
}

int RedisClusterSetup::indexOfPort(quint16 port) const
{
    for (int i = 0; i < m_size; ++i) {
        if (port != 0 && m_nodes[size_t(i)]->port() == port)
            return i;
    }
    return -1;
}

bool RedisClusterSetup::clusterHealthy(QString *why) const
{
    QByteArrayList referenceMap;
    for (int i = 0; i < m_size; ++i) {
        const RedisServer &server = *m_nodes[size_t(i)];
        if (!server.isRunning()) {
            *why = QStringLiteral("node %1 is not running").arg(i);
            return false;
        }
        const Reply info = command(server, { "CLUSTER", "INFO" }, kPollTimeoutMs);
        const QByteArray state = infoField(info, "cluster_state");
        if (state != "ok") {
            *why = QStringLiteral("node %1 reports cluster_state:%2 (%3)")
                       .arg(i)
                       .arg(QString::fromUtf8(state), info.isError() ? info.toString() : QString());
            return false;
        }

        // Every node known, connected and not failing; no slot half-migrated unless we did it.
        const Reply nodes = command(server, { "CLUSTER", "NODES" }, kPollTimeoutMs);
        const QByteArrayList lines = nodes.text.trimmed().split('\n');
        if (nodes.type != Reply::Type::Bulk || lines.size() != m_size) {
            *why = QStringLiteral("node %1 knows %2 nodes, not %3: %4")
                       .arg(i)
                       .arg(lines.size())
                       .arg(m_size)
                       .arg(nodes.toString());
            return false;
        }
        int masters = 0;
        for (const QByteArray &line : lines) {
            const QByteArrayList fields = line.split(' ');
            const QByteArrayList flags = fields.value(2).split(',');
            masters += flags.contains("master") ? 1 : 0;
            const bool unhealthy = fields.size() < 8 || flags.contains("fail")
                || flags.contains("fail?") || flags.contains("handshake")
                || flags.contains("noaddr")
                || !(flags.contains("master") || flags.contains("slave"))
                || fields.value(7) != "connected";
            const bool migrating = m_migration.slot < 0 && line.contains(" [");
            if (unhealthy || migrating) {
                *why = QStringLiteral("node %1 sees: %2").arg(i).arg(QString::fromUtf8(line));
                return false;
            }
        }
        if (masters != m_masters) {
            *why = QStringLiteral("node %1 sees %2 masters, not %3")
                       .arg(i)
                       .arg(masters)
                       .arg(m_masters);
            return false;
        }
        // A replica can be promoted only once it has its master's data.
        const Reply replication = command(server, { "INFO", "replication" }, kPollTimeoutMs);
        if (infoField(replication, "role") == "slave"
            && infoField(replication, "master_link_status") != "up") {
            *why = QStringLiteral("node %1 is a replica whose master link is %2")
                       .arg(i)
                       .arg(QString::fromUtf8(infoField(replication, "master_link_status")));
            return false;
        }

        // The same slot map everywhere, covering every slot.
        const Reply slots = command(server, { "CLUSTER", "SLOTS" }, kPollTimeoutMs);
        if (slots.type != Reply::Type::Array) {
            *why = QStringLiteral("node %1 answers CLUSTER SLOTS with %2")
                       .arg(i)
                       .arg(slots.toString());
            return false;
        }
        QByteArrayList map;
        qint64 covered = 0;
        for (const Reply &range : slots.elements) {
            if (range.elements.size() < 3 || range.elements.at(2).elements.size() < 3)
                continue;
            const Reply &owner = range.elements.at(2);
            covered += range.elements.at(1).integer - range.elements.at(0).integer + 1;
            map << QByteArray::number(range.elements.at(0).integer) + '-'
                    + QByteArray::number(range.elements.at(1).integer) + ' '
                    + QByteArray::number(owner.elements.at(1).integer) + ' '
                    + owner.elements.at(2).text;
        }
        std::sort(map.begin(), map.end());
        if (covered != kSlots) {
            *why = QStringLiteral("node %1 has %2 of %3 slots served")
                       .arg(i)
                       .arg(covered)
                       .arg(kSlots);
            return false;
        }
        if (i == 0) {
            referenceMap = map;
        } else if (map != referenceMap) {
            *why = QStringLiteral("nodes 0 and %1 disagree on the slot map: %2 / %3")
                       .arg(i)
                       .arg(QString::fromUtf8(referenceMap.join(", ")),
                           QString::fromUtf8(map.join(", ")));
            return false;
        }
    }
    return true;
}

bool RedisClusterSetup::waitUntilHealthy(int timeoutMs, const std::function<bool(QString *)> &extra)
{
    QString why;
    const bool healthy = pollUntil(
        QDeadlineTimer(timeoutMs),
        [&](QString *reason) { return clusterHealthy(reason) && (!extra || extra(reason)); }, &why);
    if (!healthy) {
        fail(QStringLiteral("the cluster did not settle within %1 ms: %2").arg(timeoutMs).arg(why));
        return false;
    }
    return true;
}

void RedisClusterSetup::fail(const QString &what, int node)
{
    m_error = QStringLiteral("RedisClusterSetup: ") + what;
    for (int i = 0; i < m_size; ++i) {
        if (node < 0 || node == i)
            m_error += logTail(*m_nodes[size_t(i)], QStringLiteral("node %1").arg(i));
    }
}

// ---------------------------------------------------------------------------------------------
// StaleSentinel

StaleSentinel::StaleSentinel() = default;

StaleSentinel::~StaleSentinel() = default;

bool StaleSentinel::listen(quint16 masterPort)
{
    m_masterPort = masterPort;
    m_server = std::make_unique<QTcpServer>();
    QObject::connect(m_server.get(), &QTcpServer::newConnection, m_server.get(), [this] {
        while (QTcpSocket *socket = m_server->nextPendingConnection()) {
            auto buffer = std::make_shared<QByteArray>();
            QObject::connect(socket, &QTcpSocket::readyRead, socket,
                [this, socket, buffer] { serve(socket, *buffer); });
            QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        }
    });
    return m_server->listen(QHostAddress::LocalHost);
}

quint16 StaleSentinel::port() const { return m_server ? m_server->serverPort() : 0; }

int StaleSentinel::answered() const { return m_answered; }

void StaleSentinel::serve(QTcpSocket *socket, QByteArray &buffer)
{
    buffer += socket->readAll();
    for (;;) {
        qsizetype pos = 0;
        Reply request;
        const Parse result = parseReply(buffer, pos, request);
        if (result == Parse::Incomplete)
            return;
        if (result == Parse::Invalid || request.type != Reply::Type::Array
            || request.elements.isEmpty()) {
            socket->abort();
            return;
        }
        buffer.remove(0, pos);
        QByteArrayList args;
        for (const Reply &element : std::as_const(request.elements))
            args.append(element.text);
        const QByteArray name = args.constFirst().toUpper();
        const auto bulk = [](const QByteArray &text) -> QByteArray {
            return '$' + number(int(text.size())) + "\r\n" + text + "\r\n";
        };
        if (name == "SENTINEL" && args.size() == 3
            && args.at(1).toUpper() == "GET-MASTER-ADDR-BY-NAME") {
            ++m_answered;
            socket->write(QByteArray("*2\r\n" + bulk("127.0.0.1") + bulk(number(m_masterPort))));
        } else if (name == "SUBSCRIBE") {
            for (int i = 1; i < args.size(); ++i)
                socket->write(
                    "*3\r\n" + bulk("subscribe") + bulk(args.at(i)) + ':' + number(i) + "\r\n");
        } else if (name == "PING") {
            socket->write("+PONG\r\n");
        } else {
            socket->write("-ERR this stand-in sentinel only knows where the master is\r\n");
        }
    }
}

} // namespace DistributedPromiseTest
