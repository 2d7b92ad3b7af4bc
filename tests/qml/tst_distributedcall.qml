// SPDX-License-Identifier: MIT
// The declarative DistributedCall element. testWrapper and testWork come from tst_qml.cpp.
import QtQuick
import QtTest
import DistributedPromise

TestCase {
    id: testCase
    name: "DistributedCall"

    property int serial: 0
    // A number no earlier call used, so calls with it miss the cache and run the work.
    function uniqueNumber() {
        serial += 1
        return serial * 1000 + Math.floor(Math.random() * 1000)
    }
    function uniqueTag() {
        serial += 1
        return "call-" + serial + "-" + Date.now()
    }

    Component {
        id: addComponent
        Item {
            id: root
            property alias call: theCall
            property int a: 2
            property int b: 3
            // Bound to the call's value, as a UI would be.
            property var shown: theCall.value
            property var values: []
            property alias resolvedSpy: resolvedSpy
            property alias failedSpy: failedSpy
            property alias finishedSpy: finishedSpy

            DistributedCall {
                id: theCall
                wrapper: testWrapper
                key: "add"
                args: [root.a, root.b]
                onValueChanged: root.values.push(value)
            }
            SignalSpy { id: resolvedSpy; target: theCall; signalName: "resolved" }
            SignalSpy { id: failedSpy; target: theCall; signalName: "failed" }
            SignalSpy { id: finishedSpy; target: theCall; signalName: "finished" }
        }
    }

    Component {
        id: bareComponent
        DistributedCall {}
    }

    Component {
        id: spyComponent
        SignalSpy {}
    }

    function spy(target, signalName) {
        return createTemporaryObject(spyComponent, testCase, { target: target, signalName: signalName })
    }

    function test_callsWhenComplete() {
        const item = createTemporaryObject(addComponent, testCase)
        verify(item)
        // The first call is made when the component is complete.
        compare(item.call.running, true)
        compare(item.call.state, DistributedPromise.Pending)
        compare(item.call.value, undefined)
        tryCompare(item.call, "state", DistributedPromise.Resolved, 10000)
        compare(item.call.value, 5)
        compare(item.shown, 5)
        compare(item.call.running, false)
        compare(item.call.errorCode, -1)
        compare(item.call.errorString, "")
        compare(item.resolvedSpy.count, 1)
        compare(item.resolvedSpy.signalArguments[0][0], 5)
        compare(item.finishedSpy.count, 1)
        compare(item.failedSpy.count, 0)
    }

    function test_rerunsWhenArgsChange() {
        const item = createTemporaryObject(addComponent, testCase)
        tryCompare(item, "shown", 5, 10000)

        item.a = 10
        // The old value no longer describes the call.
        compare(item.call.running, true)
        compare(item.call.state, DistributedPromise.Pending)
        compare(item.shown, undefined)
        tryCompare(item, "shown", 13, 10000)
        compare(item.call.state, DistributedPromise.Resolved)
        compare(item.resolvedSpy.count, 2)
        compare(item.finishedSpy.count, 2)

        item.b = 32
        tryCompare(item, "shown", 42, 10000)
        compare(item.values.filter(v => v !== undefined), [5, 13, 42])
    }

    function test_changesInOneTurnMakeOneCall() {
        const item = createTemporaryObject(addComponent, testCase)
        tryCompare(item.call, "state", DistributedPromise.Resolved, 10000)

        const a = uniqueNumber()
        const b = uniqueNumber()
        const runsBefore = testWork.addRuns
        item.a = a
        item.b = b
        item.call.refresh()
        tryCompare(item.call, "state", DistributedPromise.Resolved, 10000)
        compare(item.call.value, a + b)
        // Only (a, b) ran: not (a, 3) in between, and not twice.
        compare(testWork.addRuns, runsBefore + 1)
        compare(item.resolvedSpy.count, 2)
        compare(item.finishedSpy.count, 2)
    }

    function test_keyChange() {
        const item = createTemporaryObject(addComponent, testCase)
        tryCompare(item.call, "state", DistributedPromise.Resolved, 10000)

        // Key and arguments change in one turn: one call, fail() with no arguments.
        item.call.key = "fail"
        item.call.args = []
        tryCompare(item.call, "state", DistributedPromise.Failed, 10000)
        compare(item.call.errorCode, DistributedPromiseError.WorkFailed)
        // WorkFailed is 0: hasError tells a failure from no error.
        verify(item.call.hasError)
        compare(item.call.errorString, "boom")
        compare(item.call.value, undefined)
        compare(item.call.running, false)
        compare(item.failedSpy.count, 1)
        compare(item.failedSpy.signalArguments[0][0], DistributedPromiseError.WorkFailed)
        compare(item.failedSpy.signalArguments[0][1], "boom")
        compare(item.finishedSpy.count, 2)

        item.call.key = "add"
        item.call.args = [20, 22]
        tryCompare(item.call, "state", DistributedPromise.Resolved, 10000)
        compare(item.call.value, 42)
        compare(item.call.errorCode, -1)
        compare(item.call.errorCode, DistributedPromiseError.NoError)
        compare(item.call.hasError, false)
        compare(item.call.errorString, "")
    }

    function test_unknownKey() {
        const call = createTemporaryObject(bareComponent, testCase,
                                           { wrapper: testWrapper, key: "no-such-work", args: [1] })
        tryCompare(call, "state", DistributedPromise.Failed, 10000)
        compare(call.errorCode, DistributedPromiseError.InvalidArgument)
        verify(call.errorString.indexOf("no-such-work") >= 0, call.errorString)
    }

    function test_noCallWithoutWrapperOrKey() {
        const call = createTemporaryObject(bareComponent, testCase, { key: "add", args: [1, 2] })
        compare(call.running, false)
        wait(50)
        compare(call.running, false)
        compare(call.state, DistributedPromise.Pending)

        call.wrapper = testWrapper
        compare(call.running, true)
        tryCompare(call, "value", 3, 10000)

        call.key = ""
        compare(call.running, false)
        compare(call.state, DistributedPromise.Pending)
        compare(call.value, undefined)
        wait(50)
        compare(call.state, DistributedPromise.Pending)
    }

    function test_supersededOutcomeIsIgnored() {
        const oldTag = uniqueTag()
        const newTag = uniqueTag()
        const runsBefore = testWork.slowRuns
        const call = createTemporaryObject(bareComponent, testCase,
                                           { wrapper: testWrapper, key: "slow", args: [100, oldTag] })
        const resolved = spy(call, "resolved")
        const finished = spy(call, "finished")
        const seen = []
        call.stateChanged.connect(() => seen.push(call.value))
        tryCompare(testWork, "slowRuns", runsBefore + 1, 10000) // the old work started

        call.args = [1500, newTag]
        // Another caller of the old identity: once it has its outcome, so would the old call.
        const probe = testWrapper.call("slow", [100, oldTag])
        tryCompare(probe, "state", DistributedPromise.Resolved, 10000)
        compare(probe.value, oldTag)
        wait(0)
        compare(call.state, DistributedPromise.Pending)
        compare(call.running, true)
        compare(resolved.count, 0)
        compare(finished.count, 0)

        tryCompare(call, "state", DistributedPromise.Resolved, 10000)
        compare(call.value, newTag)
        compare(resolved.count, 1)
        compare(resolved.signalArguments[0][0], newTag)
        compare(finished.count, 1)
        verify(seen.indexOf(oldTag) < 0, "the superseded value was shown: " + JSON.stringify(seen))
    }

    function test_refreshServesFromCache() {
        const a = uniqueNumber()
        const call = createTemporaryObject(bareComponent, testCase,
                                           { wrapper: testWrapper, key: "add", args: [a, 1] })
        const finished = spy(call, "finished")
        tryCompare(call, "value", a + 1, 10000)
        const runs = testWork.addRuns

        call.refresh()
        compare(call.running, true)
        tryCompare(finished, "count", 2, 10000)
        compare(call.state, DistributedPromise.Resolved)
        compare(call.value, a + 1)
        compare(testWork.addRuns, runs)
    }

    function test_handlerMayChangeArgs() {
        // A resolved handler that starts the next call: the finishing call's object must survive
        // its own signal, and the chain must end with the right value.
        const call = createTemporaryObject(bareComponent, testCase,
                                           { wrapper: testWrapper, key: "add", args: [0, 1] })
        const resolved = spy(call, "resolved")
        const finished = spy(call, "finished")
        call.resolved.connect(value => {
            if (value < 5)
                call.args = [value, 1]
        })
        tryCompare(call, "value", 5, 10000)
        compare(resolved.count, 5)
        compare(finished.count, 5)
        wait(50)
        compare(call.state, DistributedPromise.Resolved)
        compare(resolved.count, 5)
    }

    function test_destroyedWhileRunning() {
        const call = createTemporaryObject(bareComponent, testCase,
                                           { wrapper: testWrapper, key: "slow", args: [100, uniqueTag()] })
        compare(call.running, true)
        call.destroy()
        wait(200)
        // Nothing to check but that nothing crashed and the wrapper still works.
        const probe = testWrapper.call("add", [1, 1])
        tryCompare(probe, "value", 2, 10000)
    }

    function test_freshnessFromQml() {
        // updatedAt and stale describe the value; refresh() and invalidate() by key return
        // promises, and the next call sees what they did.
        const tag = uniqueTag()
        const call = createTemporaryObject(bareComponent, testCase,
                                           { wrapper: testWrapper, key: "stamp", args: [tag] })
        tryCompare(call, "state", DistributedPromise.Resolved, 10000)
        compare(call.stale, false)
        verify(call.updatedAt.getTime() > 0)
        verify(Date.now() - call.updatedAt.getTime() < 10000)
        const first = call.value
        const refreshed = testWrapper.refresh("stamp", [tag])
        tryCompare(refreshed, "state", DistributedPromise.Resolved, 10000)
        verify(refreshed.value !== first)
        const removed = testWrapper.invalidate("stamp", [tag])
        tryCompare(removed, "state", DistributedPromise.Resolved, 10000)
        const all = testWrapper.invalidateAll("stamp")
        tryCompare(all, "state", DistributedPromise.Resolved, 10000)
        call.refresh()
        tryCompare(call, "state", DistributedPromise.Resolved, 10000)
        verify(call.value !== first && call.value !== refreshed.value)
    }
}
