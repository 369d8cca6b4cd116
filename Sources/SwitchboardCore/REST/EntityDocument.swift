public import NIOCore

/// A resource whose entities are also documents of their own, served whole: a recording is an asciicast
/// file, an attachment is its bytes.
///
/// `GET` with an `Accept` that names one of ``documentTypes`` answers the document of the one entity the URI
/// selects instead of the entity (`404` when none matches, `400` when several do); every other request sees
/// the entities as usual. Rights are those of `GET` on the resource, and ``document(of:caller:)`` gets only
/// entities that ``EntityResource/select(_:)`` returned to this caller.
///
/// ```swift
/// struct Reports: EntityDocumentResource {
///     var documentTypes: [String] { ["text/markdown"] }
///     func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Report> { ... }
///     func document(of report: Report, caller: RESTCaller) async throws -> EntityDocument {
///         EntityDocument(contentType: "text/markdown; charset=utf-8", bytes: ByteBuffer(string: report.text))
///     }
/// }
/// ```
public protocol EntityDocumentResource: EntityResource {
    /// The media types of the documents, lowercase, without parameters (`application/x-asciicast`).
    var documentTypes: [String] { get }
    /// The document of one entity, as selected for this caller.
    func document(of entity: Entity, caller: RESTCaller) async throws -> EntityDocument
}

/// One entity's document: its type, its size when known, and its bytes, read as the client takes them.
public struct EntityDocument: Sendable {
    /// The `Content-Type` of the answer (`application/x-asciicast`).
    public var contentType: String
    /// The number of bytes, sent as `Content-Length` when known.
    public var byteCount: Int?
    /// The name a browser saves it under (`Content-Disposition: attachment`), when it should be saved.
    public var fileName: String?
    /// Makes the sequence of the document's bytes; called once per answer, and read at the client's pace.
    public var makeBytes: @Sendable () -> AsyncThrowingStream<ByteBuffer, any Error>

    /// A document read in parts as the client takes them (a file).
    public init(
        contentType: String, byteCount: Int? = nil, fileName: String? = nil,
        bytes makeBytes: @escaping @Sendable () -> AsyncThrowingStream<ByteBuffer, any Error>
    ) {
        self.contentType = contentType
        self.byteCount = byteCount
        self.fileName = fileName
        self.makeBytes = makeBytes
    }

    /// A document held in memory.
    public init(contentType: String, bytes: ByteBuffer, fileName: String? = nil) {
        self.init(contentType: contentType, byteCount: bytes.readableBytes, fileName: fileName) {
            AsyncThrowingStream { continuation in
                continuation.yield(bytes)
                continuation.finish()
            }
        }
    }

    /// The `Content-Disposition` header for ``fileName``: quotes and control characters taken out.
    public var contentDisposition: String? {
        guard let fileName else { return nil }
        let safe = String(String.UnicodeScalarView(fileName.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\" }))
        return "attachment; filename=\"\(safe)\""
    }
}
