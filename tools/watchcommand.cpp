// SPDX-License-Identifier: MIT
// watch [wrapKey]: prints every outcome as it is published, live (PSUBSCRIBE on the channels).

#include "inspector.h"
#include "json_p.h"
#include "redisconnection_p.h"

#include "distributedpromiseerror.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QSocketNotifier>

#include <csignal>
#include <unistd.h>

namespace DistributedPromiseInspect {

using DistributedPromiseRedis::Reply;

namespace {
constexpr quint8 psubscribeTag = 1;

// A pattern subscription on a Connection of its own: the Connection reads the replies, this
// takes the pub/sub ones (PushReader), and subscribes again on every new server connection.
class PatternWatcher final : private DistributedPromiseRedis::PushReader
{
public:
    PatternWatcher(const DistributedPromiseRedis::Endpoint &endpoint,
        const DistributedPromiseRedis::ConnectionOptions &options, QByteArray pattern,
        std::function<void(const QByteArray &, const QByteArray &)> onMessage,
        std::function<void()> onSubscribed, std::function<void(const QString &)> onError)
        : m_pattern(std::move(pattern))
        , m_onMessage(std::move(onMessage))
        , m_onSubscribed(std::move(onSubscribed))
        , m_onError(std::move(onError))
        , m_connection(endpoint, options)
    {
        m_connection.setRole(QStringLiteral("watch connection"));
        m_connection.setPushReader(this);
        QObject::connect(&m_connection, &DistributedPromiseRedis::Connection::attached,
            &m_connection, [this] { subscribe(); });
    }

    void open() { m_connection.open(); }
    DistributedPromiseRedis::Connection &connection() { return m_connection; }

private:
    void subscribe()
    {
        m_connection.sendNow(
            { QByteArrayLiteral("PSUBSCRIBE"), m_pattern },
            [this](const Reply &reply) {
                if (reply.isError())
                    m_onError(QString::fromUtf8(reply.string));
            },
            1, psubscribeTag);
    }

    bool isPush(const Reply &reply, quint8 oldestTag, bool *answers) const override
    {
        if (!reply.isArray() || reply.elements.size() < 3 || !reply.elements.at(0).isString())
            return false;
        const QByteArray &kind = reply.elements.at(0).string;
        if (kind == "psubscribe") {
            *answers = oldestTag == psubscribeTag;
            return true;
        }
        return kind == "pmessage" && reply.elements.size() == 4;
    }

    void onPush(const Reply &reply) override
    {
        if (reply.elements.at(0).string == "psubscribe")
            m_onSubscribed();
        else
            m_onMessage(reply.elements.at(2).string, reply.elements.at(3).string);
    }

    const QByteArray m_pattern;
    const std::function<void(const QByteArray &, const QByteArray &)> m_onMessage;
    const std::function<void()> m_onSubscribed;
    const std::function<void(const QString &)> m_onError;
    DistributedPromiseRedis::Connection m_connection;
};

// SIGINT and SIGTERM end the watch cleanly (exit 0): through a pipe, to the event loop.
int signalPipe[2] = { -1, -1 };
void onSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(signalPipe[1], &byte, 1);
}
} // namespace

int watchOutcomes(Inspector &inspector, const QStringList &args)
{
    if (args.size() > 1)
        throw Failure { ExitCode::Usage, QStringLiteral("usage: watch [wrapKey]") };
    const QString wrapKey = args.value(0);
    if (inspector.endpoint().topology != DistributedPromiseRedis::Endpoint::Topology::Server)
        throw Failure { ExitCode::Usage,
            QStringLiteral("watch is not supported on Redis Sentinel or Cluster yet (a Cluster "
                           "publishes on shard channels, which take no patterns); point --url "
                           "at a server") };
    inspector.connectToRedis();
    const QByteArray prefix = inspector.channelPrefix();
    const QByteArray pattern
        = Inspector::globEscape(
              prefix + (wrapKey.isEmpty() ? QByteArray() : inspector.keyAndSeparator(wrapKey)))
        + '*';

    const bool json = inspector.settings().json;
    const int limit = inspector.settings().count;
    int seen = 0;
    int exitCode = ExitCode::Success;
    const auto onMessage = [&](const QByteArray &channel, const QByteArray &payload) {
        Identity identity;
        if (!inspector.parseKey(channel, prefix, &identity, wrapKey))
            return;
        DistributedPromiseDetail::Outcome outcome;
        QString event;
        QString detail;
        const bool readable = DistributedPromiseProtocol::decodeEnvelope(payload, &outcome);
        const QString valueText = readable && outcome.ok
            ? QString::fromUtf8(DistributedPromiseProtocol::encodeValue(outcome.value))
            : QString();
        if (payload == DistributedPromiseProtocol::abandonedMessage) {
            event = QStringLiteral("abandoned");
        } else if (!readable) {
            event = QStringLiteral("unreadable");
            detail = inspector.truncated(QString::fromUtf8(payload));
        } else if (outcome.ok) {
            event = QStringLiteral("value");
            detail = inspector.truncated(valueText);
        } else {
            event = QStringLiteral("error");
            detail = QStringLiteral("%1: %2").arg(DistributedPromiseError::codeName(outcome.code),
                inspector.truncated(outcome.message));
        }
        const QString time = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
        if (json) {
            QJsonObject object { { QStringLiteral("time"), time },
                { QStringLiteral("wrapKey"), identity.wrapKey },
                { QStringLiteral("generation"), identity.generation },
                { QStringLiteral("arguments"), QString::fromUtf8(identity.arguments) },
                { QStringLiteral("event"), event } };
            if (event == QLatin1String("value")) {
                if (inspector.truncated(valueText) == valueText)
                    object.insert(QStringLiteral("value"), outcome.value);
                else
                    object.insert(QStringLiteral("valuePreview"), detail);
            } else if (event == QLatin1String("error")) {
                object.insert(
                    QStringLiteral("code"), DistributedPromiseError::codeName(outcome.code));
                object.insert(QStringLiteral("message"), outcome.message);
            }
            Inspector::printJson(object);
        } else {
            QString wrap = identity.wrapKey;
            if (identity.generation > 0)
                wrap += QStringLiteral(" (gen %1)").arg(identity.generation);
            QString line
                = QStringLiteral("%1  %2 %3  %4")
                      .arg(time, wrap, inspector.truncated(QString::fromUtf8(identity.arguments)),
                          event);
            if (!detail.isEmpty())
                line += u' ' + detail;
            Inspector::print(line);
        }
        if (limit > 0 && ++seen >= limit)
            QCoreApplication::exit(ExitCode::Success);
    };
    bool announced = false;
    const auto onSubscribed = [&] {
        if (!announced)
            Inspector::note(QStringLiteral("watching %1 on %2 (Ctrl-C stops)")
                                .arg(QString::fromUtf8(pattern), inspector.where()));
        announced = true;
    };
    const auto onError = [&](const QString &error) {
        Inspector::note(QStringLiteral("distributed-promise: error: Redis at %1 refused "
                                       "PSUBSCRIBE: %2")
                            .arg(inspector.where(), error));
        exitCode = ExitCode::Failed;
        QCoreApplication::exit(ExitCode::Failed);
    };

    DistributedPromiseRedis::ConnectionOptions options;
    options.connectTimeout = inspector.config().connectTimeout;
    options.commandTimeout = std::chrono::milliseconds(0); // a subscription waits for messages
    options.clientName = QByteArrayLiteral("distributed-promise-inspect:watch");
    PatternWatcher watcher(
        inspector.endpoint(), options, pattern, onMessage, onSubscribed, onError);

    if (::pipe(signalPipe) != 0)
        throw Failure { ExitCode::Failed, QStringLiteral("cannot make a pipe for signals") };
    QObject::connect(&watcher.connection(), &DistributedPromiseRedis::Connection::disconnected,
        &watcher.connection(), [&inspector](const QString &reason) {
            Inspector::note(QStringLiteral("distributed-promise: lost Redis at %1 (%2); "
                                           "reconnecting, outcomes published meanwhile are missed")
                                .arg(inspector.where(), reason));
        });
    QSocketNotifier signalNotifier(signalPipe[0], QSocketNotifier::Read);
    QObject::connect(&signalNotifier, &QSocketNotifier::activated, &signalNotifier,
        [] { QCoreApplication::exit(ExitCode::Success); });
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);

    watcher.open();
    const int code = QCoreApplication::exec();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    signalNotifier.setEnabled(false);
    ::close(signalPipe[0]);
    ::close(signalPipe[1]);
    return exitCode != ExitCode::Success ? exitCode : code;
}

} // namespace DistributedPromiseInspect
