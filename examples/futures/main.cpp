// SPDX-License-Identifier: MIT
// QFuture continuations over shared work: the work runs on a thread pool (QtConcurrent), callers
// chain then()/onFailed() and combine futures with QtFuture::whenAll.
//
//   futures-demo          (REDIS_URL or redis://127.0.0.1:6379)

#include <DistributedPromise>

#include <QtConcurrent/QtConcurrent>
#include <QtCore/QCoreApplication>

#include <stdexcept>

namespace {

// Deliberately slow: counts the primes below n by trial division.
int countPrimes(int n)
{
    if (n > 5'000'000)
        throw std::invalid_argument("n is too large for this demo; use at most 5000000");
    int count = 0;
    for (int i = 2; i < n; ++i) {
        bool prime = true;
        for (int d = 2; d * d <= i && prime; ++d)
            prime = i % d != 0;
        count += prime;
    }
    return count;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    DistributedPromiseConfig config;
    config.redisUrl
        = QUrl(qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379")));
    config.keyPrefix = QStringLiteral("futures-demo-%1").arg(QCoreApplication::applicationPid());
    DistributedPromiseWrapper wrapper(config);

    // The work returns a QFuture, so it runs on the thread pool and the event loop stays free.
    QAtomicInt executions;
    auto primes = wrapper.wrap(QStringLiteral("primes"), [&executions](int n) {
        executions.ref();
        return QtConcurrent::run(countPrimes, n);
    });

    // Five callers, two distinct arguments: the work runs twice.
    QList<QFuture<QString>> lines;
    for (const int n : { 200000, 300000, 200000, 300000, 200000 }) {
        lines.append(primes(n).then(&app,
            [n](int count) { return QStringLiteral("primes below %1: %2").arg(n).arg(count); }));
    }
    // Errors arrive as DistributedPromiseError with the work's message.
    lines.append(primes(10'000'000)
                     .then(&app, [](int count) { return QString::number(count); })
                     .onFailed(&app, [](const DistributedPromiseError &error) {
                         return QStringLiteral("%1: %2").arg(
                             DistributedPromiseError::codeName(error.code()), error.message());
                     }));

    QtFuture::whenAll(lines.begin(), lines.end())
        .then(&app, [&](const QList<QFuture<QString>> &done) {
            for (const QFuture<QString> &line : done)
                qInfo("%s", qPrintable(line.result()));
            const DistributedPromiseStats stats = wrapper.stats();
            qInfo("%llu calls, %d executions, %llu joined a call in flight", stats.calls,
                int(executions.loadRelaxed()), stats.coalesced);
            // Two distinct arguments plus the failing one: three executions for six calls.
            const bool asExpected = executions.loadRelaxed() == 3
                && done.constLast().result().startsWith(QLatin1String("WorkFailed"));
            app.exit(asExpected ? 0 : 1);
        });
    return app.exec();
}
