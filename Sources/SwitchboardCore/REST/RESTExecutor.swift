import NIOCore
import HTTPTypes

extension SwitchboardAPI {
    /// Runs a REST request: the one implementation behind HTTP and the Shell.
    ///
    /// It never throws: every failure becomes a response with an error status, a JSON error body and the
    /// message as its info.
    public func execute(_ request: consuming RESTRequest) async -> RESTResponse {
        let start = ContinuousClock.now
        var outcome: RESTExecution.Outcome
        var accepted = AcceptedFormat()
        var identity = request.caller.identity
        // What is needed of the request after it has been handed on: the request itself is moved, not copied.
        let method = request.method
        let uri = request.uri
        let connectionID = request.caller.connectionID
        let wantsResponseHeaders = request.wantsResponseHeaders
        let wantsCanonicalURI = request.wantsCanonicalURI || request.query != nil
        let wantsPrintedBody = request.wantsPrintedBody
        // Kept (a reference, not a copy) so that the error log can leave out the values an error quotes.
        let body = request.body
        do {
            accepted = try AcceptedFormat(request.headers[.accept], formats: formats, documentTypes: documentTypes)
            if identity == nil { identity = try await authenticate(headers: request.headers, uriKey: nil) }
            request.caller.identity = identity
            // `single=true` names the query in its refusals.
            outcome = try await RESTExecution(
                api: self, request: consume request, documentType: accepted.documentType, describesQuery: wantsCanonicalURI || accepted.single
            ).run()
            // A write may end a PTY program or close a connection: the cluster's snapshots are due again.
            if !method.onlyReads { cluster.noteChange() }
            if accepted.single { try outcome.keepSingleEntity(method) }
        } catch {
            outcome = RESTExecution.Outcome(error: SwitchboardError(wrapping: error, logger: logger))
        }
        if let error = outcome.error, let identity {
            // Logged for Switchboard.Admin.Error once the caller is known (anonymous noise cannot push real errors out).
            outcome.error = errors.record(
                error, method: method.rawValue, uri: uri, caller: identity.name, connectionID: connectionID, body: body)
        }
        let nanoseconds = start.duration(to: .now).nanoseconds
        metrics.request(method: method, status: outcome.status, nanoseconds: nanoseconds)
        let milliseconds = Double(nanoseconds) / 1e6
        var response = RESTResponse(
            status: outcome.status, info: outcome.info, error: outcome.error, elapsedMilliseconds: milliseconds,
            headers: HTTPFields(), body: nil, canonicalURI: outcome.canonical, entityCount: outcome.count)
        if case .file(let document) = outcome.payload {
            response.headers[.contentType] = document.contentType
            if let length = document.byteCount { response.headers[.contentLength] = String(length) }
            if let disposition = document.contentDisposition { response.headers[.contentDisposition] = disposition }
            if method == .GET { response.document = document }
        } else if method != .HEAD || outcome.error != nil || (wantsPrintedBody && outcome.status == 200) {
            if let format = accepted.format, outcome.error == nil, let entities = outcome.entities {
                do {
                    response.encodedBody = try format.write(entities)
                    response.headers[.contentType] = format.contentType
                } catch {
                    let failure = SwitchboardError.internal(error, logger: logger)
                    outcome = RESTExecution.Outcome(error: failure)
                    (response.status, response.info, response.error) = (failure.status, failure.message, failure)
                }
            }
            if response.encodedBody == nil {
                if wantsPrintedBody, !accepted.raw, let printed = outcome.printedEntityPage(elapsed: milliseconds) {
                    response.printedBody = printed
                } else {
                    response.body = outcome.body(raw: accepted.raw, elapsed: milliseconds, uri: outcome.canonical ?? uri)
                }
            }
        }
        guard wantsResponseHeaders else { return response }
        // None of these was set above (a JSON body has no other type): appended, not looked up and replaced.
        response.headers.reserveCapacity(response.headers.count + 4)
        if response.body != nil || response.printedBody != nil { response.headers.append(Self.jsonContentType) }
        if let info = outcome.info { response.headers.append(HTTPField(name: .switchboardInfo, value: Self.headerSafe(info))) }
        if let entry = outcome.error?.errorEntry {
            response.headers.append(HTTPField(name: .switchboardError, value: SwitchboardError.entryURI(entry)))
        }
        let elapsedText = RESTResponse.format(milliseconds: milliseconds)
        response.elapsedText = elapsedText
        response.headers.append(HTTPField(name: .switchboardElapsedMs, value: elapsedText))
        return response
    }

    /// `Content-Type` of a JSON body, made once (a field's value is checked when it is made).
    private static let jsonContentType = HTTPField(name: .contentType, value: "application/json; charset=utf-8")

    /// A header value on one line of printable text.
    static func headerSafe(_ text: String) -> String {
        // A control character's only byte is its value, and no other character's UTF-8 has such a byte: text
        // without one (nearly all) is returned as it is.
        var bytes = text
        guard bytes.withUTF8({ $0.contains { $0 < 0x20 || $0 == 0x7F } }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// Refuses a query over the API's limits before it reaches a store: more conditions than
    /// ``Configuration/maxConditions`` or a `limit` above ``Configuration/maxRowsPerRequest``.
    func checkLimits(of query: EntityQuery) throws(SwitchboardError) {
        let maxConditions = configuration.maxConditions
        if query.conditions.count > maxConditions {
            throw SwitchboardError(
                .badRequest, code: .invalidConditionSyntax,
                "The query has \(query.conditions.count) conditions; the most this server takes is \(maxConditions)")
        }
        let maxRows = configuration.maxRowsPerRequest
        if let limit = query.limit, limit > maxRows {
            throw SwitchboardError(
                .badRequest, code: .invalidMetaCondition,
                "limit=\(limit) is more than the \(maxRows) rows one request may return; page with limit and offset (NEXT in the Shell)")
        }
    }

}

/// One run of a REST request.
struct RESTExecution {
    let api: SwitchboardAPI
    let request: RESTRequest
    /// The document type `Accept` asked for, if any (``EntityDocumentResource``).
    var documentType: String? = nil
    /// Whether the outcome names the query in its canonical form (``Outcome/canonical``).
    var describesQuery = true

    /// What a request produced, before it is timed and written.
    struct Outcome {
        enum Payload {
            case none
            /// The entities found; the envelope links the query's previous and next pages (made only then).
            case entities([JSON], pagesOf: EntityQuery)
            case change([JSON], counts: [(key: String, count: Int)])
            case count(Int)
            case document(JSON)
            /// One entity's own document (``EntityDocumentResource``), sent as it is.
            case file(EntityDocument)
        }
        var status = 200
        var info: String?
        var error: SwitchboardError?
        var canonical: String?
        var count: Int?
        var payload = Payload.none

        init(status: Int = 200, info: String? = nil, canonical: String? = nil, count: Int? = nil, payload: Payload = .none) {
            self.status = status
            self.info = info
            self.canonical = canonical
            self.count = count
            self.payload = payload
        }

        init(error: SwitchboardError) {
            status = error.status
            info = error.message
            self.error = error
        }

        /// The entities of a list answer (found, or changed), which a format other than JSON writes.
        var entities: [JSON]? {
            switch payload {
            case .entities(let rows, _), .change(let rows, _): rows
            default: nil
            }
        }

        /// For `Accept: application/json; single=true`: the one entity found becomes the body.
        /// - Throws: `404` when none was found, `400` when more than one was.
        mutating func keepSingleEntity(_ method: RESTMethod) throws(SwitchboardError) {
            guard let rows = entities else { return }
            switch rows.count {
            case 1: payload = .document(rows[0])
            case 0 where method == .GET:
                throw SwitchboardError(.notFound, code: .noMatch, "No entity matches \(canonical ?? "the request") (Accept asks for single=true)")
            case 0: payload = .document(.null)
            default:
                throw SwitchboardError(
                    .badRequest, code: .ambiguousMatch,
                    "\(rows.count) entities match \(canonical ?? "the request"); Accept asks for single=true, which needs exactly one: add conditions or limit=1"
                )
            }
        }

        /// The elapsed time as the body says it: milliseconds, to the microsecond.
        private static func elapsedJSON(_ elapsed: Double) -> JSON { .double((elapsed * 1000).rounded() / 1000) }

        /// A page of entities' body (``body(raw:elapsed:uri:)``'s envelope) printed pretty, with its final newline,
        /// straight from the rows: no object is made for the envelope, nor freed (every GET over HTTP). `nil`
        /// for any other answer.
        func printedEntityPage(elapsed: Double) -> ByteBuffer? {
            guard error == nil, case .entities(let rows, let query) = payload else { return nil }
            var writer = JSONWriter(pretty: true, capacity: 4096)
            writer.append(UInt8(ascii: "{"))
            writer.beginMember("Data", indent: 0, first: true)
            writer.write(.array(rows), indent: 1)
            writer.beginMember("DataCount", indent: 0, first: false)
            writer.write(.int(rows.count), indent: 1)
            let (previous, next) = query.pageLinks(returned: rows.count)
            if let previous {
                writer.beginMember("PreviousPage", indent: 0, first: false)
                writer.writeQuoted(previous)
            }
            if let next {
                writer.beginMember("NextPage", indent: 0, first: false)
                writer.writeQuoted(next)
            }
            writer.beginMember("TimeElapsedMs", indent: 0, first: false)
            writer.write(Self.elapsedJSON(elapsed), indent: 1)
            writer.beginMember("Status", indent: 0, first: false)
            writer.append(#""success""#)
            writer.endObject(indent: 0)
            writer.append(UInt8(ascii: "\n"))
            return writer.finishBuffer()
        }

        /// The JSON body: the envelope `{Data, DataCount, ..., Status}`, or the bare data when `raw`.
        /// ``printedEntityPage(elapsed:)`` prints a page's the same way.
        func body(raw: Bool, elapsed: Double, uri: String) -> JSON? {
            let time = Self.elapsedJSON(elapsed)
            if let error {
                guard case .object(var object) = error.body(uri: uri) else { return nil }
                object["TimeElapsedMs"] = time
                return .object(object)
            }
            switch payload {
            case .none, .file: return nil
            case .document(let document): return document
            case .count(let count):
                return raw ? ["Count": .int(count)] : ["Count": .int(count), "TimeElapsedMs": time, "Status": "success"]
            case .entities(let rows, let query):
                if raw { return .array(rows) }
                // The members in one array of the right size: every GET's answer is made here.
                var members: [(key: String, value: JSON)] = []
                members.reserveCapacity(6)
                members.append(("Data", .array(rows)))
                members.append(("DataCount", .int(rows.count)))
                let (previous, next) = query.pageLinks(returned: rows.count)
                if let previous { members.append(("PreviousPage", .string(previous))) }
                if let next { members.append(("NextPage", .string(next))) }
                members.append(("TimeElapsedMs", time))
                members.append(("Status", "success"))
                return .object(JSONObject(distinctMembers: members))
            case .change(let rows, let counts):
                if raw { return .array(rows) }
                var object: JSONObject = ["Data": .array(rows), "DataCount": .int(rows.count)]
                for (key, count) in counts { object[key] = .int(count) }
                object["TimeElapsedMs"] = time
                object["Status"] = "success"
                return .object(object)
            }
        }
    }

    /// `0 entities found` … `127 entities found`.
    private static let foundLines = (0..<128).map { String(concatenating: String($0), " entities found") }

    func run() async throws -> Outcome {
        let identity = request.caller.identity ?? .nobody
        let resolved: ResolvedURI
        if let query = request.query {
            resolved = .entities(query)
        } else {
            let uri = try request.parsedURI ?? ResourceURI(parsing: request.uri, maxLength: api.configuration.maxURILength)
            resolved = try api.resolve(uri, written: request.uri, method: request.method, for: identity, named: request.namedResource)
        }
        try api.authorize(request.method, on: resolved.resource, for: identity)
        let query: EntityQuery
        switch resolved {
        case .terminal(let target):
            let terminal = target.descriptor
            let canonical = target.canonical
            switch request.method {
            case .OPTIONS: return Outcome(canonical: canonical, payload: .document(terminal.options))
            case .GET:
                throw SwitchboardError(
                    .upgradeRequired, code: .upgradeRequired,
                    "Connections to terminal resource '\(terminal.name)' must include a WebSocket upgrade handshake")
            default:
                throw SwitchboardError(
                    .methodNotAllowed, code: .methodNotAllowed,
                    "Method '\(request.method)' is not available for terminal resource '\(terminal.name)'; terminals support GET (over WebSocket, to enter them) and OPTIONS"
                )
            }
        case .entities(let entityQuery): query = entityQuery
        }
        let entity = query.resource
        try api.checkLimits(of: query)
        guard entity.operations.supports(request.method) else {
            throw SwitchboardError(
                .methodNotAllowed, code: .methodNotAllowed,
                "Method '\(request.method)' is not available for resource '\(entity.name)'; its methods are \(entity.methods.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let canonical = describesQuery ? query.canonical : nil
        let caller = request.caller
        switch request.method {
        case .OPTIONS:
            return Outcome(canonical: canonical, payload: .document(entity.options))
        case .GET where documentType != nil, .HEAD where documentType != nil:
            return try await document(of: query, entity: entity)
        case .GET, .HEAD, .REPORT:
            // Without a limit, a GET returns one full page at most, with a link to the next.
            var query = query
            let capped = request.method != .REPORT && query.limit == nil
            if capped { query.limit = api.configuration.maxRowsPerRequest }
            let rows = try await QueryDeadline.run(
                api.configuration.queryTimeout, resource: entity.name, inline: entity.selectsCooperatively
            ) { [query] in
                let selection = try await entity.select(
                    EntitySelectRequest(conditions: query.allConditions, paging: query.pushablePaging, caller: caller))
                return try await query.output(selection)
            }
            let more = capped && rows.count == query.limit
            // Every GET says this line: for the page sizes most ask for, it was made once.
            let found =
                more
                ? String(concatenating: "The first ", String(rows.count), " entities found (the most one request returns; NextPage has more)")
                : rows.count < Self.foundLines.count
                    ? Self.foundLines[rows.count] : String(concatenating: String(rows.count), " entities found")
            switch request.method {
            case .REPORT: return Outcome(canonical: canonical, count: rows.count, payload: .count(rows.count))
            case .HEAD:
                // Over HTTP the answer has the fields a GET's would have, its length and type among them
                // (RFC 9110 §9.3.2): the page is made as for a GET, and the HTTP encoder leaves it out.
                return rows.isEmpty
                    ? Outcome(status: 204, info: "No entities found matching request.", canonical: canonical, count: 0)
                    : Outcome(
                        info: found, canonical: canonical, count: rows.count,
                        payload: request.wantsPrintedBody ? .entities(rows, pagesOf: query) : .none)
            default:
                let info = rows.isEmpty ? "No entities found matching request." : found
                return Outcome(info: info, canonical: canonical, count: rows.count, payload: .entities(rows, pagesOf: query))
            }
        case .POST:
            let objects = try bodyObjects(allowArray: true)
            if let keys = query.safePost { return try await safePost(objects, matchingOn: keys, query: query, entity: entity) }
            let inserted = try await entity.insert(objects, caller)
            return Outcome(
                status: inserted.isEmpty ? 200 : 201, info: "\(inserted.count) entities inserted into '\(entity.name)'",
                canonical: canonical, count: inserted.count,
                payload: .change(inserted.map { .object($0) }, counts: [("InsertedCount", inserted.count)]))
        case .PUT:
            let patch = try bodyObjects(allowArray: false)[0]
            let (selection, indices) = try await matches(query, entity: entity, paged: false)
            if indices.count > 1 {
                throw SwitchboardError(
                    .badRequest, code: .ambiguousMatch,
                    "PUT matched \(indices.count) entities in '\(entity.name)'; it inserts when nothing matches and updates when one does. Add conditions that match at most one entity"
                )
            }
            if let index = indices.first {
                let updated = try await entity.update([(selection.entities.entity(at: index), Self.merge(selection.rows[index], patch))], caller)
                return Outcome(
                    info: "\(updated.count) entities updated in '\(entity.name)'", canonical: canonical, count: updated.count,
                    payload: .change(updated.map { .object($0) }, counts: [("UpdatedCount", updated.count)]))
            }
            let inserted = try await entity.insert([patch], caller)
            return Outcome(
                status: 201, info: "\(inserted.count) entities inserted into '\(entity.name)'", canonical: canonical,
                count: inserted.count,
                payload: .change(inserted.map { .object($0) }, counts: [("InsertedCount", inserted.count)]))
        case .PATCH, .DELETE:
            let patch = request.method == .PATCH ? try bodyObjects(allowArray: false)[0] : nil
            let (selection, indices) = try await matches(query, entity: entity, paged: true)
            if indices.count > 1 && !query.unsafe && !request.unsafe {
                throw SwitchboardError(
                    .badRequest, code: .ambiguousMatch,
                    "\(request.method) matched \(indices.count) entities in '\(entity.name)'; changing several entities at once needs the meta-condition unsafe=true (as in /\(entity.name)/<conditions>/unsafe=true), or conditions that match one entity"
                )
            }
            if let patch {
                let pairs = indices.map { (old: selection.entities.entity(at: $0), new: Self.merge(selection.rows[$0], patch)) }
                let updated = pairs.isEmpty ? [] : try await entity.update(pairs, caller)
                return Outcome(
                    info: "\(updated.count) entities updated in '\(entity.name)'", canonical: canonical, count: updated.count,
                    payload: .change(updated.map { .object($0) }, counts: [("UpdatedCount", updated.count)]))
            }
            let deleted = indices.isEmpty ? 0 : try await entity.delete(indices.map { selection.entities.entity(at: $0) }, caller)
            return Outcome(
                info: "\(deleted) entities deleted from '\(entity.name)'", canonical: canonical, count: deleted,
                payload: .change(indices.map { .object(selection.rows[$0]) }, counts: [("DeletedCount", deleted)]))
        }
    }

    /// POST with `safepost`: each object in turn updates the entity it matches on the key properties (within
    /// the URI's conditions), or is inserted when it matches none; matching more than one is a 400.
    func safePost(_ objects: [JSONObject], matchingOn keys: [[EntityField]], query: EntityQuery, entity: EntityDescriptor) async throws -> Outcome {
        let caller = request.caller
        var updated: [JSON] = []
        var inserted: [JSON] = []
        for (index, object) in objects.enumerated() {
            var matching = query
            (matching.limit, matching.offset, matching.order) = (nil, 0, nil)
            for fields in keys {
                let path = fields.map(\.name)
                let written = path.joined(separator: ".")
                guard let value = object.value(at: path), let typed = EntityValue(json: value, as: fields.last!.type) else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidInput,
                        "Object \(index) of the body has no valid '\(written)' (\(fields.last!.type.name)), which safepost matches on")
                }
                matching.conditions.append(EntityCondition(path: path, fields: fields, op: .equal, value: typed))
            }
            let (selection, indices) = try await matches(matching, entity: entity, paged: false)
            switch indices.count {
            case 0: inserted += try await entity.insert([object], caller).map { .object($0) }
            case 1:
                let index = indices[0]
                updated += try await entity.update([(selection.entities.entity(at: index), Self.merge(selection.rows[index], object))], caller)
                    .map { .object($0) }
            default:
                throw SwitchboardError(
                    .badRequest, code: .ambiguousMatch,
                    "Object \(index) of the body matches \(indices.count) entities in '\(entity.name)' on \(keys.map { $0.map(\.name).joined(separator: ".") }.joined(separator: ", ")); safepost updates one entity per object"
                )
            }
        }
        return Outcome(
            status: inserted.isEmpty ? 200 : 201,
            info: "Updated \(updated.count) and then inserted \(inserted.count) entities in resource '\(entity.name)'",
            canonical: query.canonical, count: updated.count + inserted.count,
            payload: .change(updated + inserted, counts: [("UpdatedCount", updated.count), ("InsertedCount", inserted.count)]))
    }

    /// The entities a write applies to.
    /// `GET` with `Accept` naming a document type: the document of the one entity the query selects.
    func document(of query: EntityQuery, entity: EntityDescriptor) async throws -> Outcome {
        guard let documentType, let document = entity.document, entity.documentTypes.contains(documentType) else {
            throw SwitchboardError(
                .notAcceptable, code: .notAcceptable,
                "Resource '\(entity.name)' has no documents of type '\(documentType ?? "")'; its entities come as application/json and the registered formats")
        }
        let (selection, indices) = try await matches(query, entity: entity, paged: true)
        switch indices.count {
        case 0:
            throw SwitchboardError(
                .notFound, code: .noMatch,
                "No entity matches \(query.canonical); Accept asks for a document (\(documentType)), which comes from exactly one entity")
        case 1:
            let file = try await document(selection.entities.entity(at: indices[0]), request.caller)
            return Outcome(info: "The \(documentType) document of 1 entity", canonical: query.canonical, count: 1, payload: .file(file))
        default:
            throw SwitchboardError(
                .badRequest, code: .ambiguousMatch,
                "\(indices.count) entities match \(query.canonical); Accept asks for a document (\(documentType)), which comes from exactly one entity: add conditions that match one"
            )
        }
    }

    func matches(_ query: EntityQuery, entity: EntityDescriptor, paged: Bool) async throws -> (ErasedSelection, [Int]) {
        let caller = request.caller
        return try await QueryDeadline.run(api.configuration.queryTimeout, resource: entity.name, inline: entity.selectsCooperatively) {
            let selection = try await entity.select(
                EntitySelectRequest(conditions: query.allConditions, paging: paged ? query.pushablePaging : nil, caller: caller))
            return (selection, try await query.selectIndices(selection, paging: paged))
        }
    }

    /// Overlays `patch` on `base`, merging nested objects, matching names case-insensitively.
    static func merge(_ base: JSONObject, _ patch: JSONObject) -> JSONObject {
        var result = base
        for (key, value) in patch.members {
            let existing = result.members.first { $0.key.lowercased() == key.lowercased() }
            let name = existing?.key ?? key
            if case .object(let inner)? = existing?.value, case .object(let innerPatch) = value {
                result[name] = .object(merge(inner, innerPatch))
            } else {
                result[name] = value
            }
        }
        return result
    }

    /// The body as JSON objects: an object, or (for POST) an array of objects.
    func bodyObjects(allowArray: Bool) throws(SwitchboardError) -> [JSONObject] {
        if let type = request.headers[.contentType], !type.isEmpty, !RESTRequest.isJSONContentType(type) {
            throw SwitchboardError.unsupportedContentType(type)
        }
        guard let body = request.body, body.readableBytes > 0 else {
            throw SwitchboardError(
                .badRequest, code: .invalidInput,
                "\(request.method) needs a JSON body: \(allowArray ? "an object or an array of objects" : "an object")")
        }
        // Checked on the bytes: read as a `String` first, invalid bytes became U+FFFD and were stored so (a
        // Latin-1 "été" became "�t�").
        guard var text = String(validating: body.readableBytesView, as: UTF8.self) else {
            throw SwitchboardError(
                .badRequest, code: .invalidInput, "The body is not valid UTF-8; JSON is UTF-8 (RFC 8259), whatever a charset says")
        }
        // A byte order mark (Windows editors and PowerShell write one) is not JSON; RFC 8259 §8.1 lets a parser
        // ignore it, rather than answer a syntax error at byte 0xef.
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        let json: JSON
        do {
            json = try JSON(parsing: text)
        } catch {
            throw SwitchboardError(.badRequest, code: .jsonSyntax, error.description)
        }
        switch json {
        case .object(let object): return [object]
        case .array(let elements) where allowArray:
            return try elements.enumerated().map { index, element throws(SwitchboardError) in
                guard case .object(let object) = element else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidInput, "Element \(index) of the body is \(element.kindDescription); expected an object")
                }
                return object
            }
        default:
            throw SwitchboardError(
                .badRequest, code: .invalidInput,
                "The body is \(json.kindDescription); \(request.method) expects \(allowArray ? "an object or an array of objects" : "an object")")
        }
    }
}
