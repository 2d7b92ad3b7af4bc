// SPDX-License-Identifier: MIT
// One dashboard window. The report comes from DistributedCall: it calls the work wrapped in C++
// under "report" whenever the year changes, and the whole fleet computes each year only once.
import QtQuick
import QtQuick.Window
import DistributedPromise

Window {
    id: window

    // From main.cpp (QQmlApplicationEngine::setInitialProperties).
    required property DistributedPromiseWrapper wrapper
    required property QtObject dashboard
    required property int year

    readonly property var report: reportCall.state === DistributedPromise.Resolved ? reportCall.value : null
    readonly property bool computedHere: report !== null && report.computedBy === dashboard.pid
    // Seconds since the shown report was computed (ticks once a second).
    property int age: 0
    property bool refreshing: false

    Timer {
        interval: 1000
        repeat: true
        running: reportCall.state === DistributedPromise.Resolved
        triggeredOnStart: true
        onTriggered: window.age = reportCall.updatedAt.getTime()
                     ? Math.max(0, Math.round((Date.now() - reportCall.updatedAt.getTime()) / 1000)) : 0
    }

    width: 640
    height: 400
    visible: true
    color: "#f3f4f6"
    title: "Sales dashboard " + year + " (pid " + dashboard.pid + ")"

    DistributedCall {
        id: reportCall
        objectName: "reportCall"
        wrapper: window.wrapper
        key: "report"
        args: [window.year]
        // The last phase before Done says where the value came from.
        property int source: DistributedPromise.CheckingCache
        onPhaseChanged: if (phase !== DistributedPromise.Done) source = phase
    }

    component Button: Rectangle {
        id: button
        property alias text: label.text
        property bool selected: false
        signal clicked()
        width: Math.max(44, label.implicitWidth + 24)
        height: 34
        radius: 6
        color: selected ? "#2563eb" : mouse.pressed ? "#d1d5db" : "#ffffff"
        border.color: selected ? "#2563eb" : "#d1d5db"
        Text {
            id: label
            anchors.centerIn: parent
            font.pixelSize: 15
            color: button.selected ? "#ffffff" : "#111827"
        }
        MouseArea {
            id: mouse
            anchors.fill: parent
            onClicked: button.clicked()
        }
    }

    Column {
        anchors.fill: parent
        anchors.margins: 24
        spacing: 18

        Text {
            text: "Sales dashboard"
            font.pixelSize: 26
            font.bold: true
            color: "#111827"
        }

        Row {
            spacing: 8
            Button { text: "\u25C0"; onClicked: window.year -= 1 }
            Repeater {
                model: 4
                Button {
                    required property int index
                    readonly property int buttonYear: 2023 + index
                    text: buttonYear
                    selected: window.year === buttonYear
                    onClicked: window.year = buttonYear
                }
            }
            Button { text: "\u25B6"; onClicked: window.year += 1 }
        }

        Rectangle {
            width: parent.width
            height: 190
            radius: 10
            color: "#ffffff"
            border.color: "#e5e7eb"

            Column {
                anchors.fill: parent
                anchors.margins: 18
                spacing: 10

                Row {
                    spacing: 10
                    Rectangle {
                        anchors.verticalCenter: parent.verticalCenter
                        width: 12; height: 12; radius: 6
                        color: reportCall.running ? "#f59e0b"
                             : reportCall.state === DistributedPromise.Resolved ? "#16a34a" : "#dc2626"
                    }
                    Text {
                        anchors.verticalCenter: parent.verticalCenter
                        font.pixelSize: 16
                        color: "#374151"
                        text: !reportCall.running
                              ? (reportCall.state === DistributedPromise.Resolved ? "Report " + window.year + " ready"
                                 : reportCall.hasError ? "Failed: " + reportCall.errorString
                                 : "Idle")
                            : reportCall.phase === DistributedPromise.RunningHere
                              ? "Computing the " + window.year + " report here\u2026"
                            : reportCall.phase === DistributedPromise.WaitingForOther
                              ? "Another process is computing it (" + reportCall.phaseText + ")\u2026"
                            : reportCall.phase === DistributedPromise.TakingOver
                              ? "The process computing it went away: " + reportCall.phaseText + "\u2026"
                            : "Looking for the " + window.year + " report\u2026"
                    }
                    Button {
                        objectName: "retry"
                        visible: reportCall.hasError
                        text: "Retry"
                        onClicked: reportCall.refresh()
                    }
                    Button {
                        // Runs the work again now, once across every process; the windows then
                        // call again and get the new report from the cache.
                        objectName: "refresh"
                        visible: reportCall.state === DistributedPromise.Resolved && !window.refreshing
                        text: "Refresh"
                        onClicked: {
                            window.refreshing = true
                            const promise = window.wrapper.refresh("report", [window.year])
                            promise.finished.connect(() => {
                                window.refreshing = false
                                reportCall.refresh()
                            })
                        }
                    }
                }

                Text {
                    visible: window.report !== null
                    font.pixelSize: 34
                    font.bold: true
                    color: "#111827"
                    text: window.report ? window.report.units.toLocaleString(Qt.locale("en_US"), "f", 0) + " units" : ""
                }
                Text {
                    visible: window.report !== null
                    font.pixelSize: 16
                    color: "#374151"
                    text: window.report
                          ? "Revenue $" + window.report.revenue.toLocaleString(Qt.locale("en_US"), "f", 0)
                            + " \u00B7 top region: " + window.report.topRegion
                          : ""
                }
                Text {
                    visible: window.report !== null
                    font.pixelSize: 14
                    color: window.computedHere ? "#1d4ed8" : "#047857"
                    text: !window.report ? ""
                        : window.computedHere
                          ? "Computed by this process (pid " + window.report.computedBy + ") at "
                            + window.report.computedAt + " in " + window.report.workMs + " ms"
                          : "Computed by pid " + window.report.computedBy + " at " + window.report.computedAt
                            + (reportCall.source === DistributedPromise.CheckingCache
                               ? ", from the Redis cache" : ", shared through Redis as it finished")
                }
                Text {
                    objectName: "freshness"
                    visible: window.report !== null
                    font.pixelSize: 14
                    color: reportCall.stale ? "#b45309" : "#6b7280"
                    text: "Updated " + window.age + " s ago"
                          + (reportCall.stale ? " \u00B7 stale, refreshing in the background" : "")
                          + (window.refreshing ? " \u00B7 refreshing" : "")
                }
            }
        }

        Text {
            font.pixelSize: 13
            color: "#6b7280"
            text: "This process ran the report work " + window.dashboard.computedCount
                  + (window.dashboard.computedCount === 1 ? " time" : " times")
                  + " \u00B7 Redis " + window.dashboard.redisUrl
                  + (window.wrapper.connected ? "" : " (not connected)")
        }
    }
}
