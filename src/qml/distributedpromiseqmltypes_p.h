// SPDX-License-Identifier: MIT
#pragma once

// Registers the library's existing C++ types with the QML module "DistributedPromise" without
// touching their headers (QML_FOREIGN). Instances come from C++: a DistributedPromiseWrapper is
// created and given its work there, then handed to QML; DistributedPromise objects come from
// DistributedPromiseWrapper::call().

#include "distributedpromise.h"
#include "distributedpromiseerror.h"
#include "distributedpromisewrapper.h"

#include <QtQml/qqml.h>

/*!
    \qmltype DistributedPromise
    \brief One call's outcome: key, state, value, errorString, errorCode, hasError; resolved(),
    failed(), finished(). Enum State: DistributedPromise.Pending, .Resolved, .Failed.
    Returned by DistributedPromiseWrapper.call(); not creatable in QML. The JavaScript engine
    owns it, but cannot collect it before it has finished: handlers connected to a promise
    nothing refers to still run.
*/
struct DistributedPromiseForeign
{
    Q_GADGET
    QML_FOREIGN(DistributedPromise)
    QML_NAMED_ELEMENT(DistributedPromise)
    QML_UNCREATABLE("DistributedPromise objects come from DistributedPromiseWrapper.call()")
};

/*!
    \qmltype DistributedPromiseWrapper
    \brief Runs work wrapped in C++ by key: call(key, args) returns a DistributedPromise.
    Created and given its work in C++, then exposed to QML; not creatable in QML.
*/
struct DistributedPromiseWrapperForeign
{
    Q_GADGET
    QML_FOREIGN(DistributedPromiseWrapper)
    QML_NAMED_ELEMENT(DistributedPromiseWrapper)
    QML_UNCREATABLE("create the DistributedPromiseWrapper in C++, wrap() the work there and "
                    "expose it to QML (a context property or initial property)")
};

/*!
    \qmltype DistributedPromiseError
    \brief The error codes of errorCode and failed(): DistributedPromiseError.WorkFailed (0),
    .Timeout, .Cancelled, .ConnectionFailed, .RedisError, .DecodeFailed, .InvalidArgument, and
    .NoError (-1), what errorCode reads while there is no error. Test hasError, not the code's
    truth (WorkFailed is 0).
*/
namespace DistributedPromiseErrorForeign {
Q_NAMESPACE
QML_FOREIGN_NAMESPACE(DistributedPromiseError)
QML_NAMED_ELEMENT(DistributedPromiseError)
} // namespace DistributedPromiseErrorForeign
