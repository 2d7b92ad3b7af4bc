// SPDX-License-Identifier: MIT
// expect: CodecRequiredFor<UnsupportedResult>.*cannot carry the type
#include <DistributedPromise>

struct UnsupportedResult
{
};

class View
{
    DistributedPromiseFunction<UnsupportedResult(int)> m_load;
};
