/// An object printed pretty at indent 0, with where its lines end, so that it can be copied into a document
/// at any depth: every line after the first gains two spaces per level (``JSONWriter``). A string in the
/// output never holds a raw line feed (it is escaped), so every line feed is one the writer put there.
final class PrintedJSON: Sendable {
    /// The printed bytes.
    let bytes: [UInt8]
    /// The offsets of the line feeds in ``bytes``, in order.
    let lineFeeds: [Int]

    init(_ object: JSONObject) {
        var writer = JSONWriter(pretty: true, capacity: 256)
        writer.write(.object(object), indent: 0)
        let printed = writer.finish()
        bytes = printed
        lineFeeds = printed.indices.filter { printed[$0] == UInt8(ascii: "\n") }
    }
}
