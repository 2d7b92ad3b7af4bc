// SPDX-License-Identifier: MIT
#pragma once

#include "redisreply_p.h"

#include <QtCore/QDeadlineTimer>

namespace DistributedPromiseRedis {

/*! One command sent on a Connection and not answered yet; a node of PendingQueue. */
struct Pending
{
    Callback callback;
    QDeadlineTimer deadline; // in flight: answer due; waiting to be retried: next send due
    Pending *prev = nullptr;
    Pending *next = nullptr;
    QList<QByteArray> args; // kept (shared, not copied) for a retry
    QDeadlineTimer giveUpAt; // first send + commandTimeout: transient errors retried until then
    int attempts = 0; // sends so far
    int awaited = 1; // replies still to come; the last one completes the command
    quint8 tag = 0; // what the command is, for a PushReader (0: a plain command)
    bool retry = true; // sent again when Redis answers LOADING, BUSY or MASTERDOWN
};

/*!
    The commands in flight on one connection, oldest first: an intrusive list (Pending is the
    node), so that sending and answering a command allocates nothing more. The queue does not
    own its nodes.
*/
class PendingQueue
{
public:
    Pending *head() const { return m_head; }
    int size() const { return m_size; }

    void append(Pending *pending)
    {
        pending->prev = m_tail;
        pending->next = nullptr;
        if (m_tail)
            m_tail->next = pending;
        else
            m_head = pending;
        m_tail = pending;
        ++m_size;
    }

    void remove(Pending *pending)
    {
        if (pending->prev)
            pending->prev->next = pending->next;
        else
            m_head = pending->next;
        if (pending->next)
            pending->next->prev = pending->prev;
        else
            m_tail = pending->prev;
        pending->prev = pending->next = nullptr;
        --m_size;
    }

    /*! Empties the queue; returns its first node, the others following through next. */
    Pending *takeAll()
    {
        Pending *first = m_head;
        m_head = m_tail = nullptr;
        m_size = 0;
        return first;
    }

private:
    Pending *m_head = nullptr;
    Pending *m_tail = nullptr;
    int m_size = 0;
};

} // namespace DistributedPromiseRedis
