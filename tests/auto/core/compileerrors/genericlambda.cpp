// SPDX-License-Identifier: MIT
// expect: generic lambda \(auto parameters\)
#include <DistributedPromise>

void use(DistributedPromiseWrapper &wrapper)
{
    wrapper.wrap(QStringLiteral("k"), [](auto x) { return x; });
}
