// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Switchboard", targets: ["Switchboard"]),
        .library(name: "SwitchboardHummingbird", targets: ["SwitchboardHummingbird"]),
        .library(name: "SwitchboardNIOSSL", targets: ["SwitchboardNIOSSL"]),
        .library(name: "SwitchboardAPIKeys", targets: ["SwitchboardAPIKeys"]),
        .library(name: "SwitchboardSQLite", targets: ["SwitchboardSQLite"]),
        .library(name: "SwitchboardCSV", targets: ["SwitchboardCSV"]),
        .library(name: "SwitchboardPTY", targets: ["SwitchboardPTY"]),
        .library(name: "SwitchboardPostgres", targets: ["SwitchboardPostgres"]),
        .library(name: "SwitchboardTesting", targets: ["SwitchboardTesting"]),
        .executable(name: "switchboard", targets: ["switchboard"]),
        .executable(name: "greeter", targets: ["Greeter"]),
        .executable(name: "TodoApp", targets: ["TodoApp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // `swift package generate-documentation`: the API reference from the DocC catalogs.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
    ],
    targets: [
        // The Switchboard module: the core and the Shell under one import.
        .target(
            name: "Switchboard",
            dependencies: [
                "SwitchboardCore", "SwitchboardShell", .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Shell is an ordinary terminal: it sees only the core's public API.
        .target(
            name: "SwitchboardShell",
            dependencies: [
                "SwitchboardCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardCore",
            dependencies: [
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardHummingbird",
            dependencies: [
                "Switchboard", "CSwitchboardZlib",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // API keys kept as SHA-256 hashes, on swift-crypto (which builds BoringSSL on Linux): a module of its
        // own, so that applications with an authenticator of their own do not build it.
        .target(
            name: "SwitchboardAPIKeys",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        // CSV answers (`text/csv`) on CSV.swift, which needs Foundation: a module of its own, so that applications
        // that do not register the format do not link it.
        .target(
            name: "SwitchboardCSV",
            dependencies: ["SwitchboardCore", .product(name: "CSV", package: "CSV.swift")],
            swiftSettings: swiftSettings
        ),
        // TLS from PEM files for SwitchboardHummingbird, on swift-nio-ssl: a module of its own, so that
        // applications that do not serve TLS themselves do not build BoringSSL.
        .target(
            name: "SwitchboardNIOSSL",
            dependencies: [
                "SwitchboardHummingbird",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardSQLite",
            dependencies: [
                "Switchboard", "SwitchboardCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSwitchboardPTY"),
        // permessage-deflate's compressor and inflater, on the system's zlib (which Hummingbird's compression
        // links too).
        .target(name: "CSwitchboardZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "SwitchboardPostgres",
            dependencies: [
                "Switchboard", "SwitchboardCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardPTY",
            dependencies: [
                "Switchboard", "SwitchboardCore", "CSwitchboardPTY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardTesting",
            dependencies: ["Switchboard", "SwitchboardCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardSamples",
            dependencies: ["Switchboard", .product(name: "NIOCore", package: "swift-nio")],
            path: "Samples/SwitchboardSamples",
            swiftSettings: swiftSettings
        ),
        // The guides' examples that no sample holds (Scripts/check_snippets.py).
        .target(
            name: "SwitchboardSnippets",
            dependencies: ["Switchboard", "SwitchboardHummingbird", "SwitchboardNIOSSL", "SwitchboardPTY", "SwitchboardSQLite", "SwitchboardSamples"],
            path: "Samples/Snippets",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Greeter",
            dependencies: ["Switchboard", "SwitchboardAPIKeys", "SwitchboardHummingbird", "SwitchboardPTY"],
            path: "Samples/Greeter",
            swiftSettings: swiftSettings
        ),
        // An application of its own that mounts Switchboard beside its routes (Docs/Embedding.md).
        .executableTarget(
            name: "TodoApp",
            dependencies: ["Switchboard", "SwitchboardHummingbird", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Samples/TodoApp",
            swiftSettings: swiftSettings
        ),
        // The servers Scripts/bench.py measures beside `switchboard serve`: a bare Hummingbird echo and an
        // in-memory entity resource (Docs/Performance.md). Built with everything else, so it cannot rot.
        .executableTarget(
            name: "BenchServer",
            dependencies: [
                "Switchboard", "SwitchboardHummingbird", "CSwitchboardZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            path: "Benchmarks/BenchServer",
            swiftSettings: swiftSettings
        ),
        // A server with a terminal that never returns, for the shutdown-deadline test.
        .executableTarget(
            name: "StuckServer",
            dependencies: ["Switchboard", "SwitchboardHummingbird"],
            path: "Tests/Fixtures/StuckServer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "Switchboard", "SwitchboardAPIKeys", "SwitchboardCSV", "SwitchboardHummingbird", "SwitchboardNIOSSL", "SwitchboardSamples", "SwitchboardSQLite",
                "SwitchboardPTY", "SwitchboardPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardTests",
            dependencies: [
                "Switchboard", "SwitchboardCore", "SwitchboardTesting", "SwitchboardSamples", "SwitchboardSQLite", "SwitchboardTestSupport",
                "SwitchboardPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the end-to-end test targets share: a real server on an ephemeral port, WebSocket and raw
        // TCP clients, the paths of the built binaries.
        .target(
            name: "SwitchboardTestSupport",
            dependencies: [
                "Switchboard", "SwitchboardHummingbird", "SwitchboardSamples", "SwitchboardTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/SwitchboardTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardHummingbirdTests",
            dependencies: [
                "Switchboard", "SwitchboardHummingbird", "CSwitchboardZlib", "SwitchboardSamples", "SwitchboardTesting", "SwitchboardTestSupport",
                "StuckServer", "TodoApp", "SwitchboardAPIKeys", "SwitchboardCSV", "SwitchboardNIOSSL",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardPTYTests",
            dependencies: [
                "Switchboard", "SwitchboardAPIKeys", "SwitchboardHummingbird", "SwitchboardPTY", "SwitchboardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardSQLiteTests",
            dependencies: ["Switchboard", "SwitchboardSQLite", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The command-line tool: serve, connect, keys, run as processes; the line editor of connect.
        .testTarget(
            name: "SwitchboardCommandTests",
            dependencies: [
                "Switchboard", "SwitchboardHummingbird", "SwitchboardPTY", "SwitchboardTestSupport", "switchboard",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
