// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromiseerror.h"

#include <QtCore/QByteArray>
#include <QtCore/QFuture>
#include <QtCore/QList>
#include <QtCore/QMetaType>

#include <functional>

struct redisReply;

namespace DistributedPromiseRedis {

/*!
    One Redis reply, copied out of hiredis (whose replies only live inside their callback).
    A nil reply is a value. A transport failure (connection lost, timeout, client destroyed) is
    the extra type Failure, which carries the library error code in failureCode.
*/
struct Reply
{
    enum class Type : quint8 { Nil, Status, Error, Integer, String, Array, Failure };

    Type type = Type::Nil;
    DistributedPromiseError::Code failureCode = DistributedPromiseError::ConnectionFailed;
    qint64 integer = 0;
    QByteArray string; ///< bulk string, status text, error text or failure message
    QList<Reply> elements;

    bool isNil() const { return type == Type::Nil; }
    bool isError() const { return type == Type::Error; }
    bool isFailure() const { return type == Type::Failure; }
    bool isString() const { return type == Type::String; }
    bool isInteger() const { return type == Type::Integer; }
    bool isArray() const { return type == Type::Array; }
    /*! A server error reply or a transport failure. */
    bool isAnyError() const { return type == Type::Error || type == Type::Failure; }

    static Reply failure(DistributedPromiseError::Code code, const QString &message)
    {
        Reply reply;
        reply.type = Type::Failure;
        reply.failureCode = code;
        reply.string = message.toUtf8();
        return reply;
    }

    /*!
        The library error this reply stands for: Failure keeps its code, an error reply becomes
        RedisError. The one place where Redis failures are mapped to error codes.
    */
    DistributedPromiseError toError(const QString &key = QString()) const;
};

/*! \a reply copied out of hiredis (RESP3 types become their RESP2 counterparts). */
Reply convertReply(const redisReply *reply);

/*!
    The condition an error reply names when it means "not executed, the server is unavailable
    for now" (LOADING, BUSY or MASTERDOWN), or empty.
*/
QByteArray transientCondition(const QByteArray &error);

/*! Receives exactly one reply (or Failure) per command, on the connection's thread. */
using Callback = std::function<void(const Reply &)>;

/*! A future of the reply that \a send's callback gets; a Failure fails it with the error. */
QFuture<Reply> replyFuture(const std::function<void(Callback)> &send);

} // namespace DistributedPromiseRedis

Q_DECLARE_METATYPE(DistributedPromiseRedis::Reply)
