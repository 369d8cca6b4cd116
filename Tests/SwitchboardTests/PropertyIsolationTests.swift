import Switchboard
import SwitchboardTesting
import Synchronization
import Testing

/// A terminal for the `#TERMINAL` race: `spin` reads `Mode` without suspending for a while; `wait` updates
/// its own properties while a refusing check of a client's change is suspended.
actor Racer: TextInputTerminal, PropertyCheckingTerminal {
    static let resourceName = "Tests.Racer"
    @Property var mode = "calm"
    @Property(readOnly: true) var ticks = 0

    /// Where the check of a `slow-refused` change waits, and says it is waiting; where `set` waits, and says
    /// it has set.
    let gates: RacerGates

    init(gates: RacerGates) { self.gates = gates }

    func open(_ connection: TerminalConnection) async throws {}

    func receive(text: String, from connection: TerminalConnection) async throws {
        switch text {
        case "spin":
            // 300 ms on the actor without a suspension point: a client's write must wait for the end.
            try await connection.send("spinning")
            let clock = ContinuousClock()
            let end = clock.now + .milliseconds(300)
            var sawRefused = false
            while clock.now < end {
                if mode == "refused" { sawRefused = true }
            }
            try await connection.send("saw refused: \(sawRefused)")
        case "set":
            // What the terminal sets itself while a client's change is being checked.
            _ = await gates.setMay.receive()
            mode = "set by the terminal"
            ticks += 1
            gates.hasSet.deliver(())
        default:
            break
        }
    }

    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if mode == "refused" { throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Mode may not be 'refused'") }
        if changes.contains($mode), mode == "slow-refused" {
            gates.checkWaiting.deliver(())
            _ = await gates.checkMayEnd.receive()
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Mode may not be 'slow-refused'")
        }
    }

    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// The points where a test and a ``Racer`` wait for each other.
struct RacerGates: Sendable {
    let checkWaiting = Mailbox<Void>()
    let checkMayEnd = Mailbox<Void>()
    let setMay = Mailbox<Void>()
    let hasSet = Mailbox<Void>()
}

@Suite(.timeLimit(.minutes(1)))
struct PropertyIsolationTests {
    let gates = RacerGates()
    let api: SwitchboardAPI

    init() {
        api = SwitchboardAPI()
        let gates = self.gates
        api.register { Racer(gates: gates) }
    }

    /// A `#TERMINAL` that overtakes a busy handler is stored on the terminal's actor: the handler, which does
    /// not suspend, never sees the value that is then refused.
    @Test func aRefusedChangeIsNeverSeenByARunningHandler() async throws {
        let client = TestConnection.open(api, uri: "/racer")
        await client.send("spin")
        #expect(try await client.receiveText() == "spinning")
        await client.send(#"#TERMINAL {"Mode": "refused"}"#)
        // The change waited for the actor; the two answers may come in either order.
        let answers = Set([try await client.receiveText(), try await client.receiveText()])
        #expect(answers == ["saw refused: false", "400: Bad request. Mode may not be 'refused'"])
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains(#""Mode": "calm""#))
        await client.close()
    }

    /// A refused change puts back only what it set, and only where the terminal has not changed it since:
    /// the terminal's own writes during the check (to `Mode`, and to the read-only `Ticks`) stay.
    @Test func aRefusedChangeRestoresOnlyWhatItSet() async throws {
        let client = TestConnection.open(api, uri: "/racer")
        await client.send("set")
        await client.send(#"#TERMINAL {"Mode": "slow-refused"}"#)
        _ = await gates.checkWaiting.receive()
        // The check is suspended: the terminal runs, and sets its properties.
        gates.setMay.deliver(())
        _ = await gates.hasSet.receive()
        gates.checkMayEnd.deliver(())
        #expect(try await client.receiveText() == "400: Bad request. Mode may not be 'slow-refused'")
        await client.send("#TERMINAL")
        let properties = try await client.receiveText()
        #expect(properties.contains(#""Mode": "set by the terminal""#), "\(properties)")
        #expect(properties.contains(#""Ticks": 1"#), "\(properties)")
        await client.close()
    }

    /// When nothing changed them meanwhile, the properties a refused change set get their values back.
    @Test func aRefusedChangeRestoresItsProperties() async throws {
        let client = TestConnection.open(api, uri: "/racer/mode=start")
        await client.send(#"#TERMINAL {"Mode": "slow-refused"}"#)
        _ = await gates.checkWaiting.receive()
        gates.checkMayEnd.deliver(())
        #expect(try await client.receiveText() == "400: Bad request. Mode may not be 'slow-refused'")
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains(#""Mode": "start""#))
        await client.close()
    }
}
