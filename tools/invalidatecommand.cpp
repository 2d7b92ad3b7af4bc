// SPDX-License-Identifier: MIT
// invalidate <wrapKey> <argsJson> and invalidate-all <wrapKey>: done through the library's public
// API (a wrapper and a wrap of a stand-in function), so that they remove entries exactly as an
// application would, near caches and generations included.

#include "inspector.h"
#include "json_p.h"

#include "distributedpromisewrapper.h"

#include <QtCore/QEventLoop>
#include <QtCore/QFutureWatcher>
#include <QtCore/QTimer>

#include <array>
#include <utility>

namespace DistributedPromiseInspect {

namespace {
// Calls of up to this many arguments can be invalidated.
constexpr std::size_t maxArguments = 10;

template<std::size_t>
using JsonArgument = QJsonValue;

// Wraps a stand-in taking sizeof...(I) JSON values under \a key (it never runs: invalidation
// does not call the work) and invalidates the entry of \a args.
template<std::size_t... I>
QFuture<void> invalidateWith(DistributedPromiseWrapper *wrapper, const QString &key,
    const QJsonArray &args, std::index_sequence<I...>)
{
    Q_UNUSED(args)
    const auto standIn
        = wrapper->wrap(key, [](const JsonArgument<I> &...) { return QJsonValue(); });
    return standIn.invalidate(args.at(qsizetype(I))...);
}

template<std::size_t N>
QFuture<void> invalidateN(
    DistributedPromiseWrapper *wrapper, const QString &key, const QJsonArray &args)
{
    return invalidateWith(wrapper, key, args, std::make_index_sequence<N>());
}

template<std::size_t... N>
constexpr auto invalidators(std::index_sequence<N...>)
{
    return std::array { &invalidateN<N>... };
}

// A wrapper with the tool's settings, connected (throws when it does not connect in time).
std::unique_ptr<DistributedPromiseWrapper> connectedWrapper(Inspector &inspector)
{
    DistributedPromiseConfig config = inspector.config();
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(config);
    if (!wrapper->configurationError().isEmpty())
        throw Failure { ExitCode::Usage, wrapper->configurationError() };
    if (!wrapper->isConnected()) {
        QEventLoop loop;
        QObject::connect(
            wrapper.get(), &DistributedPromiseWrapper::connectedChanged, &loop, &QEventLoop::quit);
        QTimer::singleShot(
            config.connectTimeout + std::chrono::milliseconds(500), &loop, &QEventLoop::quit);
        loop.exec();
    }
    if (!wrapper->isConnected())
        throw Failure { ExitCode::Failed,
            QStringLiteral("cannot connect to Redis at %1").arg(inspector.where()) };
    return wrapper;
}

// Waits for \a future; its failure becomes a Failure.
void await(const QFuture<void> &future)
{
    if (!future.isFinished()) {
        QEventLoop loop;
        QFutureWatcher<void> watcher;
        QObject::connect(&watcher, &QFutureWatcherBase::finished, &loop, &QEventLoop::quit);
        watcher.setFuture(future);
        if (!future.isFinished())
            loop.exec();
    }
    try {
        QFuture<void>(future).waitForFinished();
    } catch (const DistributedPromiseError &error) {
        throw Failure { ExitCode::Failed, error.message() };
    }
}
} // namespace

int invalidateEntry(Inspector &inspector, const QStringList &args)
{
    if (args.size() != 2)
        throw Failure { ExitCode::Usage, QStringLiteral("usage: invalidate <wrapKey> <argsJson>") };
    const QString wrapKey = args.at(0);
    const QJsonArray arguments = Inspector::parseArguments(args.at(1));
    if (std::size_t(arguments.size()) > maxArguments)
        throw Failure { ExitCode::Usage,
            QStringLiteral("invalidate takes calls of at most %1 arguments").arg(maxArguments) };
    const QString shown = QStringLiteral("%1 %2").arg(
        wrapKey, QString::fromUtf8(DistributedPromiseProtocol::encodeArguments(arguments)));
    inspector.connectToRedis();
    const qint64 generation = inspector.generation(wrapKey);
    const QByteArray key
        = inspector.keyNames().dataKey(inspector.identity(wrapKey, arguments, generation));
    if (inspector.run({ QByteArrayLiteral("EXISTS"), key }).integer == 0)
        throw Failure { ExitCode::NotFound,
            QStringLiteral("no entry for %1 in generation %2; nothing to invalidate")
                .arg(shown)
                .arg(generation) };

    const std::unique_ptr<DistributedPromiseWrapper> wrapper = connectedWrapper(inspector);
    static constexpr auto table = invalidators(std::make_index_sequence<maxArguments + 1>());
    await(table.at(std::size_t(arguments.size()))(wrapper.get(), wrapKey, arguments));

    if (inspector.settings().json)
        Inspector::printJson({ { QStringLiteral("invalidated"), QString::fromUtf8(key) },
            { QStringLiteral("wrapKey"), wrapKey }, { QStringLiteral("arguments"), arguments },
            { QStringLiteral("generation"), generation } });
    else
        Inspector::print(
            QStringLiteral("invalidated %1 (key %2)").arg(shown, QString::fromUtf8(key)));
    return ExitCode::Success;
}

int invalidateAll(Inspector &inspector, const QStringList &args)
{
    if (args.size() != 1)
        throw Failure { ExitCode::Usage, QStringLiteral("usage: invalidate-all <wrapKey>") };
    const QString wrapKey = args.at(0);
    inspector.connectToRedis();
    const qint64 before = inspector.generation(wrapKey);
    const std::unique_ptr<DistributedPromiseWrapper> wrapper = connectedWrapper(inspector);
    const auto standIn = wrapper->wrap(wrapKey, [] { return QJsonValue(); });
    await(standIn.invalidateAll());
    const qint64 after = inspector.generation(wrapKey);

    if (inspector.settings().json)
        Inspector::printJson({ { QStringLiteral("wrapKey"), wrapKey },
            { QStringLiteral("previousGeneration"), before },
            { QStringLiteral("generation"), after } });
    else
        Inspector::print(QStringLiteral("invalidated every entry of '%1': generation %2 -> %3 "
                                        "(older entries are no longer read and expire with "
                                        "their ttl)")
                             .arg(wrapKey)
                             .arg(before)
                             .arg(after));
    return ExitCode::Success;
}

} // namespace DistributedPromiseInspect
