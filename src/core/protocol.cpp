// SPDX-License-Identifier: MIT
#include "protocol_p.h"

#include <QtCore/QCryptographicHash>

namespace DistributedPromiseProtocol {

QByteArray identity(const QString &key, const QByteArray &separator, const QByteArray &arguments)
{
    QByteArray result = key.toUtf8();
    result += separator;
    if (arguments.size() > maxPlainArgumentsBytes) {
        result += '#';
        result += QCryptographicHash::hash(arguments, QCryptographicHash::Sha256).toHex();
    } else {
        result += arguments;
    }
    return result;
}

QByteArray identity(const QByteArray &keyAndSeparator, const QJsonArray &args,
    qsizetype *argumentsBytes, ValueProblem *problem)
{
    QByteArray result;
    result.reserve(keyAndSeparator.size() + 64);
    result.append(keyAndSeparator);
    const qsizetype from = result.size();
    *problem = appendArguments(result, args);
    *argumentsBytes = result.size() - from;
    if (*argumentsBytes > maxPlainArgumentsBytes) {
        const QByteArray hash = QCryptographicHash::hash(
            QByteArrayView(result).sliced(from), QCryptographicHash::Sha256)
                                    .toHex();
        result.truncate(from);
        result.append('#');
        result.append(hash);
    }
    return result;
}

KeyNames::KeyNames(const DistributedPromiseConfig &config)
{
    const QByteArray separator = config.keySeparator.toUtf8();
    const QByteArray prefix = config.keyPrefix.toUtf8() + separator;
    m_data = prefix + '{';
    m_lock = prefix + config.lockPrefix.toUtf8() + separator + '{';
    m_channel = prefix + config.notifPrefix.toUtf8() + separator + '{';
    m_generation = prefix + "generation" + separator + '{';
    m_generationChannel
        = prefix + config.notifPrefix.toUtf8() + separator + "generation" + separator + '{';
}

QByteArray generationPrefix(
    const QByteArray &keyAndSeparator, const QByteArray &separator, qint64 generation)
{
    // Encoded arguments start with '[' and hashed ones with '#': "~g" cannot be taken for them.
    if (generation == 0)
        return keyAndSeparator;
    return keyAndSeparator + '~' + QByteArray::number(generation) + separator;
}

} // namespace DistributedPromiseProtocol
