// SPDX-License-Identifier: MIT
// expect: CodecRequiredFor<UnsupportedPoint>.*cannot carry the type
#include <DistributedPromise>

struct UnsupportedPoint
{
    int x, y;
};

void use(DistributedPromiseWrapper &wrapper)
{
    wrapper.wrap(QStringLiteral("k"), [](UnsupportedPoint p) { return p.x; });
}
