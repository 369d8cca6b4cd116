import Logging
import NIOCore
import Synchronization
import HTTPTypes

/// One connection's dispatcher: attaches terminals, answers global commands, and feeds input to the
/// attached terminal so that global commands are answered even while it is busy.
///
/// Input takes the shortest way it can: the task that reads a message runs the terminal's handler itself,
/// unless another is running. A handler that takes longer than ``handOverDelay`` hands the reading over
/// to a new task, so `#SHELL` and `#DISCONNECT` are read and answered meanwhile; the old task finishes its
/// handler, handles what was queued behind it (the drainer), and ends. An idle connection has one task of
/// its own, the reader, or none when the transport lets the reader park between messages (``InboundParking``):
/// then the reader ends when nothing is left to read, and input that arrives starts a new one.
///
/// A connection is three types: the dispatcher (input and terminals), its ``ClientEndpoint`` (output and
/// the client's identity), and the ``TerminalConnection`` handles it gives each attached terminal.
actor ConnectionDispatcher {
    nonisolated let api: SwitchboardAPI
    nonisolated let endpoint: ClientEndpoint

    /// A class, so that the reader takes the attached terminal out of ``input`` for each message with one retain.
    final class Attachment: Sendable {
        let descriptor: TerminalDescriptor
        let terminal: any TerminalResource
        let properties: PropertySet
        let connection: TerminalConnection
        /// Whether the terminal is a ``QuickInputTerminal``: a reader that resumes for it may run on the
        /// transport's thread.
        let inputIsQuick: Bool
        var generation: Int { connection.generation }
        private let opened = Atomic<Bool>(false)
        /// Whether the terminal's `open` has returned: it is then listed among the live terminals.
        var isOpen: Bool { opened.load(ordering: .acquiring) }

        init(descriptor: TerminalDescriptor, terminal: any TerminalResource, properties: PropertySet, connection: TerminalConnection) {
            self.descriptor = descriptor
            self.terminal = terminal
            self.properties = properties
            self.connection = connection
            inputIsQuick = terminal is any QuickInputTerminal
        }

        func markOpen() { opened.store(true, ordering: .releasing) }

        /// Signalled when the terminal's `open` has returned or thrown.
        private let openReturned = OneTimeSignal()

        /// The terminal's `open` has returned or thrown.
        func openFinished() { openReturned.signal() }

        /// Returns once the terminal's `open` has returned or thrown: a terminal is closed only after its
        /// `open`, even when the client leaves while it runs (its actor would otherwise run `close` in the
        /// middle of `open`, at one of its awaits, and `open` would go on to set up what `close` was to end).
        func waitUntilOpenFinished() async { await openReturned.wait() }
    }

    /// A terminal made and configured but not attached yet.
    private struct Prepared {
        let descriptor: TerminalDescriptor
        let terminal: any TerminalResource
        let properties: PropertySet
        let returning: Bool
        let generation: Int
    }

    /// What the reader and the drainer share with the actor: they take and hand over input without
    /// waiting for the actor's turn, so a message reaches its terminal in as few thread hops as it can.
    private struct InputState {
        var attachment: Attachment?
        /// Whose turn it is: the terminal's input or a global command.
        var scheduler: InputScheduler
        /// Input waiting for the drainer; replaced when input is dropped.
        var queue: InputQueue
        /// Bumped when input is dropped (a terminal switch that drops it, or the end): a handler of an older
        /// generation reports nothing back.
        var generation = 0
        var nextTaskID = 0
        var inbound: InboundReader?
        /// The task reading the client's messages, and whether it is running a handler itself.
        var reader: InputTask?
        var readerIsHandling = false
        /// The number of the last handler a reader ran itself (``inlineHandler``).
        var handlerNumber = 0
        /// The task handling queued input, once a handler ran too long for the reader to wait for it.
        var drainer: InputTask?
        var readError: (any Error)?
        /// Global commands waiting for the terminal's progress: only then does a handler's start or end
        /// wake anybody.
        var commandsWaiting = 0
    }

    private struct InputTask {
        let id: Int
        /// `nil` for a moment while a parked reader's successor is made (``resumeReading()``).
        let task: Task<Void, Never>?
    }

    private nonisolated let input: Mutex<InputState>
    /// The number of the handler a reader runs itself now, 0 when none: ``HandOverTimer`` drops the entry of a
    /// handler that has returned with one load, without taking ``input``'s lock.
    private nonisolated let inlineHandler = Atomic<Int>(0)

    /// The attached terminal. Set only on the actor; the reader and the drainer read it through ``input``.
    private(set) var attachment: Attachment? {
        get { input.withLock { $0.attachment } }
        set { input.withLock { $0.attachment = newValue } }
    }
    private var nextGeneration = 0
    private var savedProperties: [String: [(name: String, value: JSON)]] = [:]
    private var disposals: [Int: Task<Void, Never>] = [:]
    private var disposalCount = 0
    private var shutdownReason: TerminalCloseReason = .disconnected
    /// Woken when the terminal makes progress (a handler starts or returns, or the input is dropped), for a
    /// global command waiting its turn. It holds at most one wake-up.
    private nonisolated let progress = BoundedQueue<Void>()

    private var finished = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []

    init(api: SwitchboardAPI, endpoint: ClientEndpoint) {
        self.api = api
        self.endpoint = endpoint
        input = Mutex(
            InputState(
                scheduler: InputScheduler(busyThreshold: api.configuration.busyThreshold), queue: Self.makeQueue(api)))
        handOverDelay = min(api.configuration.busyThreshold, .milliseconds(10))
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

    /// The attached terminal, once it is open (for ``SwitchboardAPI/terminals(of:)``).
    nonisolated var openAttachment: Attachment? {
        input.withLock { state in state.attachment?.isOpen == true ? state.attachment : nil }
    }

    /// The attached terminal's name and properties.
    func terminalSnapshot() -> (name: String, properties: JSON) {
        guard let attachment else { return ("none", .object(JSONObject())) }
        return (attachment.descriptor.name, attachment.properties.json)
    }

    // MARK: Running

    func run<Inbound: AsyncSequence & Sendable>(inbound: Inbound) async throws where Inbound.Element == TerminalMessage {
        // The reader attaches the first terminal, then reads, and marks the endpoint closed when the input
        // ends. This task only waits: an idle connection's tasks keep no deeper stack than they need.
        startReading(from: inbound)
        await endpoint.waitUntilClosed()
        try await finishServing()
    }

    /// What follows the connection's end: closing the terminal, waiting for the close frame to go out. A
    /// function of its own, so that the frame of ``run(inbound:)``, which lasts as long as the connection,
    /// holds only what the wait needs (every idle connection's task keeps it).
    @inline(never)
    private func finishServing() async throws {
        await finish()
        await endpoint.waitForCloseFrame(timeout: .seconds(2))
        markFinished()
        if let readError = input.withLock({ $0.readError }) { throw readError }
    }

    /// Attaches the terminal the connection's URI names, or refuses the connection with its status.
    private func attachFirstTerminal() async {
        do {
            let target = try api.terminalTarget(forURI: endpoint.request.uri, for: endpoint.identity)
            let prepared = try await prepare(target)
            await attach(prepared, droppingInput: false)
        } catch {
            let failure = SwitchboardError(wrapping: error, logger: endpoint.logger)
            endpoint.debug("Connection refused", metadata: ["sb.status": "\(failure.status)"])
            await endpoint.sendStatus(failure, uri: endpoint.request.uri)
            await endpoint.close(code: .status(failure.status), reason: failure.statusLine)
        }
    }

    /// Starts the reader on the connection's input, which counts against the server's inbound memory budget.
    /// A function of its own, so that what it makes stays out of the frame of `run(inbound:)`, which waits
    /// for the life of the connection. Detached: the reader takes none of the connection task's task-local
    /// values (the server's graceful-shutdown handlers, the upgrade's), whose copies would be the first thing
    /// in its allocator and cost every idle connection about 1 KiB more (measured).
    @inline(never)
    private nonisolated func startReading<Inbound: AsyncSequence & Sendable>(from input: Inbound)
    where Inbound.Element == TerminalMessage {
        let account = InboundAccount(budget: api.inboundMemory, timeout: api.configuration.inboundMemoryTimeout) {
            [endpoint] in await Self.closeForMemory(endpoint)
        }
        let inbound = InboundReader(input, account: account)
        self.input.withLock { state in
            state.inbound = inbound
            state.nextTaskID += 1
            let id = state.nextTaskID
            state.reader = InputTask(
                id: id,
                task: Task.detached {
                    await self.attachFirstTerminal()
                    if self.endpoint.isClosed { return self.endReading(inbound, error: nil) }
                    await self.read(as: id, from: inbound, onTransport: false)
                })
        }
    }

    /// The reader's loop: reads messages, runs global commands, and handles or queues the rest, until the input
    /// ends, the connection closes, or a handler it runs takes long enough that the reading passes on.
    /// `onTransport`: the task runs on the transport's thread (``InboundParking/readerExecutor``), where only a
    /// quick terminal's handler runs; global commands and other terminals' handlers are run on the
    /// concurrency pool.
    private nonisolated func read(as id: Int, from inbound: InboundReader, onTransport: Bool) async {
        let budget = api.inboundMemory
        while true {
            if let parking = inbound.parking, park(as: id, parking) { return }
            let next: TerminalMessage?
            do {
                next = try await inbound.next()
            } catch is InboundReaderMayPark {
                continue
            } catch {
                return endReading(inbound, error: error)
            }
            guard let message = next else { return endReading(inbound, error: nil) }
            var charge = inbound.account.takeHeld()
            let size = Self.cost(of: message)
            if charge < size {
                // Input that was not inflated is counted once it is whole; text for the bytes that remain.
                // Free room is taken without an `async` call; only a reader that must wait for room suspends.
                var reserved = budget.tryReserve(size - charge)
                if !reserved { reserved = await budget.reserve(size - charge, timeout: inbound.account.timeout) }
                guard reserved else {
                    budget.release(charge)
                    if !Task.isCancelled { await Self.closeForMemory(endpoint) }
                    return endReading(inbound, error: nil)
                }
                charge = size
            }
            if endpoint.isClosed {
                budget.release(charge)
                return endReading(inbound, error: nil)
            }
            endpoint.metrics?.message(in: true, bytes: message.byteCount)
            api.cluster.noteChange()
            endpoint.events?.publish(endpoint.event(.webSocketInput, message))
            if case .text(let text) = message, let command = GlobalCommand(text) {
                budget.release(charge)
                await offTransport(onTransport) {
                    await awaitTurn()
                    await run(command)
                }
                continue
            }
            let item = InputQueue.Item(message: message, charge: charge)
            switch await handle(item, reader: id, onTransport: onTransport ? inbound.parking : nil) {
            case .keepReading: continue
            case .handedOver: return await drain(as: id, onTransport: onTransport)
            case .closed: return endReading(inbound, error: nil)
            }
        }
    }

    /// Leaves the reading while nothing is ready to read, unless another task reads now or the connection is
    /// closing: the task ends, and ``resumeReading()`` starts a new reader when input arrives.
    private nonisolated func park(as id: Int, _ parking: any InboundParking) -> Bool {
        input.withLock { state in
            guard state.reader?.id == id, !endpoint.isClosed,
                parking.parkUnlessReady(wake: { [weak self] in self?.resumeReading() })
            else { return false }
            state.reader = nil
            return true
        }
    }

    /// Input arrived for a parked reader: a new task reads, unless the connection is closing. The task is
    /// made outside the lock (it may start at once, and its first step takes the lock); it is cancelled if
    /// the connection finished meanwhile. For a quick terminal (``QuickInputTerminal``) the task runs on the
    /// transport's thread, where the input arrived, if the transport offers it.
    private nonisolated func resumeReading() {
        let claimed = input.withLock { state -> (id: Int, inbound: InboundReader, executor: (any TaskExecutor)?)? in
            guard state.reader == nil, !endpoint.isClosed, let inbound = state.inbound else { return nil }
            state.nextTaskID += 1
            state.reader = InputTask(id: state.nextTaskID, task: nil)
            let executor = state.attachment?.inputIsQuick == true ? inbound.parking?.readerExecutor : nil
            return (state.nextTaskID, inbound, executor)
        }
        guard let (id, inbound, executor) = claimed else { return }
        // Without an executor, a plain task: one made with a preference, even `nil`, has the runtime look the
        // preference up under the task's status lock at every hop (callgrind: 11 thousand instructions more
        // for each Shell GET).
        let task =
            if let executor {
                Task.detached(executorPreference: executor) { await self.read(as: id, from: inbound, onTransport: true) }
            } else {
                Task.detached { await self.read(as: id, from: inbound, onTransport: false) }
            }
        let kept = input.withLock { state in
            if state.reader?.id == id { state.reader = InputTask(id: id, task: task) }
            if state.drainer?.id == id { state.drainer = InputTask(id: id, task: task) }
            return state.reader?.id == id || state.drainer?.id == id
        }
        if !kept { task.cancel() }
    }

    /// The input has ended (or failed, or the connection closed): what the transport still held for an
    /// unfinished message goes back to the budget, and ``run(inbound:)`` goes on to finish.
    private nonisolated func endReading(_ inbound: InboundReader, error: (any Error)?) {
        api.inboundMemory.release(inbound.account.takeHeld())
        inbound.parking?.readingEnded()
        if let error { input.withLock { $0.readError = $0.readError ?? error } }
        endpoint.markClosed()
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

    /// Waits until every message received before now has been handled, so that global commands keep their
    /// place in the input, unless the terminal is busy for longer than the threshold (see ``InputScheduler``).
    private nonisolated func awaitTurn() async {
        let ticket = input.withLock { $0.scheduler.ticket }
        while !endpoint.isClosed {
            let turn = input.withLock { state -> InputScheduler.Turn in
                let turn = state.scheduler.turn(for: ticket, now: .now)
                if case .wait = turn { state.commandsWaiting += 1 }
                return turn
            }
            switch turn {
            case .run: return
            case .wait(let deadline):
                await waitForProgress(until: deadline)
                input.withLock { $0.commandsWaiting -= 1 }
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

    /// Wakes a global command waiting for the terminal's progress; the wake-up is kept if it is not waiting yet.
    private nonisolated func signalProgress(_ anybodyWaiting: Bool = true) {
        if anybodyWaiting, progress.count == 0 { progress.append(()) }
    }

    /// Ends the connection: stops reading, drops the input, and closes the attached terminal.
    private func finish() async {
        endpoint.markClosed()
        let (reader, inbound) = input.withLock { state in
            defer { state.reader = nil }
            return (state.reader, state.inbound)
        }
        reader?.task?.cancel()
        if reader == nil, let inbound {
            // A parked reader: nothing will end its reading but this.
            api.inboundMemory.release(inbound.account.takeHeld())
            inbound.parking?.readingEnded()
        }
        dropInput()
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
    private func attach(_ prepared: Prepared, droppingInput: Bool) async {
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
        let attached = Attachment(
            descriptor: prepared.descriptor, terminal: prepared.terminal, properties: prepared.properties,
            connection: connection)
        attachment = attached
        endpoint.generation.store(prepared.generation, ordering: .releasing)
        endpoint.currentTerminal = prepared.descriptor.name
        endpoint.messagesArePrivate.store(prepared.descriptor.messagesArePrivate, ordering: .relaxed)
        if droppingInput { dropInput() }
        endpoint.debug("Terminal attached", metadata: ["sb.terminal": .string(prepared.descriptor.name)])
        do {
            try await prepared.terminal.open(connection)
            attached.openFinished()
            let opened = input.withLock { state in
                guard state.attachment?.generation == prepared.generation else { return false }
                state.attachment?.markOpen()
                return true
            }
            if opened {
                api.terminalRegistry.opened(prepared.terminal, on: connection)
                api.metrics.terminal(prepared.descriptor.name, 1)
                api.cluster.noteChange()
            }
        } catch {
            attached.openFinished()
            await report(error, from: prepared.descriptor.name, generation: prepared.generation, handler: "open")
            guard attachment?.generation == prepared.generation else { return }
            if prepared.descriptor.name == api.home.descriptor.name {
                await endpoint.close(code: .unexpectedServerError, reason: SwitchboardError(wrapping: error, logger: endpoint.logger).statusLine)
            } else {
                await switchToShell(droppingInput: true)
            }
        }
    }

    private func dispose(_ old: Attachment, reason: TerminalCloseReason) {
        if old.isOpen {
            api.terminalRegistry.closed(old.terminal, on: old.connection, reason: reason)
            api.metrics.terminal(type(of: old.terminal).resourceName, -1)
            api.cluster.noteChange()
        }
        disposalCount += 1
        let id = disposalCount
        let terminal = old.terminal
        let connection = old.connection
        disposals[id] = Task {
            await old.waitUntilOpenFinished()
            await terminal.close(reason, on: connection)
            self.disposalFinished(id)
        }
    }

    private func disposalFinished(_ id: Int) { disposals[id] = nil }

    func switchToShell(droppingInput: Bool) async {
        do {
            let prepared = try await prepare(api.homeTarget)
            await attach(prepared, droppingInput: droppingInput)
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
        await attach(prepared, droppingInput: false)
    }

    // MARK: Input

    private static func makeQueue(_ api: SwitchboardAPI) -> InputQueue {
        InputQueue(
            messageLimit: api.configuration.inputQueueMessageLimit, byteLimit: api.configuration.inputQueueByteLimit,
            budget: api.inboundMemory)
    }

    /// How long the reader runs a handler before the reading passes to a new task: short enough that a
    /// global command is read at once to a person, never longer than the busy threshold.
    private nonisolated let handOverDelay: Duration

    private enum Handled {
        /// The message was handled or queued; the task reads on.
        case keepReading
        /// The task ran a handler long enough that another task reads now: it becomes the drainer.
        case handedOver
        /// The connection is closing.
        case closed
    }

    /// Handles a message the reader read: at once, in this task, when no other handler runs; otherwise it
    /// goes into the queue behind the others, waiting while the queue is full.
    /// `onTransport`: the transport's input, when the reader runs on its thread (``InboundParking/readerExecutor``).
    private nonisolated func handle(_ item: InputQueue.Item, reader id: Int, onTransport: (any InboundParking)?) async -> Handled {
        enum Way {
            case inline(Attachment, generation: Int, handler: Int, waiting: Bool)
            case queue(InputQueue)
            case closed
        }
        while true {
            let now = ContinuousClock.now  // read once: the handler's start and its hand-over deadline
            let way = input.withLock { state -> Way in
                guard !endpoint.isClosed, let attachment = state.attachment else { return .closed }
                state.scheduler.messageQueued()
                // Without a drainer nothing is queued or running: this message is next.
                guard state.drainer == nil else { return .queue(state.queue) }
                state.readerIsHandling = true
                state.handlerNumber += 1
                inlineHandler.store(state.handlerNumber, ordering: .relaxed)
                state.scheduler.handlerStarted(at: now)
                return .inline(attachment, generation: state.generation, handler: state.handlerNumber, waiting: state.commandsWaiting > 0)
            }
            switch way {
            case .closed:
                api.inboundMemory.release(item.charge)
                return .closed
            case .queue(let queue):
                if await queue.push(item) { return .keepReading }
                // The queue was dropped while this waited for room: the message goes to what replaced it.
                input.withLock { $0.scheduler.messageDropped() }
            case .inline(let attachment, let generation, let handler, let waiting):
                signalProgress(waiting)
                let deadline = now + handOverDelay
                // On the transport's thread, the handler holds the thread while it runs: input that could need
                // the reading handed over arrives only once it waits, and only then is it watched (after a
                // message read on the pool, the reader may still run there until its next wait: the watch then
                // starts when input arrives). A keystroke costs no timer (at a typist's pace, each one started
                // the watch's sleeping task).
                let watchedByInput =
                    onTransport?.callWhenInputArrives { [self] in
                        HandOverTimer.shared.watch(self, handler: handler, deadline: deadline)
                    } ?? false
                if !watchedByInput { HandOverTimer.shared.watch(self, handler: handler, deadline: deadline) }
                await deliver(item.message, to: attachment, onTransport: onTransport != nil)
                if watchedByInput { onTransport?.stopCallingWhenInputArrives() }
                _ = inlineHandler.compareExchange(expected: handler, desired: 0, ordering: .relaxed)
                api.inboundMemory.release(item.charge)
                let (readsOn, waiting) = input.withLock { state -> (Bool, Bool) in
                    if state.generation == generation { state.scheduler.handlerFinished() }
                    guard state.reader?.id == id else { return (false, state.commandsWaiting > 0) }
                    state.readerIsHandling = false
                    return (true, state.commandsWaiting > 0)
                }
                signalProgress(waiting)
                return readsOn ? .keepReading : .handedOver
            }
        }
    }

    /// Whether a reader runs the handler of this number itself now (``HandOverTimer``).
    nonisolated func isRunningInline(handler: Int) -> Bool { inlineHandler.load(ordering: .relaxed) == handler }

    /// The reader has been running a handler for ``handOverDelay``: a new task takes over the reading, and
    /// this one becomes the drainer once its handler returns.
    nonisolated func handOverReading(handler: Int) {
        input.withLock { state in
            guard let reader = state.reader, state.readerIsHandling, state.handlerNumber == handler, let inbound = state.inbound,
                !endpoint.isClosed
            else { return }
            state.nextTaskID += 1
            let next = state.nextTaskID
            state.drainer = reader
            state.readerIsHandling = false
            state.reader = InputTask(id: next, task: Task { await self.read(as: next, from: inbound, onTransport: false) })
        }
    }

    /// The drainer's loop: handles what the reader queued behind a long handler, in order, and ends when
    /// nothing is queued or on its way, or when the input is dropped.
    private nonisolated func drain(as id: Int, onTransport: Bool) async {
        while true {
            let next = input.withLock { state -> (queue: InputQueue, generation: Int)? in
                guard state.drainer?.id == id else { return nil }
                guard state.scheduler.pending > 0 else {
                    state.drainer = nil
                    return nil
                }
                return (state.queue, state.generation)
            }
            guard let (queue, generation) = next else { return }
            guard let item = await queue.next() else { continue }
            let current = input.withLock { state -> (Attachment, waiting: Bool)? in
                guard state.drainer?.id == id, state.generation == generation, let attachment = state.attachment else { return nil }
                state.scheduler.handlerStarted(at: .now)
                return (attachment, state.commandsWaiting > 0)
            }
            guard let current else {
                api.inboundMemory.release(item.charge)
                return
            }
            signalProgress(current.waiting)
            await deliver(item.message, to: current.0, onTransport: onTransport)
            api.inboundMemory.release(item.charge)
            let waiting = input.withLock { state -> Bool in
                if state.drainer?.id == id, state.generation == generation { state.scheduler.handlerFinished() }
                return state.commandsWaiting > 0
            }
            signalProgress(waiting)
        }
    }

    /// Drops the queued input and cancels the drainer's handler (a terminal switch, or the end). A handler
    /// the reader runs itself is not cancelled: only that handler can have asked for the switch.
    private nonisolated func dropInput() {
        let (queue, drainer) = input.withLock { state in
            defer {
                state.queue = Self.makeQueue(api)
                state.generation += 1
                state.scheduler.inputDropped()
                state.drainer = nil
            }
            return (state.queue, state.drainer)
        }
        queue.finish()
        drainer?.task?.cancel()
        signalProgress()
    }

    /// Runs `body` on the concurrency pool when the task runs on the transport's thread (`onTransport`), so
    /// that work of unknown length never holds up that thread's other connections.
    private nonisolated func offTransport(_ onTransport: Bool, _ body: () async -> Void) async {
        if onTransport {
            await withTaskExecutorPreference(globalConcurrentExecutor, operation: body)
        } else {
            await body()
        }
    }

    private nonisolated func deliver(_ message: TerminalMessage, to attachment: Attachment, onTransport: Bool) async {
        // A reader on the transport's thread may meet a terminal that is not quick after a switch (the
        // switch's message and the next came together); and a large message (a paste) costs its terminal
        // time in proportion (a terminado message's JSON, for one), so it goes to the pool too.
        if onTransport && (!attachment.inputIsQuick || message.byteCount > QuickInput.largestMessage) {
            return await offTransport(true) { await deliver(message, to: attachment, onTransport: false) }
        }
        let descriptor = attachment.descriptor
        do {
            switch message {
            case .text(let text):
                endpoint.noteInput(text)
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
