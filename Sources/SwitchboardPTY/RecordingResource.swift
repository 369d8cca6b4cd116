import Switchboard

/// `Switchboard.Recording`: the recorded PTY sessions. The query language selects them
/// (`/api/recording/duration>60`), DELETE deletes them, and `GET` with `Accept: application/x-asciicast`
/// answers one recording's asciicast v2 file, which `asciinema play` plays.
///
/// A caller sees, downloads and deletes the recordings of the terminals it opened; administrators see all.
/// Recordings the server makes of every session (``RecordingConfiguration/recordsEverySession``, for audit)
/// are deleted only by administrators and by retention.
struct RecordingResource: EntityDocumentResource {
    let recordings: SessionRecordings
    var resourceName: String { "Switchboard.Recording" }
    var resourceDescription: String? { "Recorded PTY sessions (asciicast v2); GET with Accept: application/x-asciicast downloads one, DELETE deletes" }
    var operations: EntityOperations { [.select, .delete] }
    var documentTypes: [String] { [SessionRecordings.mediaType] }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<RecordingEntry> {
        let identity = request.caller.identity
        return .unfiltered(await recordings.all.filter { Self.may(identity, see: $0) })
    }

    func delete(_ entities: [RecordingEntry], caller: RESTCaller) async throws -> Int {
        let identity = caller.identity
        let allowed = entities.filter { Self.may(identity, see: $0) }
        if !(identity?.rights.isAdministrator ?? false), let audit = allowed.first(where: \.audit) {
            throw SwitchboardError(
                .forbidden, code: .forbidden,
                "Recording \(audit.id) was made because the server records every session (audit); only an administrator may delete it")
        }
        return await recordings.delete(allowed.map(\.id))
    }

    func document(of entity: RecordingEntry, caller: RESTCaller) async throws -> EntityDocument {
        guard Self.may(caller.identity, see: entity), let file = await recordings.file(of: entity.id) else {
            throw SwitchboardError(.notFound, code: .noMatch, "There is no recording \(entity.id)")
        }
        return EntityDocument(contentType: SessionRecordings.mediaType, byteCount: file.length, fileName: entity.id + ".cast") {
            RecordingFile.bytes(path: file.path, length: file.length)
        }
    }

    static func may(_ identity: AccessIdentity?, see entry: RecordingEntry) -> Bool {
        guard let identity else { return false }
        return identity.rights.isAdministrator || identity.name == entry.owner
    }
}
