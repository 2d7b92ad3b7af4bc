// SPDX-License-Identifier: MIT
#include "redistls_p.h"

#include <QtCore/QFile>
#include <QtNetwork/QHostAddress>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
#include <hiredis/hiredis_ssl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

namespace DistributedPromiseRedis {

namespace {
// The name the certificate must carry: sni= when given, else the host of the URL.
QString expectedName(const Endpoint &endpoint)
{
    return endpoint.serverName.isEmpty() ? endpoint.host : endpoint.serverName;
}
} // namespace

TlsContext::~TlsContext()
{
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
    if (m_ctx)
        SSL_CTX_free(m_ctx); // open TLS sessions keep their own reference
#endif
}

bool TlsContext::start(redisAsyncContext *ctx, const Endpoint &endpoint, QString *error)
{
#ifdef DISTRIBUTEDPROMISE_HAVE_TLS
    // Our own OpenSSL objects rather than hiredis's redisSSLContext, which checks the chain
    // only: here the certificate must also be issued for the host we connect to.
    static const int openSslReady = redisInitOpenSSL();
    Q_UNUSED(openSslReady)
    if (!m_ctx) {
        const QByteArray ca = QFile::encodeName(endpoint.caCertFile);
        const QByteArray cert = QFile::encodeName(endpoint.certFile);
        const QByteArray key = QFile::encodeName(endpoint.keyFile);
        SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
        QString why;
        if (!tls)
            why = QStringLiteral("out of memory");
        else if (SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION) != 1)
            why = QStringLiteral("TLS 1.2 is not available");
        else if (ca.isEmpty() ? SSL_CTX_set_default_verify_paths(tls) != 1
                              : SSL_CTX_load_verify_locations(tls, ca.constData(), nullptr) != 1)
            why = QStringLiteral("cannot load the CA certificates %1")
                      .arg(ca.isEmpty() ? QStringLiteral("of the system") : endpoint.caCertFile);
        else if (!cert.isEmpty() && SSL_CTX_use_certificate_chain_file(tls, cert.constData()) != 1)
            why = QStringLiteral("cannot load the client certificate %1").arg(endpoint.certFile);
        else if (!key.isEmpty()
            && (SSL_CTX_use_PrivateKey_file(tls, key.constData(), SSL_FILETYPE_PEM) != 1
                || SSL_CTX_check_private_key(tls) != 1))
            why = QStringLiteral("cannot load the client key %1, or it does not match the "
                                 "certificate")
                      .arg(endpoint.keyFile);
        if (!why.isEmpty()) {
            SSL_CTX_free(tls);
            *error = QStringLiteral("cannot set up TLS: %1 (check cacert, cert and key in the URL)")
                         .arg(why);
            return false;
        }
        SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, nullptr);
        m_ctx = tls;
    }
    const QString expected = expectedName(endpoint);
    const QByteArray name = expected.toUtf8();
    const bool isAddress = !QHostAddress(expected).isNull();
    SSL *ssl = SSL_new(m_ctx);
    bool ready = ssl != nullptr;
    if (ready && !name.isEmpty()) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ready = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(param, name.constData()) == 1
                          : (SSL_set_tlsext_host_name(ssl, name.constData()) == 1
                              && X509_VERIFY_PARAM_set1_host(param, name.constData(), 0) == 1);
    }
    if (!ready) {
        SSL_free(ssl);
        *error = QStringLiteral("cannot set up TLS for '%1'").arg(expected);
        return false;
    }
    if (redisInitiateSSL(&ctx->c, ssl) != REDIS_OK) { // hiredis owns ssl only on success
        SSL_free(ssl);
        *error = QStringLiteral("TLS failed: %1 (%2)")
                     .arg(QString::fromUtf8(ctx->c.errstr), hint(endpoint));
        return false;
    }
    return true;
#else
    Q_UNUSED(ctx)
    Q_UNUSED(endpoint)
    *error = QStringLiteral("this build has no TLS support");
    return false;
#endif
}

QString TlsContext::hint(const Endpoint &endpoint)
{
    return QStringLiteral("is the server's certificate signed by the CA in cacert and issued for "
                          "'%1' (sni= names another host), and does the port speak TLS?")
        .arg(expectedName(endpoint));
}

} // namespace DistributedPromiseRedis
