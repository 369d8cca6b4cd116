extension Duration {
    /// The duration in whole nanoseconds (for metrics and NIO's time amounts).
    package var nanoseconds: Int64 {
        // `components` divides a 128-bit count each time it is read: read once.
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
