#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Synchronization

/// The cluster an API has joined (``SwitchboardAPI/join(cluster:)``): the messages it receives, its heartbeat
/// with the snapshots of its instance-local resources, requests to other instances, and the console feed.
///
/// Messages are JSON objects with a `Kind`: `Group` (a group broadcast), `Delete`/`Deleted` (a DELETE of
/// another instance's entities, and its answer), `Watch` (a console opened somewhere: send your events) and
/// `Events` (a batch of one instance's network events).
final class ClusterMembership: Sendable {
    struct Joined {
        let backplane: any ClusterBackplane
        let work: Task<Void, Never>
    }
    /// An instance-local resource: how to list its entities for the others, and delete some by id.
    struct SharedResource {
        let snapshot: @Sendable () async throws -> String
        let delete: @Sendable ([String]) async -> Int
    }
    /// How often the heartbeat runs; the backplane's liveness window is a few of these.
    static let heartbeatInterval = Duration.seconds(1)
    /// How long another instance's `Watch` keeps this one sending its events without a heartbeat saying so.
    static let watchDuration = Duration.seconds(6)
    /// How long a DELETE waits for the owning instance's answer.
    static let requestTimeout = Duration.seconds(5)
    /// The longest a snapshot is kept without a change noted (``noteChange()``), for what changes on its own
    /// (a detached PTY program that exits).
    static let snapshotRefreshInterval = Duration.seconds(30)
    /// Describing this instance's entities takes at most about 1/20 of a core: after a description that took
    /// `t`, the next waits at least `20 t`.
    static let snapshotCostFactor = 20
    /// The most events an instance keeps for the cluster's consoles between two sends.
    static let eventBufferLimit = 1_000

    let joined = Mutex<Joined?>(nil)
    /// Local delivery of group broadcasts by terminal type name: group, text, the excluded connection id.
    let deliverers = Mutex<[String: @Sendable (String, String, String?) async -> Void]>([:])
    let shared = Mutex<[String: SharedResource]>([:])
    private let pending = Mutex<[String: CheckedContinuation<Int, Never>]>([:])
    /// Counts what may have changed the instance-local resources' entities (connections, terminals, messages,
    /// writes); the snapshots are described again only when it moved, so an idle instance costs nothing.
    private let changes = Atomic<Int>(0)
    private let watchedUntil = Mutex<ContinuousClock.Instant?>(nil)
    /// Wakes the event forwarder when a console somewhere starts watching.
    private let watchSignal = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    var backplane: (any ClusterBackplane)? { joined.withLock { $0?.backplane } }

    /// Whether the API has joined a cluster: read on every message, written only when joining and leaving.
    private let isJoined = Atomic<Bool>(false)

    /// Notes that what the instance-local resources list may have changed: one relaxed atomic add in a
    /// cluster, one relaxed load otherwise.
    func noteChange() {
        guard isJoined.load(ordering: .relaxed) else { return }
        changes.wrappingAdd(1, ordering: .relaxed)
    }
    /// This instance's name once joined.
    var instanceName: String? { backplane?.instanceName }

    func register<T: GroupMemberTerminal>(_ type: T.Type, api: SwitchboardAPI) {
        deliverers.withLock { deliverers in
            deliverers[T.resourceName] = { [weak api] group, text, excluded in
                await api?.deliver(.text(text), to: T.self, exceptID: excluded) { await $0.isMember(of: group) }
            }
        }
    }

    func share<R: InstanceLocalResource>(_ resource: R) {
        let entry = SharedResource(
            snapshot: { try Self.encode(await resource.entities(visibleTo: nil)) },
            delete: { ids in
                let wanted = Set(ids)
                let found = await resource.entities(visibleTo: nil).filter { wanted.contains($0.localID) }
                return found.isEmpty ? 0 : await resource.delete(found, caller: nil)
            })
        shared.withLock { $0[resource.resourceName] = entry }
    }

    // MARK: Joining

    /// Joins, and returns once this instance receives the cluster's messages (or after `patience`, logged).
    func join(
        _ backplane: any ClusterBackplane, events: NetworkEvents, patience: Duration = .seconds(10), groups: @escaping @Sendable (JSONObject) async -> Void
    ) async {
        let (ready, listening) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (watches, watchSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.watchSignal.withLock { $0 = watchSignal }
        let work = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.receive(from: backplane, events: events, listening: listening, groups: groups) }
                group.addTask { await self.beat(backplane, events: events) }
                group.addTask { await self.forwardEvents(events, to: backplane, whenWatched: watches) }
            }
        }
        let previous = joined.withLock { joined in
            defer { joined = Joined(backplane: backplane, work: work) }
            return joined
        }
        previous?.work.cancel()
        isJoined.store(true, ordering: .relaxed)
        let listened =
            (try? await withTimeLimit(patience) {
                for await _ in ready { return true }
                return false
            }) ?? false
        if !listened { logger.error("Joined the cluster without receiving its messages yet; retrying in the background") }
    }

    func leave() async {
        isJoined.store(false, ordering: .relaxed)
        guard
            let left = joined.withLock({ joined in
                defer { joined = nil }; return joined
            })
        else { return }
        left.work.cancel()
        watchSignal.withLock { $0 }?.finish()
        await left.work.value
        do {
            // Not for ever: a server that stops while its database is down still stops.
            try await Self.within { try await left.backplane.remove() }
        } catch {
            logger.warning("Could not remove this instance from the cluster", metadata: ["error": "\(error)"])
        }
        for continuation in pending.withLock({ pending in
            defer { pending = [:] }; return Array(pending.values)
        }) { continuation.resume(returning: 0) }
    }

    private func receive(
        from backplane: any ClusterBackplane, events: NetworkEvents, listening: AsyncStream<Void>.Continuation,
        groups: @escaping @Sendable (JSONObject) async -> Void
    ) async {
        defer { listening.finish() }
        let failing = Atomic<Bool>(false)
        while !Task.isCancelled {
            do {
                try await backplane.receive(
                    listening: {
                        listening.yield()
                        if failing.exchange(false, ordering: .relaxed) { self.logger.notice("The cluster's messages arrive again") }
                    }
                ) { text in
                    guard case .object(let message)? = try? JSON(parsing: text) else { return }
                    await self.handle(message, backplane: backplane, events: events, groups: groups)
                }
            } catch {
                if Task.isCancelled { return }
                if !failing.exchange(true, ordering: .relaxed) {
                    logger.error("The cluster's messages stopped; listening again every second", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func handle(
        _ message: JSONObject, backplane: any ClusterBackplane, events: NetworkEvents, groups: @escaping @Sendable (JSONObject) async -> Void
    ) async {
        guard case .string(let kind)? = message["Kind"], case .string(let sender)? = message["From"] else { return }
        let me = backplane.instanceName
        let addressedHere = message["To"] == .string(me)
        switch kind {
        case "Group":
            await groups(message)
        case "Delete" where addressedHere:
            guard case .string(let resource)? = message["Resource"], case .string(let request)? = message["Request"],
                case .array(let ids)? = message["Ids"], let entry = shared.withLock({ $0[resource] })
            else { return }
            let count = await entry.delete(ids.compactMap { if case .string(let id) = $0 { id } else { nil } })
            let answer: JSONObject = ["Kind": "Deleted", "From": .string(me), "To": .string(sender), "Request": .string(request), "Count": .int(count)]
            do {
                try await Self.within { try await backplane.publish(JSON.object(answer).compact) }
            } catch {
                logger.warning("Could not answer a DELETE from another instance", metadata: ["error": "\(error)", "instance": "\(sender)"])
            }
        case "Deleted" where addressedHere:
            guard case .string(let request)? = message["Request"], case .int(let count)? = message["Count"] else { return }
            pending.withLock { $0.removeValue(forKey: request) }?.resume(returning: count)
        case "Watch" where sender != me:
            watched(for: Self.watchDuration)
        case "Events" where sender != me:
            guard case .array(let batch)? = message["Events"] else { return }
            for case .object(let event) in batch {
                if let event = NetworkEvent(cluster: event, instance: sender) { events.publish(event) }
            }
        default:
            return
        }
    }

    // MARK: Heartbeat and snapshots

    private func beat(_ backplane: any ClusterBackplane, events: NetworkEvents) async {
        var published: [String: String] = [:]
        var failing = false
        var described: (changes: Int, at: ContinuousClock.Instant, next: ContinuousClock.Instant)?
        while !Task.isCancelled {
            var changed: [String: String] = [:]
            let now = ContinuousClock.now
            let changes = self.changes.load(ordering: .relaxed)
            let due =
                described.map { last in
                    now >= last.next && (last.changes != changes || now - last.at >= Self.snapshotRefreshInterval)
                } ?? true
            if due {
                for (name, resource) in shared.withLock({ $0 }) {
                    do {
                        let snapshot = try await resource.snapshot()
                        if published[name] != snapshot { changed[name] = snapshot }
                    } catch {
                        logger.error("Cannot describe a resource to the cluster", metadata: ["resource": "\(name)", "error": "\(error)"])
                    }
                }
                let cost = ContinuousClock.now - now
                described = (changes, now, now + max(Self.heartbeatInterval, cost * Self.snapshotCostFactor))
            }
            do {
                let (watchers, snapshots) = (events.watcherCount, changed)
                let others = try await Self.within { try await backplane.heartbeat(consoleWatchers: watchers, snapshots: snapshots) }
                published.merge(changed) { $1 }
                if others.contains(where: { $0.consoleWatchers > 0 }) { watched(for: Self.watchDuration) }
                if failing { logger.notice("The cluster's heartbeat works again") }
                failing = false
            } catch {
                if Task.isCancelled { return }
                // What this heartbeat carried did not arrive: describe everything again next time.
                described = nil
                if !failing { logger.error("The cluster's heartbeat failed; the others will stop listing this instance", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: Self.heartbeatInterval)
        }
    }

    // MARK: Requests to other instances

    /// Asks `instance` to delete its entities of `resource` with these ids; returns how many it deleted (0 when
    /// it does not answer in time).
    func delete(ids: [String], of resource: String, on instance: String) async -> Int {
        guard let backplane else { return 0 }
        var total = 0
        for chunk in Self.chunks(of: ids, within: backplane.maxMessageBytes - 400) {
            let request = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let message: JSONObject = [
                "Kind": "Delete", "From": .string(backplane.instanceName), "To": .string(instance), "Request": .string(request),
                "Resource": .string(resource), "Ids": .array(chunk.map { .string($0) }),
            ]
            total += await withCheckedContinuation { continuation in
                pending.withLock { $0[request] = continuation }
                Task {
                    do {
                        try await Self.within { try await backplane.publish(JSON.object(message).compact) }
                    } catch {
                        self.logger.warning("Could not send a DELETE to another instance", metadata: ["error": "\(error)", "instance": "\(instance)"])
                        self.pending.withLock { $0.removeValue(forKey: request) }?.resume(returning: 0)
                    }
                }
                Task {
                    try? await Task.sleep(for: Self.requestTimeout)
                    self.pending.withLock { $0.removeValue(forKey: request) }?.resume(returning: 0)
                }
            }
        }
        return total
    }

    /// Ids in groups whose JSON fits `limit` bytes.
    static func chunks(of ids: [String], within limit: Int) -> [[String]] {
        var chunks: [[String]] = []
        var current: [String] = []
        var size = 0
        for id in ids {
            let cost = id.utf8.count * 6 + 3
            if size + cost > limit, !current.isEmpty {
                chunks.append(current)
                current = []
                size = 0
            }
            current.append(id)
            size += cost
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    // MARK: The console feed

    /// A console opened on this instance: the others start sending their events at once, not at their next
    /// heartbeat.
    func consoleStarted() async {
        guard let backplane else { return }
        let message: JSONObject = ["Kind": "Watch", "From": .string(backplane.instanceName)]
        _ = try? await Self.within { try await backplane.publish(JSON.object(message).compact) }
    }

    private func watched(for duration: Duration) {
        let until = ContinuousClock.now + duration
        let wasWatched = watchedUntil.withLock { watched in
            defer { watched = max(watched ?? until, until) }
            return watched.map { $0 > .now } ?? false
        }
        if !wasWatched { watchSignal.withLock { $0 }?.yield() }
    }

    private var isWatched: Bool { watchedUntil.withLock { $0.map { $0 > .now } ?? false } }

    /// While a console elsewhere watches, sends this instance's network events in batches (every 100 ms, each
    /// within the message limit); past ``eventBufferLimit`` waiting events the oldest are left out.
    private func forwardEvents(_ events: NetworkEvents, to backplane: any ClusterBackplane, whenWatched watches: AsyncStream<Void>) async {
        for await _ in watches {
            let buffer = Mutex<(events: [NetworkEvent], dropped: Int)>(([], 0))
            let (id, stream) = events.listen(from: nil)
            let collector = Task {
                for await event in stream where event.instance == nil {
                    buffer.withLock { buffer in
                        if buffer.events.count >= Self.eventBufferLimit {
                            buffer.events.removeFirst()
                            buffer.dropped += 1
                        }
                        buffer.events.append(event)
                    }
                }
            }
            while isWatched, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                let (batch, dropped) = buffer.withLock { buffer in
                    defer { buffer = ([], 0) }
                    return buffer
                }
                if dropped > 0 { logger.notice("Left out network events for the cluster's consoles", metadata: ["count": "\(dropped)"]) }
                for message in Self.messages(for: batch, from: backplane.instanceName, within: backplane.maxMessageBytes) {
                    _ = try? await Self.within { try await backplane.publish(message) }
                }
            }
            events.stopListening(id)
            collector.cancel()
        }
    }

    /// `Events` messages for a batch, each within `limit` bytes; content is cut to 1,000 characters.
    static func messages(for batch: [NetworkEvent], from instance: String, within limit: Int) -> [String] {
        var messages: [String] = []
        var current: [JSON] = []
        var size = 0
        func flush() {
            guard !current.isEmpty else { return }
            messages.append(JSON.object(["Kind": "Events", "From": .string(instance), "Events": .array(current)]).compact)
            current = []
            size = 0
        }
        for event in batch {
            let encoded = JSON.object(event.clusterObject)
            let cost = encoded.compact.utf8.count + 1
            guard cost < limit - 200 else { continue }
            if size + cost > limit - 200 { flush() }
            current.append(encoded)
            size += cost
        }
        flush()
        return messages
    }

    // MARK: Time limits

    /// How long a send, a listing's read or a heartbeat may wait for the backplane (a database that is down
    /// can leave a request waiting for a connection for ever).
    static let backplaneTimeout = Duration.seconds(3)

    /// Runs `body` with the backplane's time limit (``withTimeLimit(_:cancelling:_:)``).
    static func within<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withTimeLimit(backplaneTimeout, body)
    }

    // MARK: Snapshots

    static func encode<E: Encodable>(_ entities: [E]) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(entities), as: UTF8.self)
    }

    static func decode<E: Decodable>(_ type: [E].Type, from text: String) throws -> [E] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}

extension NetworkEvent {
    /// The event as another instance receives it; content cut to 1,000 characters.
    var clusterObject: JSONObject {
        var object: JSONObject = [
            "Type": .string(kind.rawValue), "Time": .double(time.timeIntervalSince1970), "Message": .string(message), "ClientIP": .string(clientIP),
        ]
        if let connectionID { object["Id"] = .string(connectionID) }
        if let content { object["Content"] = .string(String(content.prefix(1_000))) }
        if let elapsedMilliseconds { object["ElapsedMilliseconds"] = .double(elapsedMilliseconds) }
        return object
    }

    /// An event another instance sent.
    init?(cluster object: JSONObject, instance: String) {
        guard case .string(let type)? = object["Type"], let kind = Kind(rawValue: type), case .string(let message)? = object["Message"],
            case .string(let clientIP)? = object["ClientIP"]
        else { return nil }
        var time = Date()
        if let seconds = Self.number(object["Time"]) { time = Date(timeIntervalSince1970: seconds) }
        var connectionID: String?
        if case .string(let id)? = object["Id"] { connectionID = id }
        var content: String?
        if case .string(let text)? = object["Content"] { content = text }
        self.init(
            kind: kind, connectionID: connectionID, clientIP: clientIP, message: message, content: content,
            elapsedMilliseconds: Self.number(object["ElapsedMilliseconds"]), time: time)
        self.instance = instance
    }

    private static func number(_ value: JSON?) -> Double? {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }
}
