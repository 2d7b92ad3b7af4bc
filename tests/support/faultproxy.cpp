#include "faultproxy.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <vector>

namespace DistributedPromiseTest {

namespace {

constexpr int kUp = 0;
constexpr int kDown = 1;
constexpr qsizetype kSniffLimit = 64 * 1024;
constexpr int kCommandsKept = 8;

// Commands that say nothing about a connection's role: every connection may send them first.
bool isNeutral(const QByteArray &name)
{
    static const QByteArrayList neutral { "AUTH", "HELLO", "PING", "SELECT", "CLIENT", "ECHO",
        "READONLY", "QUIT" };
    return neutral.contains(name);
}

bool isSubscribe(const QByteArray &name)
{
    return name == "SUBSCRIBE" || name == "SSUBSCRIBE" || name == "PSUBSCRIBE";
}

// Reads "<prefix><number>\r\n" at pos; -2: incomplete, -1: malformed.
qint64 readHeader(const QByteArray &buffer, qsizetype &pos, char prefix)
{
    if (pos >= buffer.size())
        return -2;
    if (buffer.at(pos) != prefix)
        return -1;
    const qsizetype end = buffer.indexOf("\r\n", pos);
    if (end < 0)
        return buffer.size() - pos > 32 ? -1 : -2;
    bool ok = false;
    const qint64 value = buffer.mid(pos + 1, end - pos - 1).toLongLong(&ok);
    pos = end + 2;
    return ok && value >= 0 ? value : -1;
}

enum class Parse { Complete, Incomplete, Malformed };

// The command at pos: its name (upper case) as soon as the name is there, its first argument
// (if asked for), and whether the whole command is there (then pos moves past it).
Parse parseCommand(
    const QByteArray &buffer, qsizetype &pos, QByteArray *name, QByteArray *first = nullptr)
{
    qsizetype at = pos;
    if (at >= buffer.size())
        return Parse::Incomplete;
    if (buffer.at(at) != '*') { // an inline command: one line, words separated by spaces
        const qsizetype end = buffer.indexOf('\n', at);
        const QByteArray line = buffer.mid(at, end < 0 ? -1 : end - at).trimmed();
        const QByteArrayList words = line.split(' ');
        *name = words.constFirst().toUpper();
        if (first)
            *first = words.value(1);
        if (end < 0)
            return Parse::Incomplete;
        pos = end + 1;
        return Parse::Complete;
    }
    const qint64 count = readHeader(buffer, at, '*');
    if (count < 0)
        return count == -2 ? Parse::Incomplete : Parse::Malformed;
    for (qint64 i = 0; i < count; ++i) {
        const qint64 length = readHeader(buffer, at, '$');
        if (length < 0)
            return length == -2 ? Parse::Incomplete : Parse::Malformed;
        if (buffer.size() - at < length + 2)
            return Parse::Incomplete;
        if (i == 0)
            *name = buffer.mid(at, length).toUpper();
        else if (i == 1 && first)
            *first = buffer.mid(at, length);
        at += length + 2;
    }
    pos = at;
    return Parse::Complete;
}

} // namespace

bool FaultProxy::Target::parse(const QString &text, Target *target)
{
    const QString word = text.trimmed().toLower();
    if (word == QLatin1String("all")) {
        *target = all();
        return true;
    }
    if (word == QLatin1String("sub") || word == QLatin1String("subscriber")) {
        *target = subscriber();
        return true;
    }
    if (word == QLatin1String("cmd") || word == QLatin1String("commands")) {
        *target = commands();
        return true;
    }
    bool ok = false;
    const int index = (word.startsWith(QLatin1Char('#')) ? word.mid(1) : word).toInt(&ok);
    if (!ok || index < 0)
        return false;
    *target = connection(index);
    return true;
}

QString FaultProxy::Target::toString() const
{
    switch (kind) {
    case Kind::All:
        return QStringLiteral("all");
    case Kind::Role:
        return role == Role::Subscriber ? QStringLiteral("sub") : QStringLiteral("cmd");
    case Kind::Index:
        return QStringLiteral("#%1").arg(index);
    }
    return QString();
}

// Lives in the proxy's thread; every member is touched there only.
class FaultProxyEngine : public QObject
{
public:
    using Role = FaultProxy::Role;
    using Target = FaultProxy::Target;

    struct Chunk
    {
        qint64 due; // on m_clock
        QByteArray data;
    };

    struct Link
    {
        FaultProxy::ConnectionInfo info;
        QPointer<QTcpSocket> client;
        QPointer<QTcpSocket> server;
        bool serverConnected = false;
        bool sniffing = true;
        QByteArray sniff;
        QByteArray parsing; // while triggers are armed: client bytes not yet forwarded
        std::array<std::deque<Chunk>, 2> queue;
        std::array<QTimer *, 2> timer { nullptr, nullptr };
    };

    FaultProxyEngine(const QString &upstreamHost, quint16 upstreamPort)
        : m_upstreamHost(upstreamHost)
        , m_upstreamPort(upstreamPort)
        , m_listener(new QTcpServer(this))
    {
        m_clock.start();
        connect(m_listener, &QTcpServer::newConnection, this, &FaultProxyEngine::acceptAll);
    }

    bool listen(quint16 port)
    {
        if (!m_listener->listen(QHostAddress::LocalHost, port)) {
            m_error = m_listener->errorString();
            return false;
        }
        m_port = m_listener->serverPort();
        m_listening = true;
        return true;
    }

    void shutDown()
    {
        m_listener->close();
        for (auto &link : m_links)
            closeLink(*link, true);
    }

    QString m_error;
    quint16 m_port = 0;

    void setDelay(int ms, const Target &target, FaultProxy::Direction direction)
    {
        for (int d : directions(direction)) {
            auto &rules = m_delays[size_t(d)];
            rules.erase(std::remove_if(rules.begin(), rules.end(),
                            [&](const auto &rule) { return rule.first == target; }),
                rules.end());
            if (ms > 0)
                rules.push_back({ target, ms });
        }
    }

    void setBlackhole(FaultProxy::Direction direction, const Target &target, bool on)
    {
        for (int d : directions(direction)) {
            auto &rules = m_blackholes[size_t(d)];
            rules.erase(std::remove(rules.begin(), rules.end(), target), rules.end());
            if (on)
                rules.push_back(target);
        }
    }

    void clearFaults()
    {
        for (auto &rules : m_delays)
            rules.clear();
        for (auto &rules : m_blackholes)
            rules.clear();
        m_triggers.clear();
    }

    void addTrigger(const FaultProxy::Trigger &trigger) { m_triggers.push_back(trigger); }
    int firedTriggers() const { return m_fired; }

    int cut(const Target &target)
    {
        int count = 0;
        for (auto &link : m_links) {
            if (link->info.open && matches(*link, target)) {
                closeLink(*link, true);
                ++count;
            }
        }
        return count;
    }

    void setRefuseNew(bool refuse)
    {
        if (refuse == !m_listening)
            return;
        if (refuse) {
            m_listener->close();
            m_listening = false;
            return;
        }
        m_listening = m_listener->listen(QHostAddress::LocalHost, m_port);
        if (!m_listening)
            qWarning("FaultProxy: cannot listen on port %d again: %s", m_port,
                qPrintable(m_listener->errorString()));
    }

    void setPaused(bool paused)
    {
        m_paused = paused;
        if (paused)
            return;
        for (auto &link : m_links) {
            for (int d : { kUp, kDown }) {
                flush(*link, d);
                read(*link, d);
            }
        }
    }

    QList<FaultProxy::ConnectionInfo> connections() const
    {
        QList<FaultProxy::ConnectionInfo> list;
        for (const auto &link : m_links)
            list.append(link->info);
        return list;
    }

    int openCount(const Target &target) const
    {
        return int(std::count_if(m_links.cbegin(), m_links.cend(),
            [&](const auto &link) { return link->info.open && matches(*link, target); }));
    }

    int acceptedCount() const { return int(m_links.size()); }

private:
    static std::vector<int> directions(FaultProxy::Direction direction)
    {
        switch (direction) {
        case FaultProxy::Direction::Up:
            return { kUp };
        case FaultProxy::Direction::Down:
            return { kDown };
        case FaultProxy::Direction::Both:
            break;
        }
        return { kUp, kDown };
    }

    static bool matches(const Link &link, const Target &target)
    {
        switch (target.kind) {
        case Target::Kind::All:
            return true;
        case Target::Kind::Role:
            return link.info.role == target.role;
        case Target::Kind::Index:
            return link.info.index == target.index;
        }
        return false;
    }

    bool blackholed(const Link &link, int d) const
    {
        const auto &rules = m_blackholes[size_t(d)];
        return std::any_of(
            rules.cbegin(), rules.cend(), [&](const Target &t) { return matches(link, t); });
    }

    int delayOf(const Link &link, int d) const
    {
        int ms = 0;
        for (const auto &[target, delay] : m_delays[size_t(d)]) {
            if (matches(link, target))
                ms = std::max(ms, delay);
        }
        return ms;
    }

    void acceptAll()
    {
        while (QTcpSocket *client = m_listener->nextPendingConnection()) {
            auto link = std::make_unique<Link>();
            Link *l = link.get();
            l->info.index = int(m_links.size());
            l->info.open = true;
            l->client = client;
            l->server = new QTcpSocket(this);
            client->setParent(this);
            for (int d : { kUp, kDown }) {
                l->timer[size_t(d)] = new QTimer(this);
                l->timer[size_t(d)]->setSingleShot(true);
                l->timer[size_t(d)]->setTimerType(Qt::PreciseTimer);
                connect(
                    l->timer[size_t(d)], &QTimer::timeout, this, [this, l, d] { flush(*l, d); });
            }
            connect(client, &QTcpSocket::readyRead, this, [this, l] { read(*l, kUp); });
            connect(client, &QTcpSocket::disconnected, this, [this, l] { closeLink(*l, false); });
            connect(l->server.data(), &QTcpSocket::connected, this, [this, l] {
                l->serverConnected = true;
                read(*l, kUp); // what the client sent meanwhile
            });
            connect(l->server.data(), &QTcpSocket::readyRead, this, [this, l] { read(*l, kDown); });
            connect(l->server.data(), &QTcpSocket::disconnected, this,
                [this, l] { closeLink(*l, false); });
            connect(l->server.data(), &QTcpSocket::errorOccurred, this,
                [this, l](QAbstractSocket::SocketError) {
                    if (!l->serverConnected)
                        closeLink(*l, true); // upstream refused: the client sees a close
                });
            m_links.push_back(std::move(link));
            l->server->connectToHost(m_upstreamHost, m_upstreamPort);
        }
    }

    void read(Link &link, int d)
    {
        if (m_paused || !link.info.open)
            return;
        QTcpSocket *source = d == kUp ? link.client.data() : link.server.data();
        if (!source || (d == kUp && !link.serverConnected))
            return;
        const QByteArray data = source->readAll();
        if (data.isEmpty())
            return;
        if (d == kUp && link.sniffing)
            classify(link, data);
        if (d == kUp && (!m_triggers.empty() || !link.parsing.isEmpty()))
            forwardWatched(link, data);
        else
            forward(link, d, data);
    }

    // Forwards whole commands, firing the first armed trigger that matches each one.
    void forwardWatched(Link &link, const QByteArray &data)
    {
        link.parsing.append(data);
        qsizetype done = 0; // forwarded up to here
        for (;;) {
            qsizetype end = done;
            QByteArray name;
            QByteArray first;
            const Parse parse = parseCommand(link.parsing, end, &name, &first);
            if (parse == Parse::Malformed) {
                end = link.parsing.size(); // not RESP: forward it as it is
            } else if (parse == Parse::Incomplete) {
                break;
            }
            const auto trigger = std::find_if(
                m_triggers.begin(), m_triggers.end(), [&](const FaultProxy::Trigger &t) {
                    return parse == Parse::Complete && name == t.command.toUpper()
                        && first.startsWith(t.argumentPrefix) && matches(link, t.target);
                });
            if (trigger == m_triggers.end()) {
                done = end;
                if (parse == Parse::Malformed)
                    break;
                continue;
            }
            const FaultProxy::Trigger fired = *trigger;
            m_triggers.erase(trigger);
            ++m_fired;
            const Target self = Target::connection(link.info.index);
            switch (fired.action) {
            case FaultProxy::Trigger::Action::Cut:
                forward(link, kUp, link.parsing.left(done)); // what came before goes through
                link.parsing.clear();
                closeLink(link, false);
                return;
            case FaultProxy::Trigger::Action::DropReplies:
                setBlackhole(FaultProxy::Direction::Down, self, true);
                break;
            case FaultProxy::Trigger::Action::DelayReplies:
                setDelay(fired.ms, self, FaultProxy::Direction::Down);
                break;
            }
            done = end;
        }
        forward(link, kUp, link.parsing.left(done));
        link.parsing.remove(0, done);
    }

    void forward(Link &link, int d, const QByteArray &data)
    {
        if (data.isEmpty() || !link.info.open)
            return;
        if (blackholed(link, d)) {
            (d == kUp ? link.info.droppedUp : link.info.droppedDown) += data.size();
            return;
        }
        (d == kUp ? link.info.bytesUp : link.info.bytesDown) += data.size();
        link.queue[size_t(d)].push_back({ m_clock.elapsed() + delayOf(link, d), data });
        flush(link, d);
    }

    void flush(Link &link, int d)
    {
        auto &queue = link.queue[size_t(d)];
        QTcpSocket *target = d == kUp ? link.server.data() : link.client.data();
        if (m_paused || !link.info.open || !target)
            return;
        const qint64 now = m_clock.elapsed();
        while (!queue.empty() && queue.front().due <= now) {
            target->write(queue.front().data);
            queue.pop_front();
        }
        if (!queue.empty())
            link.timer[size_t(d)]->start(int(queue.front().due - now));
    }

    void classify(Link &link, const QByteArray &data)
    {
        link.sniff.append(data);
        qsizetype pos = 0;
        while (link.sniffing) {
            QByteArray name;
            const Parse parse = parseCommand(link.sniff, pos, &name);
            if (parse == Parse::Malformed) {
                link.sniffing = false;
                break;
            }
            if (!name.isEmpty() && parse == Parse::Complete
                && link.info.commands.size() < kCommandsKept)
                link.info.commands.append(name);
            if (!name.isEmpty() && !isNeutral(name)) {
                if (parse == Parse::Incomplete && link.info.commands.size() < kCommandsKept)
                    link.info.commands.append(name);
                link.info.role = isSubscribe(name) ? Role::Subscriber : Role::Commands;
                link.sniffing = false;
                break;
            }
            if (parse == Parse::Incomplete)
                break;
        }
        link.sniff.remove(0, pos);
        if (!link.sniffing || link.sniff.size() > kSniffLimit) {
            link.sniffing = false;
            link.sniff.clear();
        }
    }

    void closeLink(Link &link, bool abort)
    {
        if (!link.info.open)
            return;
        link.info.open = false;
        link.sniff.clear();
        link.parsing.clear();
        for (int d : { kUp, kDown }) {
            link.queue[size_t(d)].clear();
            link.timer[size_t(d)]->stop();
        }
        for (QTcpSocket *socket : { link.client.data(), link.server.data() }) {
            if (!socket)
                continue;
            socket->disconnect(this);
            if (abort) {
                socket->abort();
                socket->deleteLater();
                continue;
            }
            // What was written still goes out first.
            socket->flush();
            socket->disconnectFromHost();
            if (socket->state() == QAbstractSocket::UnconnectedState)
                socket->deleteLater();
            else
                connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
        }
    }

    const QString m_upstreamHost;
    const quint16 m_upstreamPort;
    QTcpServer *m_listener;
    bool m_listening = false;
    bool m_paused = false;
    QElapsedTimer m_clock;
    std::vector<std::unique_ptr<Link>> m_links;
    std::array<std::vector<std::pair<Target, int>>, 2> m_delays;
    std::array<std::vector<Target>, 2> m_blackholes;
    std::vector<FaultProxy::Trigger> m_triggers;
    int m_fired = 0;
};

template<typename F>
auto FaultProxy::call(F &&function) const
{
    using Result = decltype(function());
    if constexpr (std::is_void_v<Result>) {
        QMetaObject::invokeMethod(
            m_engine, std::forward<F>(function), Qt::BlockingQueuedConnection);
    } else {
        Result result {};
        QMetaObject::invokeMethod(
            m_engine, std::forward<F>(function), Qt::BlockingQueuedConnection, &result);
        return result;
    }
}

FaultProxy::FaultProxy(quint16 upstreamPort, const QString &upstreamHost, QObject *parent)
    : QObject(parent)
    , m_upstreamHost(upstreamHost)
    , m_upstreamPort(upstreamPort)
{ }

FaultProxy::~FaultProxy()
{
    if (!m_thread)
        return;
    call([this] { m_engine->shutDown(); });
    connect(m_thread, &QThread::finished, m_engine, &QObject::deleteLater);
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
}

bool FaultProxy::start(quint16 port)
{
    if (m_thread)
        return call([this] { return m_engine->m_port != 0; });
    m_thread = new QThread;
    m_thread->setObjectName(QStringLiteral("FaultProxy"));
    m_engine = new FaultProxyEngine(m_upstreamHost, m_upstreamPort);
    m_engine->moveToThread(m_thread);
    m_thread->start();
    return call([this, port] { return m_engine->listen(port); });
}

QString FaultProxy::errorString() const
{
    if (!m_thread)
        return QStringLiteral("not started");
    return call([this] { return m_engine->m_error; });
}

quint16 FaultProxy::port() const
{
    return m_thread ? call([this] { return m_engine->m_port; }) : quint16(0);
}

QUrl FaultProxy::url() const { return QUrl(QStringLiteral("redis://127.0.0.1:%1").arg(port())); }

void FaultProxy::setDelay(int ms, const Target &target, Direction direction)
{
    call([=] { m_engine->setDelay(ms, target, direction); });
}

void FaultProxy::setBlackhole(Direction direction, const Target &target, bool on)
{
    call([=] { m_engine->setBlackhole(direction, target, on); });
}

void FaultProxy::clearFaults()
{
    call([this] { m_engine->clearFaults(); });
}

void FaultProxy::addTrigger(const Trigger &trigger)
{
    call([=] { m_engine->addTrigger(trigger); });
}

int FaultProxy::firedTriggers() const
{
    return call([this] { return m_engine->firedTriggers(); });
}

int FaultProxy::cut(const Target &target)
{
    return call([=] { return m_engine->cut(target); });
}

void FaultProxy::setRefuseNew(bool refuse)
{
    call([=] { m_engine->setRefuseNew(refuse); });
}

void FaultProxy::pause()
{
    call([this] { m_engine->setPaused(true); });
}

void FaultProxy::resume()
{
    call([this] { m_engine->setPaused(false); });
}

QList<FaultProxy::ConnectionInfo> FaultProxy::connections() const
{
    return call([this] { return m_engine->connections(); });
}

int FaultProxy::acceptedCount() const
{
    return call([this] { return m_engine->acceptedCount(); });
}

int FaultProxy::openCount(const Target &target) const
{
    return call([=] { return m_engine->openCount(target); });
}

namespace {

bool parseDirection(const QString &word, FaultProxy::Direction *direction)
{
    if (word == QLatin1String("up"))
        *direction = FaultProxy::Direction::Up;
    else if (word == QLatin1String("down"))
        *direction = FaultProxy::Direction::Down;
    else if (word == QLatin1String("both"))
        *direction = FaultProxy::Direction::Both;
    else
        return false;
    return true;
}

QString roleName(FaultProxy::Role role)
{
    switch (role) {
    case FaultProxy::Role::Commands:
        return QStringLiteral("cmd");
    case FaultProxy::Role::Subscriber:
        return QStringLiteral("sub");
    case FaultProxy::Role::Unknown:
        break;
    }
    return QStringLiteral("unknown");
}

} // namespace

QString FaultProxy::execute(const QString &line)
{
    const QStringList original = line.trimmed().split(QLatin1Char(' '), Qt::SkipEmptyParts);
    QStringList words;
    for (const QString &word : original)
        words.append(word.toLower());
    if (words.isEmpty())
        return QStringLiteral("error empty command");
    const QString &verb = words.constFirst();
    const auto error = [](const QString &why) { return QString(QLatin1String("error ") + why); };
    if (!m_thread)
        return error(QStringLiteral("not started"));

    // Optional trailing TARGET and DIR words, in any order.
    Target target;
    std::optional<Direction> direction;
    const auto parseOptions = [&](qsizetype from) {
        for (qsizetype i = from; i < words.size(); ++i) {
            Direction d;
            if (parseDirection(words.at(i), &d))
                direction = d;
            else if (!Target::parse(words.at(i), &target))
                return false;
        }
        return true;
    };

    if (verb == QLatin1String("delay")) {
        bool ok = false;
        const int ms = words.value(1).toInt(&ok);
        if (!ok || ms < 0 || !parseOptions(2))
            return error(QStringLiteral("usage: delay MS [TARGET] [up|down|both]"));
        setDelay(ms, target, direction.value_or(Direction::Down));
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("blackhole") || verb == QLatin1String("unblackhole")) {
        Direction d;
        if (!parseDirection(words.value(1), &d) || !parseOptions(2))
            return error(QStringLiteral("usage: %1 up|down|both [TARGET]").arg(verb));
        setBlackhole(d, target, verb == QLatin1String("blackhole"));
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("on")) {
        // on COMMAND[:PREFIX] cut|drop|delay MS [TARGET]
        const QString usage
            = QStringLiteral("usage: on COMMAND[:ARGPREFIX] cut|drop|delay MS [TARGET]");
        if (words.size() < 3)
            return error(usage);
        Trigger trigger;
        const QString spec = original.at(1);
        trigger.command = spec.section(QLatin1Char(':'), 0, 0).toUtf8().toUpper();
        trigger.argumentPrefix = spec.section(QLatin1Char(':'), 1).toUtf8();
        qsizetype next = 3;
        if (words.at(2) == QLatin1String("cut")) {
            trigger.action = Trigger::Action::Cut;
        } else if (words.at(2) == QLatin1String("drop")) {
            trigger.action = Trigger::Action::DropReplies;
        } else if (words.at(2) == QLatin1String("delay")) {
            bool ok = false;
            trigger.action = Trigger::Action::DelayReplies;
            trigger.ms = words.value(3).toInt(&ok);
            if (!ok || trigger.ms <= 0)
                return error(usage);
            next = 4;
        } else {
            return error(usage);
        }
        if (!parseOptions(next) || direction || trigger.command.isEmpty())
            return error(usage);
        trigger.target = target;
        addTrigger(trigger);
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("fired") && words.size() == 1)
        return QStringLiteral("ok %1").arg(firedTriggers());
    if (verb == QLatin1String("clear") && words.size() == 1) {
        clearFaults();
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("cut")) {
        if (!parseOptions(1) || direction)
            return error(QStringLiteral("usage: cut [TARGET]"));
        return QStringLiteral("ok %1").arg(cut(target));
    }
    if (verb == QLatin1String("refuse") && words.size() == 2
        && (words.at(1) == QLatin1String("on") || words.at(1) == QLatin1String("off"))) {
        setRefuseNew(words.at(1) == QLatin1String("on"));
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("pause") && words.size() == 1) {
        pause();
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("resume") && words.size() == 1) {
        resume();
        return QStringLiteral("ok");
    }
    if (verb == QLatin1String("port") && words.size() == 1)
        return QStringLiteral("ok %1").arg(port());
    if (verb == QLatin1String("list") && words.size() == 1) {
        const QList<ConnectionInfo> list = connections();
        QStringList lines { QStringLiteral("ok %1").arg(list.size()) };
        for (const ConnectionInfo &c : list) {
            lines.append(QStringLiteral("#%1 %2 %3 cmds=%4 up=%5 down=%6 dropped-up=%7 "
                                        "dropped-down=%8")
                             .arg(c.index)
                             .arg(roleName(c.role),
                                 c.open ? QStringLiteral("open") : QStringLiteral("closed"),
                                 QString::fromLatin1(c.commands.join(',')))
                             .arg(c.bytesUp)
                             .arg(c.bytesDown)
                             .arg(c.droppedUp)
                             .arg(c.droppedDown));
        }
        return lines.join(QLatin1Char('\n'));
    }
    return error(QStringLiteral("unknown command '%1' (delay, blackhole, unblackhole, on, fired, "
                                "clear, cut, refuse, pause, resume, list, port)")
                     .arg(line.trimmed()));
}

} // namespace DistributedPromiseTest
