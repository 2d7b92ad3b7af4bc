// SPDX-License-Identifier: MIT
#pragma once

#include "distributedpromise_export.h"

#include <QtCore/QException>
#include <QtCore/QObject>
#include <QtCore/QString>

#include <optional>

/*!
    \class DistributedPromiseError
    \brief The one error type of the library; it crosses QFuture because it is a QException.

    Every failed future, failed() signal and QML errorCode carries one of these codes. The
    message names the key (if any) and says what to do about it.

    \note WorkFailed is 0. An errorCode property reads NoError (-1) while there is no error, so
    never test it for truth (\c{if (call.errorCode)} is true for every error but WorkFailed and
    for no error at all): compare it with NoError, or read the \c hasError property.

    \since 0.1
*/
class DISTRIBUTEDPROMISE_EXPORT DistributedPromiseError : public QException
{
    Q_GADGET
public:
    enum Code {
        NoError = -1, ///< not an error: what errorCode properties read while there is none
        WorkFailed = 0, ///< the work threw or its future failed (in this or another process)
        Timeout, ///< the caller waited longer than its timeout
        Cancelled, ///< the call was cancelled or its wrapper was destroyed
        ConnectionFailed, ///< Redis could not be reached or the connection dropped
        RedisError, ///< Redis answered with an error reply
        DecodeFailed, ///< a value could not be decoded into the requested type
        InvalidArgument, ///< bad key, prefix, URL or value; the message says what to change
    };
    Q_ENUM(Code)

    /*! Creates an error with \a code, a human-readable \a message and the call's \a key. */
    DistributedPromiseError(Code code, const QString &message, const QString &key = QString());

    /*! The failure category; branch on this, not on the message. */
    Code code() const noexcept { return m_code; }
    /*! What happened and what to do about it, in one sentence. */
    QString message() const { return m_message; }
    /*! The identity of the call (wrap key plus arguments), or empty. */
    QString key() const { return m_key; }

    /*! "code: message", UTF-8; valid as long as this object lives. */
    const char *what() const noexcept override;
    /*! Throws a copy of this error (QException, so it crosses QFuture). */
    void raise() const override;
    /*! A heap copy of this error (QException, so it crosses QFuture). */
    DistributedPromiseError *clone() const override;

    /*! The stable wire name of \a code, e.g. "WorkFailed". */
    static QString codeName(Code code);
    /*! The error code whose wire name is \a name, or nullopt when the name is unknown or is
        "NoError" (which names no error). */
    static std::optional<Code> codeFromName(const QString &name);

private:
    Code m_code;
    QString m_message;
    QString m_key;
    QByteArray m_what;
};
