// SPDX-License-Identifier: MIT
#pragma once

#include "redisendpoint_p.h"

struct redisAsyncContext;
struct ssl_ctx_st;

namespace DistributedPromiseRedis {

/*!
    The TLS side of a rediss:// connection: one OpenSSL context (SSL_CTX), made at the first
    connect and shared by the sessions of every later one (open sessions keep their own
    reference).
*/
class TlsContext
{
public:
    TlsContext() = default;
    TlsContext(const TlsContext &) = delete;
    TlsContext &operator=(const TlsContext &) = delete;
    ~TlsContext();

    /*! Starts TLS on \a ctx: the server's certificate must chain to cacert (or the system's
        CAs) and be issued for the host (sni= when given): its name, or its IP address. */
    bool start(redisAsyncContext *ctx, const Endpoint &endpoint, QString *error);
    /*! What to check when a TLS session with \a endpoint fails. */
    static QString hint(const Endpoint &endpoint);

private:
    ssl_ctx_st *m_ctx = nullptr;
};

} // namespace DistributedPromiseRedis
