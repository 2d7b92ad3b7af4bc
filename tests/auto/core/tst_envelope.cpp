// SPDX-License-Identifier: MIT
// The envelope reader's fast path for simple values must read exactly what the JSON parser reads,
// and the JSON writer must write exactly what QJsonDocument writes.

#include "protocol_p.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>

#include <cmath>
#include <iterator>
#include <limits>

using DistributedPromiseDetail::Outcome;

class tst_Envelope : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void sameAsTheParser_data()
    {
        QTest::addColumn<QByteArray>("value");
        for (const char *text : { "true", "false", "null", "0", "-1", "7", "123456789012345",
                 "-123456789012345", "1234567890123456", "9007199254740993", "1.5", "-0", "1e3",
                 "01", "\"\"", "\"plain\"", "\"caf\xc3\xa9\"", "\"a\\\"b\"", "\"line\\n\"",
                 "\"\\u0001\"", "[]", "{}", "[1,\"x\"]", "{\"a\":{\"b\":[null]}}" })
            QTest::newRow(text) << QByteArray(text);
    }
    void sameAsTheParser()
    {
        QFETCH(QByteArray, value);
        const QByteArray envelope = "{\"v\":1,\"ok\":true,\"value\":" + value + '}';
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(envelope, &error);
        Outcome fast;
        const bool read = DistributedPromiseProtocol::decodeEnvelope(envelope, &fast);
        QCOMPARE(read, error.error == QJsonParseError::NoError);
        if (!read)
            return; // invalid JSON, such as a number with a leading zero: rejected by both
        QVERIFY(fast.ok);
        const QJsonValue parsed = document.object().value(QLatin1String("value"));
        QCOMPARE(fast.value, parsed);
        QCOMPARE(fast.value.type(), parsed.type());
        // The hit path's reader of plain strings reads the same, and only strings.
        QString text;
        if (DistributedPromiseProtocol::decodePlainString(envelope, &text))
            QCOMPARE(QJsonValue(text), parsed);
        else
            QVERIFY(!parsed.isString() || value.contains('\\'));
        // And what the writer makes of it reads back the same.
        Outcome again;
        QVERIFY(DistributedPromiseProtocol::decodeEnvelope(
            DistributedPromiseProtocol::encodeEnvelope(fast), &again));
        QCOMPARE(again.value, parsed);
    }
    void rejectsWhatIsNotAnEnvelope_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::newRow("garbage") << QByteArray("not json");
        QTest::newRow("version 2") << QByteArray("{\"v\":2,\"ok\":true,\"value\":1}");
        QTest::newRow("no value") << QByteArray("{\"v\":1,\"ok\":true}");
        QTest::newRow("truncated") << QByteArray("{\"v\":1,\"ok\":true,\"value\":\"ab}");
        QTest::newRow("two values") << QByteArray("{\"v\":1,\"ok\":true,\"value\":1,2}");
        QTest::newRow("no ok") << QByteArray("{\"v\":1,\"value\":1}");
        QTest::newRow("error without message") << QByteArray("{\"v\":1,\"ok\":false,\"error\":{}}");
    }
    void rejectsWhatIsNotAnEnvelope()
    {
        QFETCH(QByteArray, bytes);
        Outcome outcome;
        QVERIFY(!DistributedPromiseProtocol::decodeEnvelope(bytes, &outcome));
    }
    // The identity and the stored envelopes depend on the argument encoder writing exactly what
    // QJsonDocument::toJson(Compact) writes.
    void encoderMatchesQJsonDocument_data()
    {
        QTest::addColumn<QJsonArray>("args");
        const auto row
            = [](const char *name, const QJsonArray &args) { QTest::newRow(name) << args; };
        row("empty", {});
        row("scalars",
            { true, false, QJsonValue(QJsonValue::Null), 0, -1, 42, QStringLiteral("") });
        row("undefined", { QJsonValue(QJsonValue::Undefined) });
        row("large ints",
            { qint64(9007199254740992LL), qint64(9007199254740993LL),
                std::numeric_limits<qint64>::max(), std::numeric_limits<qint64>::min(),
                qint64(-9007199254740993LL), qint64(1000000000000000LL) });
        row("doubles",
            { 0.5, -0.0, 0.0, 1.0, 1e15, 1e16, 1e21, 1e300, 1e-7, 5e-324, 0.1, 1.0 / 3.0, -2.5e-10,
                123456789.125, 9007199254740993.0, std::numeric_limits<double>::max(),
                std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                std::numeric_limits<double>::quiet_NaN() });
        row("escapes",
            { QStringLiteral("quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f"),
                QString(QChar(0)), QStringLiteral("\x01\x1f\x7f \x20") });
        QString controls;
        for (char16_t c = 0; c < 0x21; ++c)
            controls.append(QChar(c));
        row("every control char", { controls });
        row("unicode",
            { QStringLiteral("caf\u00e9 \u00ff \u0100 \u07ff \u0800 \u20ac \uffff \ufeff"),
                QString::fromUtf8("\xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87"),
                QString::fromUtf16(u"\U0010FFFF") });
        const QChar high(0xd800), low(0xdc00), last(0xdfff), smiley(0xd83d);
        row("lone surrogates",
            { QString(high), QString(QString(low) + QLatin1Char('x')),
                QString(QString(smiley) + QLatin1Char('a')),
                QString(QString(QLatin1Char('a')) + last + high),
                QString(QString(low) + QString(high)) });
        const QJsonObject inner { { QStringLiteral("z\"\n\u00e9"), QJsonArray { 0.25, false } },
            { QStringLiteral(""), QJsonValue(QJsonValue::Null) } };
        const QJsonObject outer { { QStringLiteral("b"), 1 }, { QStringLiteral("a"), inner },
            { QStringLiteral("\u20ac"), QStringLiteral("v") },
            { QStringLiteral("A"), qint64(-7) } };
        const QJsonArray nestedArray { 1, QJsonArray { QJsonArray(), QJsonObject() },
            QStringLiteral("x") };
        row("nested", QJsonArray { nestedArray, outer, QJsonArray { outer, nestedArray } });
        row("long",
            { QString(
                QString(300, QLatin1Char('x')) + QChar(0xe9) + QString(300, QChar(0x4e2d))) });
        row("from variant",
            QJsonArray::fromVariantList({ QVariant(1.5f), QVariant(uint(7)),
                QVariant(qint64(1) << 60),
                QVariantMap { { QStringLiteral("k"), QVariantList { 1, QStringLiteral("s") } } },
                QVariant(QStringLiteral("t")) }));
    }
    void encoderMatchesQJsonDocument()
    {
        QFETCH(QJsonArray, args);
        QCOMPARE(DistributedPromiseProtocol::encodeArguments(args),
            QJsonDocument(args).toJson(QJsonDocument::Compact));
        for (const QJsonValue &value : args) {
            // encodeValue writes one value alone: QJsonDocument writes it inside an array.
            const QByteArray wrapped
                = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
            QCOMPARE(
                DistributedPromiseProtocol::encodeValue(value), wrapped.mid(1, wrapped.size() - 2));
        }
    }
    void encoderMatchesQJsonDocumentOnRandomInput()
    {
        // Random strings of code units (control characters, ASCII, BMP, surrogates, lone or
        // paired) and random numbers, checked against QJsonDocument.
        QRandomGenerator random(20260);
        const char16_t units[] = { 0x0, 0x8, 0x1f, 0x20, '"', '\\', '/', 'a', 0x7f, 0x80, 0xe9,
            0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffe, 0xffff };
        for (int round = 0; round < 2000; ++round) {
            QJsonArray args;
            QJsonObject object;
            for (int i = 0; i < 4; ++i) {
                QString text;
                const int length = int(random.bounded(12));
                for (int j = 0; j < length; ++j)
                    text.append(
                        QChar(random.bounded(2) ? units[random.bounded(int(std::size(units)))]
                                                : char16_t(random.bounded(0x10000))));
                args.append(text);
                object.insert(
                    text, random.generateDouble() * std::pow(10.0, random.bounded(-30, 30)));
                args.append(qint64(random.generate64()));
                args.append(double(qint64(random.generate64()) >> random.bounded(64)));
            }
            args.append(object);
            QCOMPARE(DistributedPromiseProtocol::encodeArguments(args),
                QJsonDocument(args).toJson(QJsonDocument::Compact));
        }
    }
    void errorsRoundTrip()
    {
        const Outcome error
            = Outcome::failure(DistributedPromiseError::WorkFailed, QStringLiteral("boom \"x\""));
        Outcome read;
        QVERIFY(DistributedPromiseProtocol::decodeEnvelope(
            DistributedPromiseProtocol::encodeEnvelope(error), &read));
        QVERIFY(!read.ok);
        QCOMPARE(read.code, DistributedPromiseError::WorkFailed);
        QCOMPARE(read.message, QStringLiteral("boom \"x\""));
    }
};

QTEST_GUILESS_MAIN(tst_Envelope)
#include "tst_envelope.moc"
