// SPDX-License-Identifier: MIT
// rediss://: calls travel over TLS to a redis-server that only speaks TLS on that port, the
// server's certificate is checked against the CA in the URL, and a bad CA or file fails with a
// clear ConnectionFailed. The certificates are made for the test with the openssl tool.

#include "coretest.h"

#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>

using namespace CoreTest;
using DistributedPromiseTest::RedisServer;

namespace {
/*! Runs openssl with \a args in \a dir; returns its error output when it fails. */
QString openssl(const QString &dir, const QStringList &args)
{
    QProcess process;
    process.setWorkingDirectory(dir);
    process.start(QStringLiteral("openssl"), args);
    if (!process.waitForFinished(30000) || process.exitCode() != 0)
        return QStringLiteral("openssl %1 failed: %2%3")
            .arg(args.join(QLatin1Char(' ')), process.errorString(),
                QString::fromLocal8Bit(process.readAllStandardError()));
    return {};
}

/*! A key and a certificate signed by ca.pem for \a subjectAltName ("IP:127.0.0.1",
    "DNS:redis.test"): name.key and name.pem. */
QString makeServerCertificate(const QString &dir, const QString &name, const QString &altName)
{
    QFile extensions(dir + QStringLiteral("/") + name + QStringLiteral(".ext"));
    if (!extensions.open(QIODevice::WriteOnly)
        || extensions.write("subjectAltName=" + altName.toUtf8() + "\n") <= 0)
        return QStringLiteral("cannot write %1").arg(extensions.fileName());
    extensions.close();
    QString error = openssl(dir,
        { QStringLiteral("req"), QStringLiteral("-newkey"), QStringLiteral("rsa:2048"),
            QStringLiteral("-nodes"), QStringLiteral("-subj"),
            QStringLiteral("/CN=") + altName.section(QLatin1Char(':'), 1),
            QStringLiteral("-keyout"), name + QStringLiteral(".key"), QStringLiteral("-out"),
            name + QStringLiteral(".csr") });
    if (!error.isEmpty())
        return error;
    return openssl(dir,
        { QStringLiteral("x509"), QStringLiteral("-req"), QStringLiteral("-in"),
            name + QStringLiteral(".csr"), QStringLiteral("-CA"), QStringLiteral("ca.pem"),
            QStringLiteral("-CAkey"), QStringLiteral("ca.key"), QStringLiteral("-CAcreateserial"),
            QStringLiteral("-days"), QStringLiteral("1"), QStringLiteral("-extfile"),
            name + QStringLiteral(".ext"), QStringLiteral("-out"), name + QStringLiteral(".pem") });
}

/*! A self-signed CA named \a name: name.pem and name.key. */
QString makeCa(const QString &dir, const QString &name)
{
    return openssl(dir,
        { QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
            QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-days"),
            QStringLiteral("1"), QStringLiteral("-subj"), QStringLiteral("/CN=") + name,
            QStringLiteral("-keyout"), name + QStringLiteral(".key"), QStringLiteral("-out"),
            name + QStringLiteral(".pem") });
}
} // namespace

class tst_RedisTls : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void callsOverTls();
    void untrustedServer();
    void certificateForAnotherHost();
    void sniNamesTheExpectedHost();
    void missingCaFile();

private:
    QUrl tlsUrl(const QString &ca) const;
    DistributedPromiseConfig failFast(const QUrl &url) const;

    QTemporaryDir m_dir;
    quint16 m_tlsPort = 0;
    std::unique_ptr<RedisServer> m_server;
    // Its certificate, signed by the same CA, is issued for redis.test, not 127.0.0.1.
    quint16 m_elsewherePort = 0;
    std::unique_ptr<RedisServer> m_elsewhere;
};

void tst_RedisTls::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString dir = m_dir.path();
    QString error = makeCa(dir, QStringLiteral("ca"));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    error = makeCa(dir, QStringLiteral("other"));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    // Issued for the address the tests connect to, and one issued for another host name.
    error = makeServerCertificate(dir, QStringLiteral("server"), QStringLiteral("IP:127.0.0.1"));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    error
        = makeServerCertificate(dir, QStringLiteral("elsewhere"), QStringLiteral("DNS:redis.test"));
    QVERIFY2(error.isEmpty(), qPrintable(error));

    // The fixture's own port stays plain (for its PING and for cli()); TLS is on another one.
    m_tlsPort = quint16(unusedRedisUrl().port());
    m_server = std::make_unique<RedisServer>(RedisServer::Transport::Tcp,
        QStringList { QStringLiteral("--tls-port"), QString::number(m_tlsPort),
            QStringLiteral("--tls-cert-file"), m_dir.filePath(QStringLiteral("server.pem")),
            QStringLiteral("--tls-key-file"), m_dir.filePath(QStringLiteral("server.key")),
            QStringLiteral("--tls-ca-cert-file"), m_dir.filePath(QStringLiteral("ca.pem")),
            QStringLiteral("--tls-auth-clients"), QStringLiteral("no") });
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_elsewherePort = quint16(unusedRedisUrl().port());
    m_elsewhere = std::make_unique<RedisServer>(RedisServer::Transport::Tcp,
        QStringList { QStringLiteral("--tls-port"), QString::number(m_elsewherePort),
            QStringLiteral("--tls-cert-file"), m_dir.filePath(QStringLiteral("elsewhere.pem")),
            QStringLiteral("--tls-key-file"), m_dir.filePath(QStringLiteral("elsewhere.key")),
            QStringLiteral("--tls-ca-cert-file"), m_dir.filePath(QStringLiteral("ca.pem")),
            QStringLiteral("--tls-auth-clients"), QStringLiteral("no") });
    QVERIFY2(m_elsewhere->start(), qPrintable(m_elsewhere->errorString()));
}

QUrl tst_RedisTls::tlsUrl(const QString &ca) const
{
    QUrl url;
    url.setScheme(QStringLiteral("rediss"));
    url.setHost(QStringLiteral("127.0.0.1"));
    url.setPort(m_tlsPort);
    url.setQuery(QStringLiteral("cacert=") + ca);
    return url;
}

DistributedPromiseConfig tst_RedisTls::failFast(const QUrl &url) const
{
    DistributedPromiseConfig config;
    config.redisUrl = url;
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    return config;
}

void tst_RedisTls::callsOverTls()
{
    DistributedPromiseConfig config = failFast(tlsUrl(m_dir.filePath(QStringLiteral("ca.pem"))));
    config.keyPrefix = QStringLiteral("tls");
    SquareWrapper s(config);
    QVERIFY2(s.wrapper.configurationError().isEmpty(), qPrintable(s.wrapper.configurationError()));
    QTRY_VERIFY_WITH_TIMEOUT(s.wrapper.isConnected(), 10000);
    QFuture<int> first = s.square(9);
    QTRY_VERIFY_WITH_TIMEOUT(first.isFinished(), 10000);
    QCOMPARE(codeOf(first), QStringLiteral("ok"));
    QCOMPARE(first.result(), 81);
    // Cached through the TLS port, seen through the plain one.
    QCOMPARE(m_server->cli({ QStringLiteral("GET"),
                 dataKey(QStringLiteral("square"), "[9]", config.keyPrefix) }),
        QByteArray(R"({"v":1,"ok":true,"value":81})"));
    QFuture<int> second = s.square(9);
    QTRY_VERIFY_WITH_TIMEOUT(second.isFinished(), 10000);
    QCOMPARE(second.result(), 81);
    QCOMPARE(s.executions, 1);
    QCOMPARE(s.wrapper.stats().hits, quint64(1));
}

void tst_RedisTls::untrustedServer()
{
    SquareWrapper s(failFast(tlsUrl(m_dir.filePath(QStringLiteral("other.pem")))));
    QFuture<int> call = s.square(3);
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 10000);
    QCOMPARE(codeOf(call), QStringLiteral("ConnectionFailed"));
    // Refused during the handshake, or at once when the handshake ends inside the connect.
    QVERIFY2(messageOf(call).contains(QStringLiteral("TLS session failed"))
            || messageOf(call).contains(QStringLiteral("TLS failed")),
        qPrintable(messageOf(call)));
    QVERIFY2(messageOf(call).contains(QStringLiteral("signed by the CA in cacert")),
        qPrintable(messageOf(call)));
    QVERIFY(!s.wrapper.isConnected());
}

void tst_RedisTls::certificateForAnotherHost()
{
    // Trusted chain, wrong name: any certificate of the CA would do otherwise.
    QUrl url = tlsUrl(m_dir.filePath(QStringLiteral("ca.pem")));
    url.setPort(m_elsewherePort);
    SquareWrapper s(failFast(url));
    QFuture<int> call = s.square(3);
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 10000);
    QCOMPARE(codeOf(call), QStringLiteral("ConnectionFailed"));
    QVERIFY2(messageOf(call).contains(QStringLiteral("issued for '127.0.0.1'")),
        qPrintable(messageOf(call)));
    QCOMPARE(s.executions, 0);
    QVERIFY(!s.wrapper.isConnected());
}

void tst_RedisTls::sniNamesTheExpectedHost()
{
    QUrl url = tlsUrl(m_dir.filePath(QStringLiteral("ca.pem")));
    url.setPort(m_elsewherePort);
    url.setQuery(url.query() + QStringLiteral("&sni=redis.test"));
    SquareWrapper s(failFast(url));
    QTRY_VERIFY_WITH_TIMEOUT(s.wrapper.isConnected(), 10000);
    QFuture<int> call = s.square(4);
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 10000);
    QCOMPARE(codeOf(call), QStringLiteral("ok"));
    QCOMPARE(call.result(), 16);
}

void tst_RedisTls::missingCaFile()
{
    SquareWrapper s(failFast(tlsUrl(m_dir.filePath(QStringLiteral("no-such-ca.pem")))));
    QFuture<int> call = s.square(3);
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 10000);
    QCOMPARE(codeOf(call), QStringLiteral("ConnectionFailed"));
    QVERIFY2(
        messageOf(call).contains(QStringLiteral("cannot set up TLS")), qPrintable(messageOf(call)));
}

QTEST_GUILESS_MAIN(tst_RedisTls)
#include "tst_redistls.moc"
