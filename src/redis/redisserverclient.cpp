// SPDX-License-Identifier: MIT
#include "redisserverclient_p.h"

namespace DistributedPromiseRedis {

ServerClient::ServerClient(const Endpoint &endpoint, const ConnectionOptions &options,
    const QList<QByteArray> &scripts, QObject *parent)
    : Client(endpoint, parent)
    , m_commands(endpoint, options)
    , m_subscriber(endpoint, options)
{
    m_commands.setScripts(scripts);
    connect(&m_subscriber, &Subscriber::message, this, &Client::message);
    connect(&m_subscriber, &Subscriber::subscribed, this, &Client::subscribed);
    connect(&m_commands, &Connection::connected, this, &Client::connected);
    connect(&m_commands, &Connection::disconnected, this, &Client::disconnected);
}

ServerClient::~ServerClient() = default;

void ServerClient::open()
{
    m_commands.open();
    if (m_subscriber.hasChannels())
        m_subscriber.open(); // otherwise with the first channel
}

void ServerClient::close()
{
    m_commands.close();
    m_subscriber.close();
}

void ServerClient::retarget(const Endpoint &endpoint)
{
    m_commands.retarget(endpoint);
    m_subscriber.retarget(endpoint);
}

void ServerClient::addChannel(const QByteArray &channel)
{
    m_subscriber.open();
    m_subscriber.subscribe(channel);
}

} // namespace DistributedPromiseRedis
