// SPDX-License-Identifier: MIT
// Helper of tst_misuse: makes a DistributedPromiseWrapper before the QCoreApplication exists,
// then calls its work once the application runs. Prints what configurationError() said and how
// the call ended; exits 0 when the call finished, 2 when it did not within 5 s.
//
// Usage: dpbeforeapp <redis url>

#include <DistributedPromise>

#include <QtCore/QCoreApplication>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

#include <chrono>
#include <memory>

int main(int argc, char **argv)
{
    DistributedPromiseConfig config;
    if (argc > 1)
        config.redisUrl = QUrl(QString::fromLocal8Bit(argv[1]));
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    config.connectTimeout = std::chrono::seconds(1);
    auto wrapper = std::make_unique<DistributedPromiseWrapper>(config);
    auto echo = wrapper->wrap(QStringLiteral("beforeapp"), [](int x) { return x; });

    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    out << "configurationError: " << wrapper->configurationError() << Qt::endl;
    QTimer::singleShot(std::chrono::seconds(5), &app, [&] {
        out << "the call did not finish" << Qt::endl;
        app.exit(2);
    });
    // Called from the running event loop, so that exit() ends it.
    QTimer::singleShot(0, &app, [&] {
        echo(1)
            .then(&app,
                [&](int value) {
                    out << "value " << value << Qt::endl;
                    app.exit(0);
                })
            .onFailed(&app, [&](const DistributedPromiseError &error) {
                out << "failed " << DistributedPromiseError::codeName(error.code()) << ": "
                    << error.message() << Qt::endl;
                app.exit(0);
            });
    });
    const int code = app.exec();
    wrapper.reset();
    return code;
}
