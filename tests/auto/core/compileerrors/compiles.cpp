// SPDX-License-Identifier: MIT
// expect: success
// The control: what wrap() accepts compiles with the flags the failing snippets get.
#include <DistributedPromise>

struct Point
{
    int x, y;
};
template<>
struct DistributedPromiseCodec<Point>
{
    static QJsonValue encode(const Point &p) { return QJsonArray { p.x, p.y }; }
    static Point decode(const QJsonValue &v) { return { v[0].toInt(), v[1].toInt() }; }
};

int twice(int x) { return 2 * x; }

void use(DistributedPromiseWrapper &wrapper)
{
    auto points = wrapper.wrap(QStringLiteral("points"),
        [](const QList<std::optional<Point>> &p, QString s) { return p.size() + s.size(); });
    auto pointer = wrapper.wrap(QStringLiteral("twice"), &twice);
    auto nothing = wrapper.wrap(QStringLiteral("nothing"), [](QVariantMap) mutable noexcept {});
    DistributedPromiseFunction<int(int)> member;
    member = pointer;
    const QFuture<int> a = member(2);
    const QFuture<void> b = nothing(QVariantMap());
    const QFuture<qsizetype> c = points({}, QString());
    Q_UNUSED(a)
    Q_UNUSED(b)
    Q_UNUSED(c)
}
