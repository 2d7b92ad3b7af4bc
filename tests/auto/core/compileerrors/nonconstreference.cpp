// SPDX-License-Identifier: MIT
// expect: takes a parameter by non-const reference
#include <DistributedPromise>

void use(DistributedPromiseWrapper &wrapper)
{
    wrapper.wrap(QStringLiteral("k"), [](QString &text) { return text; });
}
