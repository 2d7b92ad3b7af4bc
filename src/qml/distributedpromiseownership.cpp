// SPDX-License-Identifier: MIT
// Hands promises made by DistributedPromiseWrapper.call() in JavaScript back to the JavaScript
// engine once they have finished (the wrapper keeps them until then, see call()).

#include "distributedpromise_p.h"

#include <QtQml/QJSEngine>

namespace {

void handToEngine(DistributedPromise *promise)
{
    // A parent, or C++ ownership (a C++ caller's promise): not the engine's business.
    if (promise->parent() || QJSEngine::objectOwnership(promise) != QJSEngine::JavaScriptOwnership)
        return;
    // The engine deletes it along with its JavaScript wrapper once nothing refers to it. If the
    // wrapper was collected while the promise was pending (kept alive by its parent then),
    // nothing in JavaScript can refer to it any more.
    if (!qjsEngine(promise))
        promise->deleteLater();
}

struct HookInstaller
{
    HookInstaller() { DistributedPromiseDetail::setReleasedPromiseHook(&handToEngine); }
    ~HookInstaller() { DistributedPromiseDetail::setReleasedPromiseHook(nullptr); }
};
// Installed when the module's library is loaded (by "import DistributedPromise").
const HookInstaller installer;

} // namespace
