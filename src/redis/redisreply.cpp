// SPDX-License-Identifier: MIT
#include "redisreply_p.h"

#include <QtCore/QPromise>

#include <hiredis/hiredis.h>

#include <memory>

namespace DistributedPromiseRedis {

Reply convertReply(const redisReply *r)
{
    Reply reply;
    switch (r->type) {
    case REDIS_REPLY_STRING:
#ifdef REDIS_REPLY_VERB
    case REDIS_REPLY_VERB:
#endif
#ifdef REDIS_REPLY_BIGNUM
    case REDIS_REPLY_BIGNUM:
#endif
#ifdef REDIS_REPLY_DOUBLE
    case REDIS_REPLY_DOUBLE:
#endif
        reply.type = Reply::Type::String;
        reply.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_STATUS:
        reply.type = Reply::Type::Status;
        reply.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_ERROR:
        reply.type = Reply::Type::Error;
        reply.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_INTEGER:
#ifdef REDIS_REPLY_BOOL
    case REDIS_REPLY_BOOL:
#endif
        reply.type = Reply::Type::Integer;
        reply.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
#ifdef REDIS_REPLY_MAP
    case REDIS_REPLY_MAP:
    case REDIS_REPLY_SET:
#endif
#ifdef REDIS_REPLY_PUSH
    case REDIS_REPLY_PUSH:
#endif
        reply.type = Reply::Type::Array;
        reply.elements.reserve(qsizetype(r->elements));
        for (size_t i = 0; i < r->elements; ++i)
            reply.elements.append(convertReply(r->element[i]));
        break;
    default:
        reply.type = Reply::Type::Nil;
        break;
    }
    return reply;
}

DistributedPromiseError Reply::toError(const QString &key) const
{
    if (type == Type::Failure)
        return DistributedPromiseError(failureCode, QString::fromUtf8(string), key);
    if (type == Type::Error)
        return DistributedPromiseError(DistributedPromiseError::RedisError,
            QStringLiteral("Redis answered with an error: %1").arg(QString::fromUtf8(string)), key);
    return DistributedPromiseError(
        DistributedPromiseError::RedisError, QStringLiteral("unexpected Redis reply"), key);
}

QByteArray transientCondition(const QByteArray &error)
{
    for (const char *name : { "LOADING", "BUSY", "MASTERDOWN" }) {
        const qsizetype length = qsizetype(qstrlen(name));
        if (error.startsWith(name) && (error.size() == length || error.at(length) == ' '))
            return QByteArray(name);
    }
    return QByteArray();
}

QFuture<Reply> replyFuture(const std::function<void(Callback)> &send)
{
    auto promise = std::make_shared<QPromise<Reply>>();
    promise->start();
    QFuture<Reply> future = promise->future();
    send([promise](const Reply &reply) {
        if (reply.isFailure())
            promise->setException(reply.toError());
        else
            promise->addResult(reply);
        promise->finish();
    });
    return future;
}

} // namespace DistributedPromiseRedis
