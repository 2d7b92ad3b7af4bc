// SPDX-License-Identifier: MIT
// distributed-promise: look at what DistributedPromise keeps in Redis, and invalidate it.
// See docs/inspect.md.

#include "inspector.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QLoggingCategory>
#include <QtCore/QProcessEnvironment>

#include <map>

using namespace DistributedPromiseInspect;

namespace {
using Command = int (*)(Inspector &, const QStringList &);

const std::map<QString, Command> &commands()
{
    static const std::map<QString, Command> table {
        { QStringLiteral("list"), &listEntries },
        { QStringLiteral("show"), &showEntry },
        { QStringLiteral("locks"), &listLocks },
        { QStringLiteral("invalidate"), &invalidateEntry },
        { QStringLiteral("invalidate-all"), &invalidateAll },
        { QStringLiteral("watch"), &watchOutcomes },
    };
    return table;
}

const char *const commandHelp = R"(Commands:
  list <wrapKey>                  entries of a wrap key: size, ttl, fresh or stale
  show <wrapKey> <argsJson>       one entry's envelope, decoded (argsJson: e.g. '[2026]')
  locks [wrapKey]                 work locks held, by which host:pid, and for how long still
  invalidate <wrapKey> <argsJson> remove one entry, as the library's invalidate() does
  invalidate-all <wrapKey>        remove every entry of a wrap key (a new generation)
  watch [wrapKey]                 print outcomes as they are published, until Ctrl-C

Exit status: 0 done, 1 Redis unreachable or refused, 2 bad usage, URL or arguments,
3 no such entry.)";

int fail(const Failure &failure)
{
    Inspector::note(QStringLiteral("distributed-promise: error: %1").arg(failure.message));
    return failure.exitCode;
}

std::chrono::milliseconds milliseconds(const QString &text, const QString &option)
{
    bool ok = false;
    const qint64 value = text.toLongLong(&ok);
    if (!ok || value < 0)
        throw Failure { ExitCode::Usage,
            QStringLiteral("--%1 takes a number of milliseconds").arg(option) };
    return std::chrono::milliseconds(value);
}
} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("distributed-promise"));

    const DistributedPromiseConfig defaults;
    const QString defaultUrl = QProcessEnvironment::systemEnvironment().value(
        QStringLiteral("REDIS_URL"), defaults.redisUrl.toString());
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Inspects what DistributedPromise keeps in Redis, and invalidates it.\n\n")
        + QString::fromUtf8(commandHelp));
    parser.addHelpOption();
    const QCommandLineOption url(QStringLiteral("url"),
        QStringLiteral("Redis URL, as DistributedPromiseConfig::redisUrl takes it (default: "
                       "$REDIS_URL, else %1). $REDIS_URL keeps a password off the command line.")
            .arg(defaults.redisUrl.toString()),
        QStringLiteral("url"));
    const QCommandLineOption prefix(QStringLiteral("prefix"),
        QStringLiteral("Key prefix (default: %1).").arg(defaults.keyPrefix),
        QStringLiteral("prefix"), defaults.keyPrefix);
    const QCommandLineOption lockPrefix(QStringLiteral("lock-prefix"),
        QStringLiteral("Lock prefix (default: %1).").arg(defaults.lockPrefix),
        QStringLiteral("prefix"), defaults.lockPrefix);
    const QCommandLineOption notifPrefix(QStringLiteral("notif-prefix"),
        QStringLiteral("Channel prefix (default: %1).").arg(defaults.notifPrefix),
        QStringLiteral("prefix"), defaults.notifPrefix);
    const QCommandLineOption separator(QStringLiteral("separator"),
        QStringLiteral("Key separator (default: %1).").arg(defaults.keySeparator),
        QStringLiteral("text"), defaults.keySeparator);
    const QCommandLineOption json(QStringLiteral("json"),
        QStringLiteral("Print JSON (one object per line) instead of text."));
    const QCommandLineOption maxValue(QStringLiteral("max-value"),
        QStringLiteral("Cut values and arguments after this many characters; 0 never (default: "
                       "200)."),
        QStringLiteral("chars"), QStringLiteral("200"));
    const QCommandLineOption allGenerations(QStringLiteral("all-generations"),
        QStringLiteral("list: also the entries of generations before the last invalidate-all."));
    const QCommandLineOption count(QStringLiteral("count"),
        QStringLiteral("watch: stop after this many outcomes."), QStringLiteral("n"),
        QStringLiteral("0"));
    const QCommandLineOption connectTimeout(QStringLiteral("connect-timeout"),
        QStringLiteral("How long to wait for Redis, in ms (default: %1).")
            .arg(defaults.connectTimeout.count()),
        QStringLiteral("ms"), QString::number(defaults.connectTimeout.count()));
    const QCommandLineOption verbose(
        QStringLiteral("verbose"), QStringLiteral("Also print the library's log messages."));
    parser.addOptions({ url, prefix, lockPrefix, notifPrefix, separator, json, maxValue,
        allGenerations, count, connectTimeout, verbose });
    parser.addPositionalArgument(QStringLiteral("command"),
        QStringLiteral("list, show, locks, invalidate, invalidate-all or watch."));
    parser.addPositionalArgument(QStringLiteral("arguments"),
        QStringLiteral("The command's arguments."), QStringLiteral("[arguments...]"));

    if (!parser.parse(QCoreApplication::arguments()))
        return fail({ ExitCode::Usage, parser.errorText() });
    if (parser.isSet(QStringLiteral("help")))
        parser.showHelp(ExitCode::Success);
    QStringList positional = parser.positionalArguments();
    if (positional.isEmpty())
        return fail({ ExitCode::Usage,
            QStringLiteral("a command is needed: list, show, locks, invalidate, invalidate-all "
                           "or watch (--help says more)") });
    const QString name = positional.takeFirst();
    const auto command = commands().find(name);
    if (command == commands().end())
        return fail({ ExitCode::Usage,
            QStringLiteral("unknown command '%1' (--help lists them)").arg(name) });
    if (!parser.isSet(verbose))
        QLoggingCategory::setFilterRules(QStringLiteral("distributedpromise.*=false"));

    try {
        Settings settings;
        settings.config.redisUrl
            = QUrl(parser.isSet(url) ? parser.value(url) : defaultUrl, QUrl::StrictMode);
        settings.config.keyPrefix = parser.value(prefix);
        settings.config.lockPrefix = parser.value(lockPrefix);
        settings.config.notifPrefix = parser.value(notifPrefix);
        settings.config.keySeparator = parser.value(separator);
        settings.config.connectTimeout
            = milliseconds(parser.value(connectTimeout), QStringLiteral("connect-timeout"));
        settings.json = parser.isSet(json);
        settings.allGenerations = parser.isSet(allGenerations);
        bool ok = false;
        settings.maxValueChars = parser.value(maxValue).toInt(&ok);
        if (!ok || settings.maxValueChars < 0)
            throw Failure { ExitCode::Usage, QStringLiteral("--max-value takes a number") };
        settings.count = parser.value(count).toInt(&ok);
        if (!ok || settings.count < 0)
            throw Failure { ExitCode::Usage, QStringLiteral("--count takes a number") };
        Inspector inspector(settings);
        return command->second(inspector, positional);
    } catch (const Failure &failure) {
        return fail(failure);
    }
}
