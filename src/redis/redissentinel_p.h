// SPDX-License-Identifier: MIT
#pragma once

#include "redissubscriber_p.h"

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QStringList>

#include <memory>
#include <vector>

namespace DistributedPromiseRedis {

/*!
    Finds the master a set of Redis sentinels monitors under one name, and follows it.

    ask() asks every sentinel at once (SENTINEL GET-MASTER-ADDR-BY-NAME) and checks each address
    named with ROLE on the server itself: a sentinel that is stale, or a server that was demoted,
    is never taken for the master. The lookup ends as soon as a server confirmed to be a master
    is named by a majority of the sentinels, or, once every sentinel has answered or timed out
    (connectTimeout), with the confirmed master named most often; then masterFound() is emitted,
    or failed() when no sentinel named a server that says it is the master. A hung sentinel
    therefore delays nothing while a majority answers.

    A Subscriber to every sentinel listens to +switch-master, so a failover is
    followed as long as one sentinel is healthy. Whenever one of these subscriptions is
    (re)confirmed, the sentinels are asked again: an event missed while a connection was down
    cannot leave the client on the old master.
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
    bool isRunning() const { return m_running; }
    /*! Asks the sentinels for the master, unless that is under way already. */
    void ask();

Q_SIGNALS:
    void masterFound(const DistributedPromiseRedis::Endpoint::Address &address);
    /*! No sentinel could say where the master is; they are asked again after a backoff. */
    void failed(const QString &reason);

private:
    struct Lookup;
    Endpoint sentinel(int index) const;
    void onAnswer(int lookup, int index, const Reply &reply);
    void checkRole(const Endpoint::Address &address);
    void onRole(int lookup, const QString &name, const Reply &reply);
    /*! Ends the lookup when its outcome is known. */
    void decide();
    void onEvent(const QByteArray &channel, const QByteArray &payload);

    const Endpoint m_endpoint;
    ConnectionOptions m_queryOptions;
    std::unique_ptr<Lookup> m_lookup;
    // The previous lookup: we may be inside one of its callbacks when it ends.
    std::unique_ptr<Lookup> m_finished;
    int m_lookups = 0;
    std::vector<std::unique_ptr<Subscriber>> m_events;
    bool m_running = false;
    QTimer m_retry;
    std::chrono::milliseconds m_backoff;
};

} // namespace DistributedPromiseRedis
