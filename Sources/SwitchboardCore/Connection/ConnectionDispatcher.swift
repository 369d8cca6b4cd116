import Logging
import NIOCore
import Synchronization
import HTTPTypes

/// One connection's dispatcher: attaches terminals, answers global commands, and feeds input to the
/// attached terminal through a worker task so that global commands are answered even while it is busy.
///
/// A connection is three types: the dispatcher (input and terminals), its ``ClientEndpoint`` (output and
/// the client's identity), and the ``TerminalConnection`` handles it gives each attached terminal.
actor ConnectionDispatcher {
    nonisolated let api: SwitchboardAPI
    nonisolated let endpoint: ClientEndpoint

    struct Attachment {
        let descriptor: TerminalDescriptor
        let terminal: any TerminalResource
        let properties: PropertySet
        let connection: TerminalConnection
        var generation: Int { connection.generation }
    }

    /// A terminal made and configured but not attached yet.
    private struct Prepared {
        let descriptor: TerminalDescriptor
        let terminal: any TerminalResource
        let properties: PropertySet
        let returning: Bool
        let generation: Int
    }

    private struct Worker {
        let id: Int
        let queue: InputQueue
        let task: Task<Void, Never>
    }

    /// What the reader and the worker share with the actor: they take and hand over input without
    /// waiting for the actor's turn, so a message reaches its terminal in as few thread hops as it can.
    private struct InputState {
        var attachment: Attachment?
        var worker: Worker?
        /// Whose turn it is: the terminal's input or a global command.
        var scheduler: InputScheduler
    }
    private nonisolated let input: Mutex<InputState>

    /// The attached terminal. Set only on the actor; the worker reads it through ``input``.
    private(set) var attachment: Attachment? {
        get { input.withLock { $0.attachment } }
        set { input.withLock { $0.attachment = newValue } }
    }
    private var worker: Worker? {
        get { input.withLock { $0.worker } }
        set { input.withLock { $0.worker = newValue } }
    }
    private var nextGeneration = 0
    private var workerCount = 0
    private var savedProperties: [String: [(name: String, value: JSON)]] = [:]
    private var disposals: [Int: Task<Void, Never>] = [:]
    private var disposalCount = 0
    private var shutdownReason: TerminalCloseReason = .disconnected
    /// Woken when the terminal makes progress (a handler starts or returns, or the worker stops), for a
    /// global command waiting its turn. It holds at most one wake-up.
    private nonisolated let progress = BoundedQueue<Void>()

    private var finished = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []

    init(api: SwitchboardAPI, endpoint: ClientEndpoint) {
        self.api = api
        self.endpoint = endpoint
        input = Mutex(InputState(scheduler: InputScheduler(busyThreshold: api.configuration.busyThreshold)))
        commandPacer = CommandPacer(
            perSecond: api.configuration.shellCommandsPerSecond, burst: api.configuration.shellCommandBurst)
    }

    /// The pace of this connection's Shell commands, whichever Shell instance runs them.
    nonisolated let commandPacer: CommandPacer

    /// Returns once ``run(inbound:)`` has cleaned up (terminals closed, or their close timed out).
    func waitUntilFinished() async {
        if finished { return }
        await withCheckedContinuation { finishWaiters.append($0) }
    }

    private func markFinished() {
        finished = true
        for waiter in finishWaiters { waiter.resume() }
        finishWaiters = []
    }

    /// The attached terminal's name and properties.
    func terminalSnapshot() -> (name: String, properties: JSON) {
        guard let attachment else { return ("none", .object(JSONObject())) }
        return (attachment.descriptor.name, attachment.properties.json)
    }

    // MARK: Running

    func run<Inbound: AsyncSequence & Sendable>(inbound: Inbound) async throws where Inbound.Element == TerminalMessage {
        do {
            let target = try api.terminalTarget(forURI: endpoint.request.uri, for: endpoint.identity)
            let prepared = try await prepare(target)
            await attach(prepared, restartingWorker: true)
        } catch {
            let failure = SwitchboardError(wrapping: error, logger: endpoint.logger)
            endpoint.logger.debug("Connection refused", metadata: ["sb.status": "\(failure.status)"])
            await endpoint.sendStatus(failure)
            await endpoint.close(code: .status(failure.status), reason: failure.statusLine)
        }
        var readError: (any Error)?
        if !endpoint.isClosed {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.read(inbound) }
                    group.addTask { await self.endpoint.waitUntilClosed() }
                    _ = try await group.next()
                    group.cancelAll()
                }
            } catch {
                readError = error
            }
        }
        await finish()
        await endpoint.waitForCloseFrame(timeout: .seconds(2))
        markFinished()
        if let readError { throw readError }
    }

    private nonisolated func read<Inbound: AsyncSequence & Sendable>(_ inbound: Inbound) async throws
    where Inbound.Element == TerminalMessage {
        let budget = api.inboundMemory
        let account = InboundAccount(budget: budget, timeout: api.configuration.inboundMemoryTimeout) { [endpoint] in
            await Self.closeForMemory(endpoint)
        }
        // What the transport reserved for a message that never came whole (a connection closed mid-message).
        defer { budget.release(account.takeHeld()) }
        var messages = inbound.makeAsyncIterator()
        while true {
            let next = try await InboundAccount.$current.withValue(account) { try await messages.next() }
            guard let message = next else { return }
            var charge = account.takeHeld()
            let size = Self.cost(of: message)
            if charge < size {
                // Input that was not inflated is counted once it is whole; text for the bytes that remain.
                guard await budget.reserve(size - charge, timeout: account.timeout) else {
                    budget.release(charge)
                    if !Task.isCancelled { await Self.closeForMemory(endpoint) }
                    return
                }
                charge = size
            }
            if endpoint.isClosed {
                budget.release(charge)
                return
            }
            endpoint.events?.publish(endpoint.event(.webSocketInput, message))
            if case .text(let text) = message, let command = GlobalCommand(text) {
                budget.release(charge)
                await awaitTurn()
                await run(command)
                continue
            }
            if await !enqueue(InputQueue.Item(message: message, charge: charge)) { return }
        }
    }

    /// What a message costs the inbound budget while it is handled: its bytes; text twice, as the `String` made
    /// of the frame and the bytes most terminals make of it again (a PTY's keystrokes, an echo's reply).
    static func cost(of message: TerminalMessage) -> Int {
        switch message {
        case .text(let text): 2 * text.utf8.count
        case .binary(let bytes): bytes.readableBytes
        }
    }

    private static func closeForMemory(_ endpoint: ClientEndpoint) async {
        endpoint.logger.warning("Connection closed: the server's memory for incoming messages stayed in use")
        await endpoint.close(
            code: .tryAgainLater, reason: "Server busy: no memory for incoming messages; try again later")
        await endpoint.waitForCloseFrame(timeout: .seconds(2))
    }

    /// Queues input for the worker, waiting while the queue is full; `false` once the connection is closed.
    private nonisolated func enqueue(_ item: InputQueue.Item) async -> Bool {
        while let queue = nextQueue() {
            if await queue.push(item) { return true }
            input.withLock { $0.scheduler.messageDropped() }
        }
        api.inboundMemory.release(item.charge)
        return false
    }

    /// The worker's queue, with the message about to go in counted as queued; `nil` once closed.
    private nonisolated func nextQueue() -> InputQueue? {
        input.withLock { state in
            guard let queue = state.worker?.queue, !endpoint.isClosed else { return nil }
            state.scheduler.messageQueued()
            return queue
        }
    }

    /// Waits until every message received before now has been handled, so that global commands keep their
    /// place in the input, unless the terminal is busy for longer than the threshold (see ``InputScheduler``).
    private nonisolated func awaitTurn() async {
        let ticket = input.withLock { $0.scheduler.ticket }
        while !endpoint.isClosed {
            let turn = input.withLock { state -> InputScheduler.Turn in
                state.worker == nil ? .run : state.scheduler.turn(for: ticket, now: .now)
            }
            switch turn {
            case .run: return
            case .wait(let deadline): await waitForProgress(until: deadline)
            }
        }
    }

    /// Returns when the terminal makes progress, at `deadline`, or when the task is cancelled.
    private nonisolated func waitForProgress(until deadline: ContinuousClock.Instant?) async {
        if let deadline {
            _ = await progress.next(until: deadline)
        } else {
            _ = await progress.next()
        }
    }

    private nonisolated func signalProgress() {
        if progress.count == 0 { progress.append(()) }
    }

    /// Ends the connection: stops the worker and closes the attached terminal.
    private func finish() async {
        endpoint.markClosed()
        stopWorker()
        if endpoint.transportClosedForShutdown { shutdownReason = .shutdown }
        if let attachment {
            self.attachment = nil
            dispose(attachment, reason: shutdownReason)
        }
        let pending = Array(disposals.values)
        guard !pending.isEmpty else { return }
        await withTimeout(api.configuration.disposeTimeout) {
            for task in pending { await task.value }
        }
    }

    /// Closes the connection for a server shutdown.
    func shutdown(code: CloseCode, reason: String) async {
        shutdownReason = .shutdown
        await endpoint.close(code: code, reason: reason)
    }

    // MARK: Attaching terminals

    /// Makes a terminal for the target and applies its URI assignments; nothing is attached yet.
    private func prepare(_ target: TerminalTarget) async throws -> Prepared {
        let descriptor = target.descriptor
        try api.authorize(.GET, on: .terminal(descriptor), for: endpoint.identity)
        let terminal = descriptor.make()
        let properties = PropertySet(schema: descriptor.schema, instance: terminal)
        var returning = false
        // Returning to the type that is attached now (#SHELL from the Shell) keeps its current values.
        let current = attachment.flatMap { $0.descriptor.name == descriptor.name ? $0.properties.snapshot() : nil }
        if descriptor.restoresProperties, let saved = current ?? savedProperties[descriptor.name] {
            properties.restore(saved)
            returning = true
        }
        nextGeneration += 1
        let generation = nextGeneration
        if !target.values.isEmpty {
            let connection = TerminalConnection(dispatcher: self, endpoint: endpoint, generation: generation, isReturning: returning)
            try await properties.apply(target.values, connection: connection, on: terminal)
        }
        return Prepared(
            descriptor: descriptor, terminal: terminal, properties: properties, returning: returning, generation: generation)
    }

    /// Attaches a prepared terminal in place of the current one, then opens it. If opening fails, the
    /// client gets the error and the connection returns to the Shell (or closes, if the Shell failed).
    private func attach(_ prepared: Prepared, restartingWorker: Bool) async {
        guard !endpoint.isClosed else {
            let connection = TerminalConnection(
                dispatcher: self, endpoint: endpoint, generation: prepared.generation, isReturning: prepared.returning)
            Task { await prepared.terminal.close(.disconnected, on: connection) }
            return
        }
        let connection = TerminalConnection(
            dispatcher: self, endpoint: endpoint, generation: prepared.generation, isReturning: prepared.returning)
        if let old = attachment {
            savedProperties[old.descriptor.name] = old.properties.snapshot()
            dispose(old, reason: .switched)
        }
        attachment = Attachment(
            descriptor: prepared.descriptor, terminal: prepared.terminal, properties: prepared.properties,
            connection: connection)
        endpoint.generation.store(prepared.generation, ordering: .releasing)
        endpoint.currentTerminal = prepared.descriptor.name
        endpoint.messagesArePrivate.store(prepared.descriptor.messagesArePrivate, ordering: .relaxed)
        if restartingWorker || worker == nil { startWorker() }
        endpoint.logger.debug("Terminal attached", metadata: ["sb.terminal": .string(prepared.descriptor.name)])
        do {
            try await prepared.terminal.open(connection)
        } catch {
            await report(error, from: prepared.descriptor.name, generation: prepared.generation, handler: "open")
            guard attachment?.generation == prepared.generation else { return }
            if prepared.descriptor.name == api.home.descriptor.name {
                await endpoint.close(code: .unexpectedServerError, reason: SwitchboardError(wrapping: error, logger: endpoint.logger).statusLine)
            } else {
                await switchToShell(restartingWorker: true)
            }
        }
    }

    private func dispose(_ old: Attachment, reason: TerminalCloseReason) {
        disposalCount += 1
        let id = disposalCount
        let terminal = old.terminal
        let connection = old.connection
        disposals[id] = Task {
            await terminal.close(reason, on: connection)
            self.disposalFinished(id)
        }
    }

    private func disposalFinished(_ id: Int) { disposals[id] = nil }

    func switchToShell(restartingWorker: Bool) async {
        do {
            let prepared = try await prepare(api.homeTarget)
            await attach(prepared, restartingWorker: restartingWorker)
        } catch {
            await endpoint.sendStatus(SwitchboardError(wrapping: error, logger: endpoint.logger))
        }
    }

    /// A terminal asked to switch the connection to another terminal.
    func redirect(from generation: Int, to uri: String) async throws {
        guard attachment?.generation == generation, !endpoint.isClosed else { throw TerminalConnectionError.detached }
        try await redirect(from: generation, to: try api.terminalTarget(forURI: uri, for: endpoint.identity))
    }

    /// A terminal asked to switch the connection to a resolved terminal.
    func redirect(from generation: Int, to target: TerminalTarget) async throws {
        guard attachment?.generation == generation, !endpoint.isClosed else { throw TerminalConnectionError.detached }
        let prepared = try await prepare(target)
        guard attachment?.generation == generation, !endpoint.isClosed else {
            let connection = TerminalConnection(
                dispatcher: self, endpoint: endpoint, generation: prepared.generation, isReturning: prepared.returning)
            Task { await prepared.terminal.close(.disconnected, on: connection) }
            throw TerminalConnectionError.detached
        }
        await attach(prepared, restartingWorker: false)
    }

    // MARK: Input

    private func startWorker() {
        stopWorker()
        workerCount += 1
        let id = workerCount
        let queue = InputQueue(
            messageLimit: api.configuration.inputQueueMessageLimit, byteLimit: api.configuration.inputQueueByteLimit,
            budget: api.inboundMemory)
        let task = Task { await self.work(queue: queue, id: id) }
        worker = Worker(id: id, queue: queue, task: task)
    }

    /// Stops the worker: drops its queued input and cancels the handler it is running.
    private func stopWorker() {
        guard let worker else { return }
        worker.queue.finish()
        worker.task.cancel()
        input.withLock { state in
            state.worker = nil
            state.scheduler.inputDropped()
        }
        signalProgress()
    }

    /// The worker's loop, off the actor: takes each message and hands it to the attached terminal.
    private nonisolated func work(queue: InputQueue, id: Int) async {
        while let item = await queue.next() {
            defer { api.inboundMemory.release(item.charge) }
            let current = input.withLock { state -> Attachment? in
                guard state.worker?.id == id, let attachment = state.attachment else { return nil }
                state.scheduler.handlerStarted(at: .now)
                return attachment
            }
            guard let current else { return }
            signalProgress()
            await deliver(item.message, to: current)
            let stillCurrent = input.withLock { state -> Bool in
                guard state.worker?.id == id else { return false }
                state.scheduler.handlerFinished()
                return true
            }
            guard stillCurrent else { return }
            signalProgress()
        }
    }

    private nonisolated func deliver(_ message: TerminalMessage, to attachment: Attachment) async {
        let descriptor = attachment.descriptor
        do {
            switch message {
            case .text(let text):
                guard let terminal = attachment.terminal as? any TextInputTerminal else {
                    throw SwitchboardError(
                        .unsupportedMediaType, code: .unsupportedInput, "Terminal '\(descriptor.name)' does not take text input")
                }
                try await terminal.receive(text: text, from: attachment.connection)
            case .binary(let bytes):
                guard let terminal = attachment.terminal as? any BinaryInputTerminal else {
                    throw SwitchboardError(
                        .unsupportedMediaType, code: .unsupportedInput, "Terminal '\(descriptor.name)' does not take binary input")
                }
                try await terminal.receive(binary: bytes, from: attachment.connection)
            }
        } catch {
            await report(error, from: descriptor.name, generation: attachment.generation, handler: "receive")
        }
    }

    /// Sends a handler's error to the client as a status line, unless the terminal is gone, and logs it.
    private func report(_ error: any Error, from terminal: String, generation: Int, handler: String) async {
        if error is TerminalConnectionError { return }
        if error is CancellationError, attachment?.generation != generation || endpoint.isClosed { return }
        var logger = endpoint.logger
        logger[metadataKey: "sb.terminal"] = .string(terminal)
        logger[metadataKey: "sb.handler"] = .string(handler)
        let failure: SwitchboardError
        if error is SwitchboardError || error is JSONSyntaxError {
            failure = SwitchboardError(wrapping: error)
            if failure.status >= 500 {
                logger.error("Terminal handler failed", metadata: ["sb.status": "\(failure.status)", "error": "\(failure.message)"])
            } else {
                logger.debug("Terminal handler rejected input", metadata: ["sb.status": "\(failure.status)"])
            }
        } else {
            failure = .internal(error, logger: logger, message: "Terminal handler failed")
        }
        await endpoint.sendStatus(failure, generation: generation)
    }

    // MARK: Properties

    private func current(_ generation: Int) throws(TerminalConnectionError) -> Attachment {
        guard let attachment, attachment.generation == generation, !endpoint.isClosed else { throw .detached }
        return attachment
    }

    func propertiesJSON(for generation: Int) throws -> JSON { try current(generation).properties.json }

    func setProperties(from generation: Int, _ assignments: [(name: String, input: PropertyInput)]) async throws -> [String] {
        try await update(try current(generation), assignments)
    }

    /// Assigns properties all or none on the terminal's actor, then lets the terminal accept or refuse the
    /// change (``PropertySet/apply(_:connection:on:)``).
    func update(_ attachment: Attachment, _ assignments: [(name: String, input: PropertyInput)]) async throws -> [String] {
        let converted = try attachment.properties.convert(assignments)
        return try await attachment.properties.apply(converted, connection: attachment.connection, on: attachment.terminal)
    }
}
