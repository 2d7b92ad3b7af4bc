// SPDX-License-Identifier: MIT
// Makes one wrapped call through an installed DistributedPromise and prints its value; with
// CONSUMER_WITH_QML, makes a second one from QML through the installed QML module.
#include <DistributedPromise>

#include <QtCore/QCoreApplication>
#ifdef CONSUMER_WITH_QML
#include <QtQml/QQmlComponent>
#include <QtQml/QQmlEngine>
#endif

#include <cstdio>
#include <memory>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    DistributedPromiseConfig config;
    config.redisUrl
        = QUrl(qEnvironmentVariable("REDIS_URL", QStringLiteral("redis://127.0.0.1:6379")));
    config.keyPrefix = QStringLiteral("install-consumer");
    config.whenRedisUnavailable = DistributedPromiseConfig::Fail;
    DistributedPromiseWrapper wrapper(config);
    auto square = wrapper.wrap(QStringLiteral("square"), [](int x) { return x * x; });

    int status = 1;
    square(7)
        .then(&app,
            [&status](int value) {
                std::printf("square(7) = %d\n", value);
                status = 0;
            })
        .onFailed(&app,
            [](const DistributedPromiseError &error) {
                std::fprintf(stderr, "consumer: %s\n", error.what());
            })
        .then(&app, [&app] { app.quit(); });
    app.exec();

#ifdef CONSUMER_WITH_QML
    if (status == 0) {
        status = 1;
        QQmlEngine engine; // finds the module through QML_IMPORT_PATH
        QQmlComponent component(&engine);
        component.setData(QByteArrayLiteral("import DistributedPromise\n"
                                            "DistributedCall { key: \"square\"; args: [8] }\n"),
            QUrl(QStringLiteral("consumer.qml")));
        // (Qt 6.4 crashes in createWithInitialProperties() on a component that is not ready.)
        std::unique_ptr<QObject> call(component.isReady()
                ? component.createWithInitialProperties(
                    { { QStringLiteral("wrapper"), QVariant::fromValue(&wrapper) } })
                : nullptr);
        if (!call) {
            std::fprintf(stderr, "consumer: %s\n", qPrintable(component.errorString()));
        } else {
            QObject::connect(call.get(), SIGNAL(finished()), &app, SLOT(quit()));
            app.exec();
            if (call->property("state").toInt() == DistributedPromise::Resolved) {
                std::printf("qml: square(8) = %d\n", call->property("value").toInt());
                status = 0;
            } else {
                std::fprintf(stderr, "consumer: qml call failed: %s\n",
                    qPrintable(call->property("errorString").toString()));
            }
        }
    }
#endif
    return status;
}
