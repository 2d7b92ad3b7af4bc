// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise_export.h"

#include <QtCore/QString>
#include <QtCore/QUrl>

#include <chrono>

/*!
    \class DistributedPromiseConfig
    \brief Settings shared by every call made through one DistributedPromiseWrapper.

    The defaults are those of the original Node library: a 30 s lock, a 30 min cache, and keys
    named distributed-promise:{identity}. Processes that should share work must use the same
    redisUrl, prefixes and separator.

    \since 0.1
*/
struct DISTRIBUTEDPROMISE_EXPORT DistributedPromiseConfig
{
    /*! What a call does when Redis cannot be reached. */
    enum WhenRedisUnavailable {
        RunLocally, ///< run the work in this process (callers in this process still share it)
        Fail, ///< fail the call with DistributedPromiseError::ConnectionFailed
    };

    /*!
        Where Redis is; an unusable URL is reported by configurationError(). One of:
        - \c{redis://[[user]:password@]host[:port][/db]} (port 6379 by default)
        - \c{unix:///path/to/socket[?db=N]} (a user and password in the URL are used too)
        -
       \c{rediss://[[user]:password@]host[:port][/db]?cacert=/ca.pem[&cert=/client.pem&key=/client.key][&sni=name]}:
          TLS, when built against hiredis 1.x with hiredis_ssl (otherwise InvalidArgument)
        - \c{redis+sentinel://[[user]:password@]host[:port]/name[/db][?sentinel=host:port...]}:
          Redis Sentinel (port 26379 by default); the credentials are the Redis servers'
        - \c{redis+cluster://[[user]:password@]host[:port][?node=host:port...]}: Redis Cluster
          (Redis 7; port 6379 by default)

        Every form also takes the query items \c{db=N} (not on a cluster) and \c{password=...}
        (instead of the one in the authority).
    */
    QUrl redisUrl = QUrl(QStringLiteral("redis://127.0.0.1:6379"));
    /*! Lease of the work lock; the holder renews it every lockTimeout/3 while the work runs, and a
        waiter takes over at most this long after a holder died. */
    std::chrono::milliseconds lockTimeout = std::chrono::seconds(30);
    /*! How long a result stays cached; 0 never writes the cache (lock and publish only). */
    std::chrono::milliseconds ttl = std::chrono::minutes(30);
    QString keyPrefix = QStringLiteral("distributed-promise");
    QString lockPrefix = QStringLiteral("lock");
    QString notifPrefix = QStringLiteral("notif");
    QString keySeparator = QStringLiteral(":");
    /*! Default for DistributedPromiseWrapOptions::timeout: how long a caller waits; 0 = no limit.
     */
    std::chrono::milliseconds timeout = std::chrono::milliseconds(0);
    WhenRedisUnavailable whenRedisUnavailable = RunLocally;
    /*! Largest encoded arguments or value accepted, in bytes. */
    qint64 maxValueBytes = 16 * 1024 * 1024;
    /*! Host lookup, TCP connect and AUTH/SELECT must finish within this. */
    std::chrono::milliseconds connectTimeout = std::chrono::seconds(3);
    /*! A Redis command unanswered for this long drops and re-opens the connection. */
    std::chrono::milliseconds commandTimeout = std::chrono::seconds(5);
    /*! The longest the work may run. Past it, every caller in every process fails with
        DistributedPromiseError::Timeout and the lock is given back (a later call runs the work
        again; a result that still comes is dropped). 0 = no bound: work that never finishes
        then holds its lock, and its callers, for as long as the process lives.
        \since 0.2 */
    std::chrono::milliseconds maxWorkTime = std::chrono::minutes(10);

    /*! \name Freshness (\since 0.3; see the guide's "Freshness" chapter)
        Whether an entry is fresh or stale is decided from the time Redis says it has left
        (PTTL), never from the processes' clocks. */
    ///@{
    /*! After ttl, an entry may still be served, marked stale, for this long while one process
        refreshes it; 0 = never (the entry is gone after ttl). Redis keeps the entry ttl +
        staleFor. A hit on a wrap with staleFor > 0 reads the entry with a small script (value
        and remaining time in the one round trip) instead of a GET. */
    std::chrono::milliseconds staleFor = std::chrono::milliseconds(0);
    /*! With a stale value at hand, how long a caller waits for the fresh one before it gets the
        stale one; the refresh goes on and caches. 0 = wait for the fresh value. */
    std::chrono::milliseconds softTimeout = std::chrono::milliseconds(0);
    /*! When a refresh fails (or its holder gives up) and a stale value exists, callers get the
        stale value instead of the error. The error is logged and counted once, and this process
        tries that entry again only after a pause (min(ttl, 30 s), at least 1 s). Errors are
        never cached either way. */
    bool failSafe = true;
    /*! A hit later than this fraction of ttl (0 < eagerRefresh < 1) is answered from the cache
        at once and starts one refresh in the background, fleet-wide; 0 = off. */
    double eagerRefresh = 0;
    /*! Each write adds a random 0..ttlJitter to ttl, so that entries written together do not
        all expire together. 0 = none. */
    std::chrono::milliseconds ttlJitter = std::chrono::milliseconds(0);
    ///@}
};
