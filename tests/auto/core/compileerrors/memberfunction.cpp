// SPDX-License-Identifier: MIT
// expect: cannot wrap a member-function pointer
#include <DistributedPromise>

struct Report
{
    int twice(int x) const { return 2 * x; }
};

void use(DistributedPromiseWrapper &wrapper) { wrapper.wrap(QStringLiteral("k"), &Report::twice); }
