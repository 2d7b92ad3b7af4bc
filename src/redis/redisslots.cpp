// SPDX-License-Identifier: MIT
#include "redisslots_p.h"

#include <array>

namespace DistributedPromiseRedis::ClusterSlots {

namespace {
// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster uses it.
constexpr std::array<quint16, 256> makeCrc16Table()
{
    std::array<quint16, 256> table {};
    for (int byte = 0; byte < 256; ++byte) {
        quint16 crc = quint16(byte << 8);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000) ? quint16((crc << 1) ^ 0x1021) : quint16(crc << 1);
        table[size_t(byte)] = crc;
    }
    return table;
}
constexpr std::array<quint16, 256> crc16Table = makeCrc16Table();

quint16 crc16(const char *data, qsizetype size)
{
    quint16 crc = 0;
    for (qsizetype i = 0; i < size; ++i)
        crc = quint16((crc << 8) ^ crc16Table[((crc >> 8) ^ quint8(data[i])) & 0xff]);
    return crc;
}

// "host:port" from MOVED/ASK (the host may be an IPv6 address, or empty for "the same host").
bool parseNodeAddress(const QByteArray &text, const QString &sameHost, Endpoint::Address *address)
{
    const qsizetype colon = text.lastIndexOf(':');
    if (colon < 0)
        return false;
    bool ok = false;
    const uint port = text.mid(colon + 1).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return false;
    address->host = colon == 0 ? sameHost : QString::fromUtf8(text.left(colon));
    address->port = quint16(port);
    return true;
}
} // namespace

int slotOf(const QByteArray &key)
{
    // Only the part between the first '{' and the next '}' counts, when it is not empty.
    const qsizetype open = key.indexOf('{');
    if (open >= 0) {
        const qsizetype close = key.indexOf('}', open + 1);
        if (close > open + 1)
            return crc16(key.constData() + open + 1, close - open - 1) & (slotCount - 1);
    }
    return crc16(key.constData(), key.size()) & (slotCount - 1);
}

QByteArray routingKey(const QList<QByteArray> &args)
{
    if (args.size() < 2)
        return {};
    const QByteArray &name = args.constFirst();
    if (name.compare("EVALSHA", Qt::CaseInsensitive) == 0
        || name.compare("EVAL", Qt::CaseInsensitive) == 0) {
        if (args.size() < 4 || args.at(2) == "0")
            return {};
        return args.at(3);
    }
    return args.at(1);
}

bool isRedirection(const QByteArray &error)
{
    return error.startsWith("MOVED ") || error.startsWith("ASK ");
}

bool parseRedirection(const QByteArray &error, const QString &sameHost, Redirection *redirection)
{
    if (!isRedirection(error))
        return false;
    const QByteArrayList parts = error.split(' ');
    bool ok = false;
    const int slot = parts.value(1).toInt(&ok);
    if (parts.size() != 3 || !ok || slot < 0 || slot >= slotCount
        || !parseNodeAddress(parts.at(2), sameHost, &redirection->address))
        return false;
    redirection->ask = error.startsWith("ASK ");
    redirection->slot = slot;
    return true;
}

bool parseSlots(const Reply &reply, const QString &sameHost, QList<SlotRange> *ranges)
{
    // [[start, end, [host, port, id, ...], replica...], ...]
    if (!reply.isArray() || reply.elements.isEmpty())
        return false;
    for (const Reply &range : reply.elements) {
        const Reply master = range.elements.value(2);
        const qint64 first = range.elements.value(0).integer;
        const qint64 last = range.elements.value(1).integer;
        SlotRange slots;
        slots.master = { QString::fromUtf8(master.elements.value(0).string),
            quint16(master.elements.value(1).integer) };
        if (slots.master.host.isEmpty() || slots.master.host == QLatin1String("?"))
            slots.master.host = sameHost;
        slots.hasReplicas = range.elements.size() > 3;
        if (!range.isArray() || !master.isArray() || first < 0 || last >= slotCount || first > last
            || slots.master.port == 0)
            return false;
        slots.first = int(first);
        slots.last = int(last);
        ranges->append(slots);
    }
    return true;
}

} // namespace DistributedPromiseRedis::ClusterSlots
