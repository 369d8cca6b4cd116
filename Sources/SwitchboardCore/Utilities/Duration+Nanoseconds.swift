extension Duration {
    /// The duration in whole nanoseconds (for metrics and NIO's time amounts).
    package var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
