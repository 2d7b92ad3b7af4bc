// SPDX-License-Identifier: MIT
#pragma once

#include "redisconnection_p.h"

#include <QtCore/QObject>
#include <QtCore/QStringList>

#include <memory>

namespace DistributedPromiseRedis {

/*!
    Finds the master a set of Redis sentinels monitors under one name, and follows it.

    ask() asks the sentinels in turn (SENTINEL GET-MASTER-ADDR-BY-NAME, one round trip to each
    until one answers) and emits masterFound(), or failed() when none could answer. A subscriber
    connection to one sentinel listens to +switch-master and emits masterFound() as soon as a
    failover completes; it moves on to the next sentinel when its sentinel goes away.
*/
class SentinelWatcher : public QObject
{
    Q_OBJECT
public:
    SentinelWatcher(
        const Endpoint &endpoint, const ConnectionOptions &options, QObject *parent = nullptr);
    ~SentinelWatcher() override;

    /*! Starts listening to failovers and asks for the master. */
    void start();
    void stop();
    /*! Asks the sentinels for the master, unless that is under way already. */
    void ask();

Q_SIGNALS:
    void masterFound(const DistributedPromiseRedis::Endpoint::Address &address);
    /*! No sentinel could say where the master is; they are asked again after a backoff. */
    void failed(const QString &reason);

private:
    Endpoint sentinel(int index) const;
    void askSentinel(int index);
    void onEvent(const QByteArray &channel, const QByteArray &payload);
    void nextEventSource();

    const Endpoint m_endpoint;
    ConnectionOptions m_queryOptions;
    std::unique_ptr<Connection> m_query;
    std::unique_ptr<Connection> m_previousQuery;
    Connection m_events;
    int m_eventSource = 0;
    bool m_asking = false;
    bool m_running = false;
    QStringList m_errors;
    QTimer m_retry;
    std::chrono::milliseconds m_backoff;
};

} // namespace DistributedPromiseRedis
