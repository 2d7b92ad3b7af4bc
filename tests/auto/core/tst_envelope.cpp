// SPDX-License-Identifier: MIT
// The envelope reader's fast path for simple values must read exactly what the JSON parser reads.

#include "protocol_p.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtTest/QtTest>

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
