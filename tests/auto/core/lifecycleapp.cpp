// SPDX-License-Identifier: MIT
// A helper process for tst_lifecycle: an application whose objects go away while a call is still
// pending, in one of several orders, as desktop applications do when a window closes or the user
// quits. Built with QT_FORCE_ASSERTS, so Qt's own header assertions (a continuation whose context
// object is gone) abort it. It prints what its continuations saw, one line each, and exits 0.
//
//   lifecycleapp <scenario> <redis url>

#include <DistributedPromise>

#include <QtCore/QCoreApplication>
#include <QtCore/QPromise>
#include <QtCore/QTimer>

#include <cstdio>
#include <memory>

namespace {
void say(const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// Work that never finishes by itself: the application ends while it runs.
QFuture<int> endless()
{
    static std::vector<std::shared_ptr<QPromise<int>>> running;
    auto promise = std::make_shared<QPromise<int>>();
    promise->start();
    running.push_back(promise);
    return promise->future();
}

QByteArray codeOf(const DistributedPromiseError &error)
{
    return DistributedPromiseError::codeName(error.code()).toUtf8();
}

// A window-like object used as the continuations' context.
class Window : public QObject
{
public:
    ~Window() override { say("window destroyed"); }
};
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 3) {
        say("usage: lifecycleapp <scenario> <redis url>");
        return 2;
    }
    const QString scenario = args.at(1);
    DistributedPromiseConfig config;
    config.redisUrl = QUrl(args.at(2));
    QTimer::singleShot(300, &app, [] {
        say("quitting");
        QCoreApplication::quit();
    });

    if (scenario == QLatin1String("window-destroyed-first")) {
        // The wrapper is declared first, as in the README: the window goes first at exit.
        DistributedPromiseWrapper wrapper(config);
        auto work = wrapper.wrap(QStringLiteral("endless"), [] { return endless(); });
        Window window;
        work()
            .then(&window, [](int) { say("value"); })
            .onFailed(&window,
                [](const DistributedPromiseError &error) { say("failed " + codeOf(error)); });
        return app.exec();
    }
    if (scenario == QLatin1String("wrapper-destroyed-first")) {
        // The window is declared first; its continuation reads the wrapper's counters.
        Window window;
        DistributedPromiseWrapper wrapper(config);
        auto work = wrapper.wrap(QStringLiteral("endless"), [] { return endless(); });
        work()
            .then(&window, [](int) { say("value"); })
            .onFailed(&window, [&wrapper](const DistributedPromiseError &error) {
                say("failed " + codeOf(error) + " after "
                    + QByteArray::number(wrapper.stats().calls) + " call");
            });
        return app.exec();
    }
    if (scenario == QLatin1String("promise-object")) {
        // The QObject side: failed once, then finished once, before anything is destroyed.
        DistributedPromiseWrapper wrapper(config);
        wrapper.wrap(QStringLiteral("endless"), [] { return endless(); });
        std::unique_ptr<DistributedPromise> promise(wrapper.call(QStringLiteral("endless"), {}));
        QObject::connect(
            promise.get(), &DistributedPromise::failed, &app, [] { say("promise failed"); });
        QObject::connect(
            promise.get(), &DistributedPromise::finished, &app, [] { say("promise finished"); });
        return app.exec();
    }
    if (scenario == QLatin1String("wrapper-deleted-while-running")) {
        // A window that owns its wrapper closes while the application goes on: the calls hear
        // of it from the event loop, after the destructor has returned.
        Window window;
        auto wrapper = std::make_unique<DistributedPromiseWrapper>(config);
        auto work = wrapper->wrap(QStringLiteral("endless"), [] { return endless(); });
        bool destroyed = false;
        work()
            .then(&window, [](int) { say("value"); })
            .onFailed(&window, [&destroyed](const DistributedPromiseError &error) {
                say("failed " + codeOf(error)
                    + (destroyed ? " after the destructor" : " inside the destructor"));
            });
        QTimer::singleShot(100, &app, [&] {
            wrapper.reset();
            destroyed = true;
        });
        return app.exec();
    }
    say("unknown scenario");
    return 2;
}
