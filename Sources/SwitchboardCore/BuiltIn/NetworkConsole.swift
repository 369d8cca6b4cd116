#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes

/// `Switchboard.Admin.Console`: a feed of the API's WebSocket and HTTP events.
///
/// It starts paused; `OPEN` starts the feed, `PAUSE` stops it, `CLOSE` returns to the Shell. Open it
/// running with `/admin.console/status=open`. Console connections are never logged, by any console.
actor NetworkConsole: FeedTerminal {
    static var resourceName: String { "Switchboard.Admin.Console" }
    static var resourceDescription: String { "A live feed of the API's WebSocket and HTTP events (OPEN, PAUSE, CLOSE)" }

    enum Format: String, CaseIterable, PropertyValue { case line = "Line", json = "JSON" }

    @Property(description: "PAUSED or OPEN: whether events are sent") var status = FeedStatus.paused
    @Property(description: "Line or JSON: one line of text, or one JSON object, per event") var format = Format.line
    @Property(description: "Include the text of WebSocket messages and the URI of HTTP requests") var includeContent = false

    private let events: NetworkEvents
    private let cluster: ClusterMembership
    private var relay: Task<Void, Never>?
    private var listenerID: Int?

    init(events: NetworkEvents, cluster: ClusterMembership) {
        self.events = events
        self.cluster = cluster
    }

    var welcome: String { "### Switchboard network console ###\nEvents of the API's WebSocket connections and HTTP requests." }

    func startFeed(on connection: TerminalConnection) async throws {
        let (id, stream) = events.listen(from: connection.id)
        listenerID = id
        relay = Task { [weak self] in
            for await event in stream {
                guard let self else { return }
                await self.forward(event, to: connection)
            }
        }
        // In a cluster, the other instances send their events from now on.
        await cluster.consoleStarted()
    }

    private func forward(_ event: NetworkEvent, to connection: TerminalConnection) async {
        var event = event
        if event.instance == nil { event.instance = cluster.instanceName }
        do {
            try await feed(format == .json ? Self.json(event, content: includeContent).compact : Self.line(event, content: includeContent), to: connection)
        } catch {
            relay?.cancel()
        }
    }

    func stopFeed() async {
        relay?.cancel()
        if let listenerID { events.stopListening(listenerID) }
    }

    static func line(_ event: NetworkEvent, content: Bool) -> String {
        let marker =
            switch event.kind {
            case .webSocketOpened: "++"
            case .webSocketClosed: "--"
            case .webSocketInput, .httpRequest: "=>"
            case .webSocketOutput: "<="
            }
        var line = "\(marker) \(ISO8601.format(event.time))"
        switch (event.instance, event.connectionID) {
        case (let instance?, let id?): line += "[\(escaped(instance))/\(id)]"
        case (let instance?, nil): line += "[\(escaped(instance))]"
        case (nil, let id?): line += "[\(id)]"
        case (nil, nil): break
        }
        line += " " + escaped(event.message)
        if let elapsed = event.elapsedMilliseconds { line += " (\(RESTResponse.format(milliseconds: elapsed)) ms)" }
        if !event.clientIP.isEmpty { line += " | Connection: \(escaped(event.clientIP))" }
        if content, let text = event.content { line += " | Content: \(escaped(text))" }
        return line
    }

    /// Text on one line with no control characters: line breaks, tabs, escape sequences and other C0/C1
    /// controls are written as `\n`, `\t`, `\u{1B}`, so that an event can neither forge another line nor
    /// drive the watcher's terminal.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func json(_ event: NetworkEvent, content: Bool) -> JSON {
        var object: JSONObject = ["Type": .string(event.kind.rawValue), "Time": .string(ISO8601.format(event.time))]
        if let instance = event.instance { object["Instance"] = .string(instance) }
        if let id = event.connectionID { object["Id"] = .string(id) }
        object["Message"] = .string(event.message)
        if let elapsed = event.elapsedMilliseconds { object["ElapsedMilliseconds"] = .double(elapsed) }
        object["ClientIP"] = .string(event.clientIP)
        if content, let text = event.content { object["Content"] = .string(text) }
        return .object(object)
    }
}
