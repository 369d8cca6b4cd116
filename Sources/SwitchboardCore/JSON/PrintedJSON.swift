/// An object printed pretty, with where its lines end, so that it can be copied into a document at any depth.
///
/// It is printed at ``depth``, the depth of an entity in a page's `Data` array (`{"Data": [{…}]}`), where
/// the Shell and HTTP answers put it: copying it there is one copy. At any other depth each line after the
/// first gains or loses two spaces per level (``JSONWriter``). A string in the output never holds a raw line
/// feed (it is escaped), so every line feed is one the writer put there, and every line after it starts
/// with at least `2 * depth` spaces.
final class PrintedJSON: Sendable {
    /// The depth the object is printed at: its lines after the first are indented by two spaces per level.
    static let depth = 2
    /// The printed bytes.
    let bytes: [UInt8]
    /// The offsets of the line feeds in ``bytes``, in order.
    let lineFeeds: [Int]

    init(_ object: JSONObject) {
        var writer = JSONWriter(pretty: true, capacity: 256)
        writer.write(.object(object), indent: Self.depth)
        let printed = writer.finish()
        bytes = printed
        lineFeeds = printed.indices.filter { printed[$0] == UInt8(ascii: "\n") }
    }
}
