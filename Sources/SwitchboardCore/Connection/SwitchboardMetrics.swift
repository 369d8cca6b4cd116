import Metrics
import Synchronization

/// What an API reports through swift-metrics: connections, terminals by type, messages and bytes, REST requests
/// by method and status, and their durations. Nothing is reported until the application bootstraps a metrics
/// backend (`MetricsSystem.bootstrap`, before it creates the ``SwitchboardAPI``); `switchboard serve` uses
/// swift-prometheus and serves the figures at `/metrics`. The names are listed in `Docs/Server.md`.
final class SwitchboardMetrics: Sendable {
    /// Open WebSocket connections.
    private let connections = Meter(label: "switchboard_websocket_connections")
    /// WebSocket connections accepted since the start.
    private let connectionsAccepted = Counter(label: "switchboard_websocket_connections_total")
    let messagesIn = Counter(label: "switchboard_websocket_messages_total", dimensions: [("direction", "in")])
    let messagesOut = Counter(label: "switchboard_websocket_messages_total", dimensions: [("direction", "out")])
    let bytesIn = Counter(label: "switchboard_websocket_bytes_total", dimensions: [("direction", "in")])
    let bytesOut = Counter(label: "switchboard_websocket_bytes_total", dimensions: [("direction", "out")])
    /// How long REST requests take (HTTP and the Shell's), from the request to the answer.
    let requestDuration = Timer(label: "switchboard_rest_request_duration_seconds")
    private let terminals = Mutex<[String: Meter]>([:])
    private let requests = Mutex<[RequestKind: Counter]>([:])

    /// A REST request's method and status: the dimensions of its counter.
    private struct RequestKind: Hashable {
        let method: RESTMethod
        let status: Int
    }

    func connectionOpened() {
        connections.increment()
        connectionsAccepted.increment()
    }

    func connectionClosed() { connections.decrement() }

    /// Counts a terminal of a type opening (`delta` 1) or closing (-1).
    func terminal(_ type: String, _ delta: Int) {
        let meter = terminals.withLock { meters in
            if let meter = meters[type] { return meter }
            let meter = Meter(label: "switchboard_terminals", dimensions: [("type", type)])
            meters[type] = meter
            return meter
        }
        if delta > 0 { meter.increment(by: Double(delta)) } else { meter.decrement(by: Double(-delta)) }
    }

    /// Counts a message in or out, with its size.
    func message(in incoming: Bool, bytes: Int) {
        if incoming {
            messagesIn.increment()
            bytesIn.increment(by: bytes)
        } else {
            messagesOut.increment()
            bytesOut.increment(by: bytes)
        }
    }

    /// Counts a REST request by method and status, and records its duration.
    func request(method: RESTMethod, status: Int, nanoseconds: Int64) {
        let key = RequestKind(method: method, status: status)
        let counter = requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "switchboard_rest_requests_total", dimensions: [("method", method.rawValue), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        requestDuration.recordNanoseconds(nanoseconds)
    }
}
