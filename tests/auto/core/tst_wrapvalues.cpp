// SPDX-License-Identifier: MIT
// Every kind of value survives both paths: computed by the work (first wrapper) and read back
// from the Redis cache by a second wrapper that never runs the work.

#include "coretest.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QVariantMap>

#include <functional>
#include <optional>
#include <stdexcept>
#include <vector>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

namespace {

struct Point
{
    int x = 0;
    int y = 0;
    QString label;
    bool operator==(const Point &other) const
    {
        return x == other.x && y == other.y && label == other.label;
    }
};

} // namespace

template<>
struct DistributedPromiseCodec<Point>
{
    static QJsonValue encode(const Point &p)
    {
        return QJsonObject { { QStringLiteral("x"), p.x }, { QStringLiteral("y"), p.y },
            { QStringLiteral("label"), p.label } };
    }
    static Point decode(const QJsonValue &v)
    {
        if (!v.isObject())
            throw DistributedPromiseError(
                DistributedPromiseError::DecodeFailed, QStringLiteral("a Point is an object"));
        return Point { v[QStringLiteral("x")].toInt(), v[QStringLiteral("y")].toInt(),
            v[QStringLiteral("label")].toString() };
    }
};

namespace {

// A user type whose codec throws something other than DistributedPromiseError.
struct Fragile
{
    int n = 0;
};

} // namespace

template<>
struct DistributedPromiseCodec<Fragile>
{
    static QJsonValue encode(const Fragile &f)
    {
        if (f.n < 0)
            throw std::runtime_error("fragile encode");
        return f.n;
    }
    static Fragile decode(const QJsonValue &v)
    {
        if (v.toInt() > 100)
            throw std::runtime_error("fragile decode");
        return Fragile { v.toInt() };
    }
};

class tst_WrapValues : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void falsyScalars();
    void emptyContainers();
    void largeAndUnicode();
    void bytesWithNul();
    void numbers();
    void optionals();
    void sequences();
    void variants();
    void customCodec();
    void voidWork();
    void typeMismatchIsDecodeFailed();
    void codecThrowingStdException();

private:
    template<typename T, typename Equal = std::equal_to<T>>
    void roundTrip(const QString &name, const T &value, Equal equal = {});
    QString key(const QString &name) const
    {
        return QStringLiteral("wrapvalues-%1-%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()), name);
    }

    RedisServer m_server;
};

// Stops the test function at the first failure inside a helper.
#define ROUND_TRIP(...)                                                                            \
    do {                                                                                           \
        roundTrip(__VA_ARGS__);                                                                    \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

void tst_WrapValues::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
}

template<typename T, typename Equal>
void tst_WrapValues::roundTrip(const QString &name, const T &value, Equal equal)
{
    const QString wrapKey = key(name);
    const DistributedPromiseConfig config = configFor(m_server);
    int runs = 0;
    // The work takes an argument too, so arguments of the same type go through the codec.
    const auto work = [&runs, value](const T &argument) {
        ++runs;
        Q_UNUSED(argument)
        return value;
    };
    {
        DistributedPromiseWrapper first(config);
        auto call = first.wrap(wrapKey, work);
        const QFuture<T> computed = call(value);
        QTRY_VERIFY(computed.isFinished());
        QCOMPARE(codeOf(computed), QStringLiteral("ok"));
        QVERIFY2(equal(computed.result(), value),
            qPrintable(QStringLiteral("%1: the computed value differs").arg(name)));
        QCOMPARE(runs, 1);
        QCOMPARE(first.stats().won, quint64(1));
        QCOMPARE(first.stats().hits, quint64(0));
    }
    // Another "process": a fresh wrapper with the same configuration.
    DistributedPromiseWrapper second(config);
    auto call = second.wrap(wrapKey, work);
    const QFuture<T> cached = call(value);
    QTRY_VERIFY(cached.isFinished());
    QCOMPARE(codeOf(cached), QStringLiteral("ok"));
    QVERIFY2(equal(cached.result(), value),
        qPrintable(QStringLiteral("%1: the cached value differs").arg(name)));
    QVERIFY2(runs == 1,
        qPrintable(QStringLiteral("%1: the work ran again (%2 runs) instead of "
                                  "coming from the cache")
                       .arg(name)
                       .arg(runs)));
    QCOMPARE(second.stats().hits, quint64(1));
    QCOMPARE(second.stats().won, quint64(0));
}

void tst_WrapValues::falsyScalars()
{
    ROUND_TRIP(QStringLiteral("int0"), 0);
    ROUND_TRIP(QStringLiteral("false"), false);
    ROUND_TRIP(QStringLiteral("emptyString"), QString());
    ROUND_TRIP(QStringLiteral("emptyString2"), QStringLiteral(""));
    ROUND_TRIP(QStringLiteral("null"), QJsonValue(QJsonValue::Null));
    ROUND_TRIP(QStringLiteral("double0"), 0.0);
}

void tst_WrapValues::emptyContainers()
{
    ROUND_TRIP(QStringLiteral("array"), QJsonArray());
    ROUND_TRIP(QStringLiteral("object"), QJsonObject());
    ROUND_TRIP(QStringLiteral("stringList"), QStringList());
    ROUND_TRIP(QStringLiteral("variantMap"), QVariantMap());
    ROUND_TRIP(QStringLiteral("byteArray"), QByteArray());
    ROUND_TRIP(QStringLiteral("intList"), QList<int>());
}

void tst_WrapValues::largeAndUnicode()
{
    const QString unicode = QStringLiteral("h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e ")
        + QString::fromUcs4(U"\U0001F600 \U0001D11E") + QStringLiteral(" \"quoted\" \\ \n\t");
    ROUND_TRIP(QStringLiteral("unicode"), unicode);

    QString large;
    large.reserve(1024 * 1024);
    while (large.size() < 1024 * 1024)
        large += QStringLiteral("0123456789abcdef\u00e9");
    large.truncate(1024 * 1024);
    // A 1 MB argument is hashed into the identity; the 1 MB value is cached as it is.
    ROUND_TRIP(QStringLiteral("large"), large);
}

void tst_WrapValues::bytesWithNul()
{
    QByteArray bytes("a\0b\0\0c", 6);
    for (int i = 0; i < 256; ++i)
        bytes.append(char(i));
    QCOMPARE(bytes.size(), 262);
    ROUND_TRIP(QStringLiteral("bytes"), bytes);
    ROUND_TRIP(QStringLiteral("nulOnly"), QByteArray(3, '\0'));
}

void tst_WrapValues::numbers()
{
    ROUND_TRIP(QStringLiteral("qint64"), (qint64(1) << 62) + 1);
    ROUND_TRIP(QStringLiteral("qint64neg"), -(qint64(1) << 62) - 3);
    ROUND_TRIP(QStringLiteral("intMin"), std::numeric_limits<int>::min());
    ROUND_TRIP(QStringLiteral("uint"), std::numeric_limits<quint32>::max());
    ROUND_TRIP(QStringLiteral("double"), 0.1 + 0.2);
    ROUND_TRIP(QStringLiteral("doubleTiny"), -1.5e-300);
    ROUND_TRIP(QStringLiteral("doublePi"), 3.141592653589793);
}

void tst_WrapValues::optionals()
{
    ROUND_TRIP(QStringLiteral("nullopt"), std::optional<int>());
    ROUND_TRIP(QStringLiteral("optional"), std::optional<int>(42));
    ROUND_TRIP(QStringLiteral("optionalZero"), std::optional<int>(0));
    ROUND_TRIP(QStringLiteral("optionalString"), std::optional<QString>(QStringLiteral("x")));
}

void tst_WrapValues::sequences()
{
    ROUND_TRIP(QStringLiteral("intList"), QList<int> { 3, 0, -1, 7 });
    ROUND_TRIP(QStringLiteral("vector"),
        std::vector<QString> { QStringLiteral("a"), QString(), QStringLiteral("\u00e9") });
    ROUND_TRIP(
        QStringLiteral("stringList"), QStringList { QStringLiteral("x"), QStringLiteral("y:z") });
    ROUND_TRIP(QStringLiteral("nested"), QList<QList<int>> { {}, { 1 }, { 2, 3 } });
    ROUND_TRIP(QStringLiteral("jsonArray"),
        QJsonArray { 1, QStringLiteral("two"), false, QJsonValue(), QJsonObject() });
    ROUND_TRIP(QStringLiteral("jsonObject"),
        QJsonObject { { QStringLiteral("b"), 1 },
            { QStringLiteral("a"), QJsonArray { QStringLiteral("x") } } });
}

void tst_WrapValues::variants()
{
    ROUND_TRIP(QStringLiteral("string"), QVariant(QStringLiteral("text")));
    ROUND_TRIP(QStringLiteral("number"), QVariant(2.5));
    ROUND_TRIP(QStringLiteral("bool"), QVariant(false));
    ROUND_TRIP(QStringLiteral("map"),
        QVariant(QVariantMap { { QStringLiteral("n"), 1.5 },
            { QStringLiteral("s"), QStringLiteral("x") }, { QStringLiteral("b"), true } }));
    ROUND_TRIP(QStringLiteral("variantMap"),
        QVariantMap {
            { QStringLiteral("k"), QStringLiteral("v") }, { QStringLiteral("empty"), QString() } });
}

void tst_WrapValues::customCodec()
{
    ROUND_TRIP(QStringLiteral("point"), Point { 3, -4, QStringLiteral("p") });
    ROUND_TRIP(QStringLiteral("origin"), Point {});
    ROUND_TRIP(
        QStringLiteral("points"), QList<Point> { { 1, 2, {} }, { 5, 6, QStringLiteral("q") } });
}

void tst_WrapValues::voidWork()
{
    const QString wrapKey = key(QStringLiteral("void"));
    const DistributedPromiseConfig config = configFor(m_server);
    int runs = 0;
    const auto work = [&runs](int) { ++runs; };
    {
        DistributedPromiseWrapper first(config);
        auto call = first.wrap(wrapKey, work);
        const QFuture<void> done = call(1);
        QTRY_VERIFY(done.isFinished());
        QCOMPARE(codeOf(done), QStringLiteral("ok"));
        QCOMPARE(runs, 1);
    }
    QVERIFY(keyExists(m_server, dataKey(wrapKey, "[1]")));
    DistributedPromiseWrapper second(config);
    auto call = second.wrap(wrapKey, work);
    const QFuture<void> cached = call(1);
    QTRY_VERIFY(cached.isFinished());
    QCOMPARE(codeOf(cached), QStringLiteral("ok"));
    QCOMPARE(runs, 1);
    QCOMPARE(second.stats().hits, quint64(1));

    // Asynchronous void work too.
    const QFuture<void> async = second.wrap(key(QStringLiteral("asyncVoid")), [&runs] {
        ++runs;
        return valueLater(std::chrono::milliseconds(10), 0).then([](int) {});
    })();
    QTRY_VERIFY(async.isFinished());
    QCOMPARE(codeOf(async), QStringLiteral("ok"));
    QCOMPARE(runs, 2);
}

void tst_WrapValues::typeMismatchIsDecodeFailed()
{
    // Two processes disagree on the result type of one key: the reader gets DecodeFailed, not a
    // silently wrong value.
    const QString wrapKey = key(QStringLiteral("mismatch"));
    const DistributedPromiseConfig config = configFor(m_server);
    DistributedPromiseWrapper writer(config);
    const QFuture<QString> text = writer.wrap(wrapKey, [] { return QStringLiteral("text"); })();
    QTRY_VERIFY(text.isFinished());
    QCOMPARE(codeOf(text), QStringLiteral("ok"));

    DistributedPromiseWrapper reader(config);
    int runs = 0;
    const QFuture<int> number = reader.wrap(wrapKey, [&runs] { return ++runs; })();
    QTRY_VERIFY(number.isFinished());
    QCOMPARE(codeOf(number), QStringLiteral("DecodeFailed"));
    QVERIFY2(messageOf(number).contains(QLatin1String("integer")), qPrintable(messageOf(number)));
    QCOMPARE(runs, 0);
}

void tst_WrapValues::codecThrowingStdException()
{
    // Codecs may throw anything: the calls fail cleanly, nothing escapes into the event loop.
    DistributedPromiseWrapper wrapper(configFor(m_server));
    int runs = 0;
    auto work = wrapper.wrap(key(QStringLiteral("fragile")), [&runs](const Fragile &f) {
        ++runs;
        return Fragile { f.n * 1000 };
    });
    // The value decodes badly for every caller (two of them share the call).
    const QFuture<Fragile> first = work(Fragile { 1 });
    const QFuture<Fragile> second = work(Fragile { 1 });
    QTRY_VERIFY(first.isFinished() && second.isFinished());
    QCOMPARE(codeOf(first), QStringLiteral("DecodeFailed"));
    QCOMPARE(codeOf(second), QStringLiteral("DecodeFailed"));
    QVERIFY2(
        messageOf(first).contains(QLatin1String("fragile decode")), qPrintable(messageOf(first)));
    QCOMPARE(runs, 1);

    // An argument that cannot be encoded: a failed future, not an exception from the call.
    QFuture<Fragile> badArgument;
    try {
        badArgument = work(Fragile { -1 });
    } catch (const std::exception &e) {
        QFAIL(qPrintable(QStringLiteral("the call threw: ") + QString::fromUtf8(e.what())));
    }
    QTRY_VERIFY(badArgument.isFinished());
    QCOMPARE(codeOf(badArgument), QStringLiteral("InvalidArgument"));
    QVERIFY2(messageOf(badArgument).contains(QLatin1String("fragile encode")),
        qPrintable(messageOf(badArgument)));
    QCOMPARE(runs, 1);
}

QTEST_GUILESS_MAIN(tst_WrapValues)
#include "tst_wrapvalues.moc"
