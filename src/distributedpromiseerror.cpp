// SPDX-License-Identifier: MIT
#include "distributedpromiseerror.h"

#include <QtCore/QMetaEnum>

DistributedPromiseError::DistributedPromiseError(
    Code code, const QString &message, const QString &key)
    : m_code(code)
    , m_message(message)
    , m_key(key)
    , m_what(QString(codeName(code) + QStringLiteral(": ") + message).toUtf8())
{ }

const char *DistributedPromiseError::what() const noexcept { return m_what.constData(); }

void DistributedPromiseError::raise() const { throw *this; }

DistributedPromiseError *DistributedPromiseError::clone() const
{
    return new DistributedPromiseError(*this);
}

QString DistributedPromiseError::codeName(Code code)
{
    return QString::fromLatin1(QMetaEnum::fromType<Code>().valueToKey(code));
}

std::optional<DistributedPromiseError::Code> DistributedPromiseError::codeFromName(
    const QString &name)
{
    bool ok = false;
    const int value = QMetaEnum::fromType<Code>().keyToValue(name.toLatin1().constData(), &ok);
    if (!ok || value == NoError)
        return std::nullopt;
    return static_cast<Code>(value);
}
