public import NIOCore
public import HTTPTypes

/// A request to the REST layer, from HTTP or from the Shell.
public struct RESTRequest: Sendable {
    /// The method.
    public var method: RESTMethod
    /// The percent-encoded URI relative to the API root (`/superhero/year>1950//limit=2`), optionally with
    /// `?` and conditions.
    public var uri: String
    /// The request headers; `Accept` and `Content-Type` are read.
    public var headers: HTTPFields
    /// The body, for POST, PUT and PATCH.
    public var body: ByteBuffer?
    /// Who asks.
    public var caller: RESTCaller
    /// Allows PATCH and DELETE on several entities as if the URI said `unsafe=true` (the Shell sets it after
    /// the client confirmed).
    public var unsafe: Bool
    /// The query, when the request was made from one resolved before
    /// (``init(method:query:headers:body:caller:unsafe:)``); the ``uri`` is then not parsed again.
    public private(set) var query: EntityQuery?
    /// The ``uri`` parsed before, by a transport that had to look at it first (HTTP, to answer a GET on a
    /// terminal with `426`); the API then does not parse it again. It must be ``uri``, parsed with the API's
    /// ``Configuration/maxURILength``.
    package var parsedURI: ResourceURI?
    /// The resource ``parsedURI`` names by its resource name, looked up before by the same transport (HTTP, for a
    /// GET); the API then does not look it up again. `nil` to have the API look it up.
    package var namedResource: RegisteredResource?
    /// Whether the answer's ``RESTResponse/headers`` are wanted beyond those a document needs
    /// (`Switchboard-Info`, `Switchboard-Elapsed-Ms`, the JSON `Content-Type`): the Shell shows them only with
    /// `WriteHeaders`, and they cost a check of every value that goes in.
    package var wantsResponseHeaders = true
    /// Whether the answer's ``RESTResponse/canonicalURI`` is wanted. HTTP shows it nowhere, and its text costs a
    /// GET as much as writing the page's next link; `false` leaves it `nil` unless the request is made from a
    /// query (``init(method:query:headers:body:caller:unsafe:)``), whose canonical form is its URI already.
    package var wantsCanonicalURI = true
    /// Whether a page of entities is wanted printed (``RESTResponse/printedBody``) rather than as a `JSON` value
    /// (``RESTResponse/body``): a transport that sends bytes (HTTP) then gets the envelope written straight
    /// from the rows.
    package var wantsPrintedBody = false

    /// Creates a request for a URI, which the API resolves when it runs the request.
    public init(
        method: RESTMethod, uri: String, headers: HTTPFields = HTTPFields(), body: ByteBuffer? = nil,
        caller: RESTCaller = RESTCaller(), unsafe: Bool = false
    ) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.caller = caller
        self.unsafe = unsafe
    }

    /// Creates a request whose URI a transport has parsed, and whose resource it has looked up, already (see
    /// ``parsedURI`` and ``namedResource``).
    package init(
        method: RESTMethod, uri: String, headers: HTTPFields, body: ByteBuffer?, caller: RESTCaller, parsedURI: ResourceURI?,
        namedResource: RegisteredResource?, wantsCanonicalURI: Bool, wantsPrintedBody: Bool
    ) {
        // Each property set here, not through the other initializer and then changed: that copied the whole
        // request twice (callgrind).
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.caller = caller
        self.unsafe = false
        self.parsedURI = parsedURI
        self.namedResource = namedResource
        self.wantsCanonicalURI = wantsCanonicalURI
        self.wantsPrintedBody = wantsPrintedBody
    }

    /// Creates a request for an entity query resolved before (``SwitchboardAPI/resolve(_:for:)``), as the
    /// Shell does for its location: the query is used as it is, and ``uri`` is its canonical form.
    public init(
        method: RESTMethod, query: EntityQuery, headers: HTTPFields = HTTPFields(), body: ByteBuffer? = nil,
        caller: RESTCaller = RESTCaller(), unsafe: Bool = false
    ) {
        self.init(method: method, uri: query.canonical, headers: headers, body: body, caller: caller, unsafe: unsafe)
        self.query = query
    }
}

extension RESTRequest {
    /// Whether a content type is JSON: `application/json` or `application/<something>+json`, with any
    /// parameters. The types a cross-site form or a simple cross-site `fetch` can send (`text/plain`, the
    /// form encodings) are not, which is why bodies of other types are refused.
    public static func isJSONContentType(_ type: String) -> Bool {
        let media = type.split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() } ?? ""
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }
}

extension SwitchboardError {
    /// `415` for a body that is not declared JSON (`type` is its `Content-Type`, `nil` when it has none).
    public static func unsupportedContentType(_ type: String?) -> SwitchboardError {
        SwitchboardError(
            .unsupportedMediaType, code: .unsupportedInput,
            (type.map { "Unsupported Content-Type '\($0.prefix(100))'" } ?? "The request has a body but no Content-Type")
                + "; send 'Content-Type: application/json' (with curl: -H 'Content-Type: application/json'). Other types are refused because any web page can send them"
        )
    }

    /// The refusal of a body in a content coding (`Content-Encoding: gzip`): bodies are taken as they are.
    public static func unsupportedContentEncoding(_ coding: String) -> SwitchboardError {
        SwitchboardError(
            .unsupportedMediaType, code: .unsupportedInput,
            "Unsupported Content-Encoding '\(coding.prefix(100))'; send the body uncompressed (no Content-Encoding)")
    }
}

/// The result of a REST request: a status, an info line, headers and a JSON body.
public struct RESTResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// One line on what happened (`2 entities updated in 'Samples.Superhero'`), or the error message.
    public var info: String?
    /// The error, for failed requests.
    public var error: SwitchboardError?
    /// How long the request took, in milliseconds.
    public var elapsedMilliseconds: Double
    /// The response headers: `Content-Type` (with a body), `Switchboard-Info`, `Switchboard-Elapsed-Ms`.
    public var headers: HTTPFields
    /// The body, when it is JSON; `nil` for HEAD, for bodiless answers, for answers in another format
    /// (``encodedBody``), and for a page of entities that HTTP asked for printed.
    public var body: JSON?
    /// A page of entities' JSON body, printed pretty with its final newline, for a request that asked for it so
    /// (``RESTRequest/wantsPrintedBody``); ``body`` is then `nil`.
    package var printedBody: ByteBuffer?
    /// The body, written in the format the request's `Accept` asked for (JSON Lines, CSV, ...), when it is not
    /// JSON (see ``ResponseFormat``); its type is in the `Content-Type` header.
    public var encodedBody: [UInt8]?
    /// One entity's own document, for `GET` with `Accept` naming a document type (``EntityDocumentResource``):
    /// the transport sends its bytes as they are read; its type and length are in ``headers``.
    public var document: EntityDocument?
    /// The canonical form of the URI, when it resolved.
    public var canonicalURI: String?
    /// How many entities the request selected, inserted, changed or counted.
    public var entityCount: Int?

    /// The body as text: JSON pretty-printed with a final newline, or the ``encodedBody``.
    public var bodyText: String? {
        if let encodedBody { return String(decoding: encodedBody, as: UTF8.self) }
        if let printedBody { return String(buffer: printedBody) }
        return body.map { $0.prettyPrinted + "\n" }
    }

    /// ``bodyText`` as UTF-8 bytes, for a transport that sends bytes (no `String` made on the way).
    package var bodyBuffer: ByteBuffer? {
        if let encodedBody { return ByteBuffer(bytes: encodedBody) }
        if let printedBody { return printedBody }
        return body?.prettyPrintedLine()
    }

    /// ``elapsedMilliseconds`` as ``format(milliseconds:)`` writes it, when it was written already (for the
    /// `Switchboard-Elapsed-Ms` header).
    package var elapsedText: String?

    /// The status line the Shell shows: `<status>: <reason> (<ms> ms). <info>`.
    public var statusLine: String { String(buffer: statusLineBytes) }

    /// ``statusLine`` as UTF-8 bytes, written straight into one buffer of the right size: the Shell sends one
    /// for every answer, and a `String` made of the pieces would be checked again as UTF-8.
    package var statusLineBytes: ByteBuffer {
        let reason = SwitchboardError.reasonPhrase(for: status)
        let reference = error?.entryReference ?? ""
        let info = self.info ?? ""
        var line = ByteBuffer()
        line.reserveCapacity(3 + 2 + reason.utf8.count + 2 + Self.maxMillisecondsLength + 5 + info.utf8.count + reference.utf8.count)
        line.writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { Self.writeDigits(of: status, to: $0) }
        line.writeStaticString(": ")
        line.writeString(reason)
        line.writeStaticString(" (")
        if let elapsedText {
            line.writeString(elapsedText)
        } else {
            let milliseconds = elapsedMilliseconds
            line.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.maxMillisecondsLength) {
                Self.writeMilliseconds(milliseconds, to: $0)
            }
        }
        line.writeStaticString(" ms)")
        if !info.isEmpty {
            line.writeStaticString(". ")
            line.writeString(info)
        }
        line.writeString(reference)
        return line
    }

    /// Milliseconds with at most three decimals: `0.412`, `12.5`, `3`.
    static func format(milliseconds: Double) -> String {
        String(unsafeUninitializedCapacity: maxMillisecondsLength) { buffer in
            writeMilliseconds(milliseconds, to: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// The most bytes ``writeMilliseconds(_:to:)`` writes: a sign, the 19 digits of `Int.max`, a point and three.
    static let maxMillisecondsLength = 24

    /// Writes milliseconds as ``format(milliseconds:)`` prints them; returns how many bytes it wrote.
    private static func writeMilliseconds(_ milliseconds: Double, to buffer: UnsafeMutableRawBufferPointer) -> Int {
        let thousandths = Int((milliseconds * 1000).rounded())
        guard thousandths >= 0 else {
            // Whole milliseconds only, as `String(thousandths / 1000)` writes them (never an elapsed time).
            let whole = thousandths / 1000
            guard whole < 0 else { return writeDigits(of: 0, to: buffer) }
            buffer[0] = UInt8(ascii: "-")
            return 1 + writeDigits(of: -whole, to: UnsafeMutableRawBufferPointer(rebasing: buffer[1...]))
        }
        var count = writeDigits(of: thousandths / 1000, to: buffer)
        var fraction = thousandths % 1000
        if fraction > 0 {
            buffer[count] = UInt8(ascii: ".")
            count += 1
            var place = 100
            while fraction > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(fraction / place)
                count += 1
                fraction %= place
                place /= 10
            }
        }
        return count
    }

    /// Writes the decimal digits of a number that is not negative; returns how many.
    private static func writeDigits(of value: Int, to buffer: UnsafeMutableRawBufferPointer) -> Int {
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        var count = 0
        while divisor > 0 {
            buffer[count] = UInt8(ascii: "0") + UInt8(rest / divisor)
            count += 1
            rest %= divisor
            divisor /= 10
        }
        return count
    }
}
