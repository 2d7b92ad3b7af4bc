// SPDX-License-Identifier: MIT
#include "redisclient_p.h"

#include <QtCore/QCryptographicHash>

namespace DistributedPromiseRedis {

Script::Script(const QByteArray &text)
    : source(text)
    , sha1(QCryptographicHash::hash(text, QCryptographicHash::Sha1).toHex())
{ }

Client::Client(const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent)
    : QObject(parent)
    , m_commands(endpoint, Connection::Mode::Commands, options)
    , m_subscriber(endpoint, Connection::Mode::Subscriber, options)
{
    connect(&m_commands, &Connection::connected, this, &Client::connected);
    connect(&m_commands, &Connection::disconnected, this, &Client::disconnected);
    connect(&m_subscriber, &Connection::message, this, &Client::message);
    connect(&m_subscriber, &Connection::subscribed, this, &Client::subscribed);
}

Client::~Client() = default;

void Client::open()
{
    m_commands.open();
    m_subscriber.open();
}

void Client::close()
{
    m_commands.close();
    m_subscriber.close();
}

void Client::eval(const Script &script, const QList<QByteArray> &keys,
    const QList<QByteArray> &args, Callback callback)
{
    QList<QByteArray> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv << QByteArrayLiteral("EVALSHA") << script.sha1 << QByteArray::number(keys.size());
    argv << keys << args;
    m_commands.command(argv,
        [this, argv, source = script.source, callback = std::move(callback)](
            const Reply &reply) mutable {
            if (reply.isError() && reply.string.startsWith("NOSCRIPT")) {
                argv[0] = QByteArrayLiteral("EVAL");
                argv[1] = source;
                m_commands.command(argv, std::move(callback));
                return;
            }
            callback(reply);
        });
}

bool Client::subscribe(const QByteArray &channel)
{
    if (m_listeners[channel]++ == 0)
        m_subscriber.subscribe(channel);
    return m_subscriber.isSubscribed(channel);
}

void Client::unsubscribe(const QByteArray &channel)
{
    auto it = m_listeners.find(channel);
    if (it == m_listeners.end())
        return;
    if (--*it == 0) {
        m_listeners.erase(it);
        m_subscriber.unsubscribe(channel);
    }
}

} // namespace DistributedPromiseRedis
