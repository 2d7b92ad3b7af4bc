// dp_faultproxy: the FaultProxy of faultproxy.h as a process of its own, for tests whose Redis
// clients are child processes.
//
//   dp_faultproxy --upstream-port N [--upstream-host H] [--port P]
//
// Prints "listening <port>" once ready, then reads one command per line on stdin and answers
// each with one line "ok ..." or "error ..." ("list" adds one line per connection); see
// FaultProxy::execute(). Exits on "quit" or when stdin closes.
#include "faultproxy.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QSocketNotifier>

#include <cstdio>
#include <unistd.h>

using DistributedPromiseTest::FaultProxy;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("A fault-injecting TCP proxy for tests."));
    parser.addHelpOption();
    const QCommandLineOption upstreamPort(
        QStringLiteral("upstream-port"), QStringLiteral("The server's port."), QStringLiteral("N"));
    const QCommandLineOption upstreamHost(QStringLiteral("upstream-host"),
        QStringLiteral("The server's address (default 127.0.0.1)."), QStringLiteral("H"),
        QStringLiteral("127.0.0.1"));
    const QCommandLineOption port(QStringLiteral("port"),
        QStringLiteral("The port to listen on (default: a free one)."), QStringLiteral("P"),
        QStringLiteral("0"));
    parser.addOptions({ upstreamPort, upstreamHost, port });
    parser.process(app);

    bool ok = false;
    const uint upstream = parser.value(upstreamPort).toUInt(&ok);
    if (!ok || upstream == 0 || upstream > 65535) {
        std::fprintf(stderr, "dp_faultproxy: --upstream-port N is required\n");
        return 2;
    }
    FaultProxy proxy(quint16(upstream), parser.value(upstreamHost));
    if (!proxy.start(quint16(parser.value(port).toUInt()))) {
        std::fprintf(stderr, "dp_faultproxy: %s\n", qPrintable(proxy.errorString()));
        return 1;
    }
    std::printf("listening %u\n", unsigned(proxy.port()));
    std::fflush(stdout);

    QByteArray input;
    QSocketNotifier stdinNotifier(STDIN_FILENO, QSocketNotifier::Read);
    QObject::connect(&stdinNotifier, &QSocketNotifier::activated, &app, [&] {
        char buffer[4096];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) { // the test closed our stdin, or died
            stdinNotifier.setEnabled(false);
            QCoreApplication::quit();
            return;
        }
        input.append(buffer, qsizetype(n));
        for (qsizetype end = input.indexOf('\n'); end >= 0; end = input.indexOf('\n')) {
            const QString line = QString::fromUtf8(input.left(end)).trimmed();
            input.remove(0, end + 1);
            if (line.isEmpty())
                continue;
            if (line == QLatin1String("quit")) {
                std::printf("ok\n");
                std::fflush(stdout);
                QCoreApplication::quit();
                return;
            }
            std::printf("%s\n", qPrintable(proxy.execute(line)));
            std::fflush(stdout);
        }
    });
    return QCoreApplication::exec();
}
