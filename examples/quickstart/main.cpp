#include <DistributedPromise>
#include <QtCore/QCoreApplication>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    DistributedPromiseConfig config;
    config.redisUrl
        = QUrl(qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379")));
    DistributedPromiseWrapper wrapper(config);
    auto joinStr = wrapper.wrap(
        QStringLiteral("joinStr"), [](const QString &a, const QString &b) { return a + b; });
    // Prints "foobar"; started in many processes at once, joinStr still runs once.
    joinStr(QStringLiteral("foo"), QStringLiteral("bar"))
        .then(&app, [](const QString &s) { qInfo("%s", qPrintable(s)); })
        .onFailed(&app, [](const DistributedPromiseError &e) { qWarning("%s", e.what()); })
        .then(&app, [&app] { app.quit(); });
    return app.exec();
}
