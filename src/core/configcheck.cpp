// SPDX-License-Identifier: MIT
#include "protocol_p.h"

namespace DistributedPromiseProtocol {

QString validate(const DistributedPromiseConfig &config)
{
    if (config.keySeparator.isEmpty())
        return QStringLiteral("keySeparator is empty; use a separator such as \":\"");
    const std::pair<const char *, QString> prefixes[] = {
        { "keyPrefix", config.keyPrefix },
        { "lockPrefix", config.lockPrefix },
        { "notifPrefix", config.notifPrefix },
        { "keySeparator", config.keySeparator },
    };
    for (const auto &[name, value] : prefixes) {
        if (value.contains(QLatin1Char('{')) || value.contains(QLatin1Char('}')))
            return QStringLiteral("%1 \"%2\" contains a brace; braces are reserved for the Redis "
                                  "Cluster hash tag, remove them")
                .arg(QLatin1String(name), value);
    }
    if (config.keyPrefix.isEmpty() || config.lockPrefix.isEmpty() || config.notifPrefix.isEmpty())
        return QStringLiteral("keyPrefix, lockPrefix and notifPrefix must not be empty");
    if (config.lockPrefix == config.notifPrefix)
        return QStringLiteral("lockPrefix and notifPrefix must differ");
    if (config.lockTimeout.count() < 30)
        return QStringLiteral("lockTimeout of %1 ms is too short; use at least 30 ms")
            .arg(config.lockTimeout.count());
    if (config.ttl.count() < 0 || config.timeout.count() < 0)
        return QStringLiteral("ttl and timeout must not be negative");
    if (config.staleFor.count() < 0 || config.softTimeout.count() < 0
        || config.ttlJitter.count() < 0)
        return QStringLiteral("staleFor, softTimeout and ttlJitter must not be negative");
    if (!(config.eagerRefresh >= 0 && config.eagerRefresh < 1))
        return QStringLiteral("eagerRefresh of %1 is outside [0, 1): it is the fraction of ttl "
                              "after which a hit starts a refresh (0 = off)")
            .arg(config.eagerRefresh);
    if (config.maxValueBytes <= 0)
        return QStringLiteral("maxValueBytes must be positive");
    return QString();
}

} // namespace DistributedPromiseProtocol
