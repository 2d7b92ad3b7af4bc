// SPDX-License-Identifier: MIT
// DistributedPromiseWrapper.call() from QML and the DistributedPromise objects it returns.
// testWrapper and testWork come from tst_qml.cpp.
import QtQuick
import QtTest
import DistributedPromise

TestCase {
    id: testCase
    name: "Wrapper"

    SignalSpy { id: resolvedSpy; signalName: "resolved" }
    SignalSpy { id: failedSpy; signalName: "failed" }
    SignalSpy { id: finishedSpy; signalName: "finished" }

    property int serial: 0
    // A tag no earlier call used, so the call misses the cache.
    function uniqueTag() {
        serial += 1
        return "wrapper-" + serial + "-" + Date.now()
    }

    function spyOn(promise) {
        resolvedSpy.clear()
        failedSpy.clear()
        finishedSpy.clear()
        resolvedSpy.target = promise
        failedSpy.target = promise
        finishedSpy.target = promise
    }

    function test_enumsAreRegistered() {
        compare(DistributedPromiseError.NoError, -1)
        compare(DistributedPromise.Pending, 0)
        compare(DistributedPromise.Resolved, 1)
        compare(DistributedPromise.Failed, 2)
        compare(DistributedPromiseError.WorkFailed, 0)
        compare(DistributedPromiseError.Timeout, 1)
        compare(DistributedPromiseError.Cancelled, 2)
        compare(DistributedPromiseError.ConnectionFailed, 3)
        compare(DistributedPromiseError.RedisError, 4)
        compare(DistributedPromiseError.DecodeFailed, 5)
        compare(DistributedPromiseError.InvalidArgument, 6)
    }

    function test_typesAreNotCreatable_data() {
        return [
            { tag: "DistributedPromise", type: "DistributedPromise" },
            { tag: "DistributedPromiseWrapper", type: "DistributedPromiseWrapper" },
        ]
    }

    function test_typesAreNotCreatable(data) {
        let error = ""
        try {
            Qt.createQmlObject("import DistributedPromise\n" + data.type + " {}", testCase)
        } catch (e) {
            error = e.qmlErrors ? e.qmlErrors[0].message : String(e)
        }
        verify(error.length > 0, "creating " + data.type + " in QML must fail")
    }

    function test_wrapperIsExposed() {
        verify(testWrapper)
        verify(testWrapper instanceof DistributedPromiseWrapper)
        tryCompare(testWrapper, "connected", true)
    }

    function test_statisticsAreReadable() {
        const before = testWrapper.statistics()
        verify(before.calls !== undefined)
        const promise = testWrapper.call("add", [20, 22])
        spyOn(promise)
        tryCompare(finishedSpy, "count", 1, 10000)
        const after = testWrapper.statistics()
        compare(after.calls, before.calls + 1)
        compare(after.hits + after.won, before.hits + before.won + 1)
        compare(after.errors, before.errors)
    }

    function test_callResolves() {
        const promise = testWrapper.call("add", [2, 3])
        spyOn(promise)
        verify(promise instanceof DistributedPromise)
        compare(promise.key, "add")
        // The outcome never arrives before the event loop runs.
        compare(promise.state, DistributedPromise.Pending)
        compare(promise.value, undefined)
        compare(promise.errorCode, -1)

        resolvedSpy.wait(10000)
        compare(resolvedSpy.count, 1)
        compare(resolvedSpy.signalArguments[0][0], 5)
        compare(promise.state, DistributedPromise.Resolved)
        compare(promise.value, 5)
        compare(promise.errorString, "")
        compare(promise.errorCode, -1)
        compare(promise.errorCode, DistributedPromiseError.NoError)
        compare(promise.hasError, false)
        tryCompare(finishedSpy, "count", 1)
        compare(failedSpy.count, 0)
    }

    function test_falsyValuesAreValues_data() {
        return [
            { tag: "zero", args: [0, 0], expected: 0 },
            { tag: "negative", args: [2, -5], expected: -3 },
        ]
    }

    function test_falsyValuesAreValues(data) {
        const promise = testWrapper.call("add", data.args)
        tryCompare(promise, "state", DistributedPromise.Resolved, 10000)
        compare(promise.value, data.expected)
    }

    function test_valuesKeepTheirShape() {
        const sent = { name: "report", years: [2025, 2026], ok: true, empty: "", nothing: null }
        const promise = testWrapper.call("echo", [sent])
        tryCompare(promise, "state", DistributedPromise.Resolved, 10000)
        compare(promise.value, sent)
    }

    function test_workFailure() {
        const promise = testWrapper.call("fail", [])
        spyOn(promise)
        failedSpy.wait(10000)
        compare(failedSpy.count, 1)
        compare(failedSpy.signalArguments[0][0], DistributedPromiseError.WorkFailed)
        compare(failedSpy.signalArguments[0][1], "boom")
        compare(promise.state, DistributedPromise.Failed)
        compare(promise.errorCode, DistributedPromiseError.WorkFailed)
        compare(promise.errorString, "boom")
        // WorkFailed is 0: hasError tells a failure from no error.
        verify(promise.hasError)
        compare(promise.value, undefined)
        tryCompare(finishedSpy, "count", 1)
        compare(resolvedSpy.count, 0)
    }

    function test_unknownKey() {
        const promise = testWrapper.call("no-such-work", [1])
        spyOn(promise)
        failedSpy.wait(10000)
        compare(promise.state, DistributedPromise.Failed)
        compare(promise.errorCode, DistributedPromiseError.InvalidArgument)
        verify(promise.errorString.indexOf("no-such-work") >= 0, promise.errorString)
        tryCompare(finishedSpy, "count", 1)
    }

    function test_wrongArgumentCount() {
        const promise = testWrapper.call("add", [1])
        tryCompare(promise, "state", DistributedPromise.Failed, 10000)
        compare(promise.errorCode, DistributedPromiseError.InvalidArgument)
    }

    function test_argumentJsonCannotCarry() {
        // A QObject is not JSON.
        const promise = testWrapper.call("add", [testWork, 1])
        tryCompare(promise, "state", DistributedPromise.Failed, 10000)
        compare(promise.errorCode, DistributedPromiseError.InvalidArgument)
    }

    function test_sameCallInFlightRunsOnce() {
        const tag = uniqueTag()
        const runsBefore = testWork.slowRuns
        const first = testWrapper.call("slow", [200, tag])
        const second = testWrapper.call("slow", [200, tag])
        tryCompare(first, "state", DistributedPromise.Resolved, 10000)
        tryCompare(second, "state", DistributedPromise.Resolved, 10000)
        compare(first.value, tag)
        compare(second.value, tag)
        compare(testWork.slowRuns, runsBefore + 1)

        // And a later call is served from the cache.
        const third = testWrapper.call("slow", [200, tag])
        tryCompare(third, "state", DistributedPromise.Resolved, 10000)
        compare(third.value, tag)
        compare(testWork.slowRuns, runsBefore + 1)
    }

    // Calls slow(300, tag) count times, keeping no reference to the promises.
    function callUnreferenced(count, tag, onResolved) {
        for (let i = 0; i < count; ++i) {
            const promise = testWrapper.call("slow", [300, tag])
            testWork.track(promise)
            promise.resolved.connect(onResolved)
        }
    }

    function test_pendingPromisesSurviveGarbageCollection() {
        // Promises nothing refers to any more still deliver to their handlers: the wrapper
        // keeps them until they have finished, then the engine collects them.
        const tag = uniqueTag()
        const count = 200
        const destroyedBefore = testWork.destroyedCount
        let resolved = 0
        // In a function of its own, so that no promise is left on this frame's stack.
        callUnreferenced(count, tag, value => {
            if (value === tag)
                resolved += 1
        })
        gc()
        tryVerify(() => resolved === count, 10000,
                  "resolved handlers that ran: " + resolved + " of " + count)
        tryVerify(() => {
            gc()
            return testWork.destroyedCount - destroyedBefore === count
        }, 10000, "finished promises the engine collected: "
                  + (testWork.destroyedCount - destroyedBefore) + " of " + count)
    }

    function test_callWithParent() {
        // The parent owns the promise, and it stays the parent after the promise finished.
        const promise = testWrapper.call("add", [3, 4], testCase)
        tryCompare(promise, "state", DistributedPromise.Resolved, 10000)
        compare(promise.value, 7)
        verify(testWork.isParentOf(testCase, promise))
    }
}
