// swift-tools-version:6.1
// Nimbus — a self-hosted cloud platform. The target list mirrors the layers of
// docs/ARCHITECTURE.md §2: C → generated → runtime → wire/data/platform → domains → executables.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

/// Server executables allocate through mimalloc (Debian's libmimalloc-dev), not glibc's malloc:
/// a request allocates a few dozen small blocks on one thread and frees most of them a moment
/// later, and glibc's per-thread cache (7 blocks per size) overflows into its locked arenas
/// under load. mimalloc cut a unary gRPC call's CPU by ~7% (`make bench-rpc`); the reference
/// nghttpd links jemalloc for the same reason. Linking it is all it takes to replace malloc.
let serverLinkerSettings: [LinkerSetting] = [.linkedLibrary("mimalloc", .when(platforms: [.linux]))]

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let coreMetrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "Nimbus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nimbus-identity", targets: ["nimbus-identity"]),
        .executable(name: "nimbus-compute", targets: ["nimbus-compute"]),
        .executable(name: "nimbus-storage", targets: ["nimbus-storage"]),
        .executable(name: "nimbus-database", targets: ["nimbus-database"]),
        .executable(name: "nimbus-gateway", targets: ["nimbus-gateway"]),
        .executable(name: "nimbus", targets: ["nimbus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // ── C layer: Debian -dev packages and one shim for macros and syscalls Glibc hides ──
        .systemLibrary(name: "CNGHTTP2", path: "Sources/C/CNGHTTP2", pkgConfig: "libnghttp2",
                       providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CProtobufC", path: "Sources/C/CProtobufC", pkgConfig: "libprotobuf-c",
                       providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/C/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/C/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/C/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/C/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CNimbusShims", dependencies: ["COpenSSL"], path: "Sources/C/CNimbusShims"),

        // ── generated: protoc-c output, the Swift types over it, and the generator itself ──
        .target(name: "NimbusProtoC", dependencies: ["CProtobufC"], path: "Sources/Generated/NimbusProtoC"),
        .target(name: "NimbusProto", dependencies: ["NimbusProtoC", "NimbusProtoRuntime", "NimbusRPCCore", "CProtobufC"],
                path: "Sources/Generated/NimbusProto", swiftSettings: swiftSettings),
        // The test protos (Protos/nimbus/testing): linked by tests and tools only, never by a service or the CLI.
        .target(name: "NimbusTestingProtoC", dependencies: ["CProtobufC", "NimbusProtoC"], path: "Sources/Generated/NimbusTestingProtoC"),
        .target(name: "NimbusTestingProto", dependencies: ["NimbusTestingProtoC", "NimbusProtoC", "NimbusProto", "NimbusProtoRuntime", "NimbusRPCCore", "CProtobufC"],
                path: "Sources/Generated/NimbusTestingProto", swiftSettings: swiftSettings),
        .target(name: "ProtocPluginC", dependencies: ["CProtobufC"], path: "Sources/Generated/ProtocPluginC"),
        .executableTarget(name: "protoc-gen-nimbus-swift", dependencies: ["ProtocPluginC", "CProtobufC"],
                          path: "Sources/Tools/protoc-gen-nimbus-swift", swiftSettings: swiftSettings),

        // ── runtime: epoll event loops shared by the wire and the data layer ──
        .target(name: "NimbusEventLoop", dependencies: ["CNimbusShims"],
                path: "Sources/Runtime/NimbusEventLoop", swiftSettings: swiftSettings),

        // ── wire: RPC vocabulary, protobuf-c bridge, HTTP/2 + HTTP/1.1 transport, gRPC ──
        .target(name: "NimbusRPCCore", path: "Sources/Wire/NimbusRPCCore", swiftSettings: swiftSettings),
        .target(name: "NimbusProtoRuntime", dependencies: ["CProtobufC", "NimbusRPCCore"],
                path: "Sources/Wire/NimbusProtoRuntime", swiftSettings: swiftSettings),
        .target(name: "NimbusHTTP", dependencies: ["NimbusEventLoop", "CNGHTTP2", "COpenSSL", "CNimbusShims", log, metrics],
                path: "Sources/Wire/NimbusHTTP", swiftSettings: swiftSettings),
        // HTTP/1.1 through libcurl's multi-socket interface on an event loop (the container engine's API).
        .target(name: "NimbusCurl", dependencies: ["NimbusEventLoop", "CCurl"],
                path: "Sources/Wire/NimbusCurl", swiftSettings: swiftSettings),
        .target(name: "NimbusGRPC", dependencies: ["NimbusHTTP", "NimbusEventLoop", "NimbusRPCCore", "NimbusProto", "CZlib", "CNimbusShims", log, metrics],
                path: "Sources/Wire/NimbusGRPC", swiftSettings: swiftSettings),
        // Descriptors, the proto3 JSON mapping, REST transcoding and OpenAPI: Foundation and the RPC core only.
        .target(name: "NimbusProtoJSON", dependencies: ["NimbusRPCCore"],
                path: "Sources/Wire/NimbusProtoJSON", swiftSettings: swiftSettings),

        .executableTarget(name: "nimbus-echo-server", dependencies: ["NimbusGRPC", "NimbusHTTP", "NimbusEventLoop", "NimbusRPCCore", "NimbusPlatform", "NimbusProto", "NimbusTestingProto", log], path: "Sources/Tools/nimbus-echo-server", swiftSettings: swiftSettings, linkerSettings: serverLinkerSettings),
        // ── data: libpq pool, rows, transactions, errors, migrator ──
        .executableTarget(name: "nimbus-pg-bench", dependencies: ["NimbusPostgres", "NimbusEventLoop"], path: "Sources/Tools/nimbus-pg-bench", swiftSettings: swiftSettings),
        .target(name: "NimbusPostgres", dependencies: ["NimbusEventLoop", "CLibPQ", "CNimbusShims", "COpenSSL", log, metrics, coreMetrics],
                path: "Sources/Data/NimbusPostgres", swiftSettings: swiftSettings),

        // ── platform: config, logging, metrics, crypto, principal ──
        .target(name: "NimbusPlatform", dependencies: ["COpenSSL", "CNimbusShims", "CZlib", "NimbusRPCCore", log, metrics, prometheus, lifecycle],
                path: "Sources/Platform/NimbusPlatform", swiftSettings: swiftSettings),
        .target(name: "NimbusService", dependencies: ["NimbusPlatform", "NimbusGRPC", "NimbusHTTP", "NimbusRPCCore", "NimbusProto", "NimbusPostgres", "NimbusMigrations", log, metrics, prometheus, lifecycle, unixSignals, argumentParser],
                path: "Sources/Platform/NimbusService", swiftSettings: swiftSettings),
        // Background work on PostgreSQL: outbox relay, leader leases, work claims, periodic workers.
        .target(name: "NimbusBackground", dependencies: ["NimbusPostgres", log, lifecycle],
                path: "Sources/Platform/NimbusBackground", swiftSettings: swiftSettings),
        // The container engine (Docker Engine API) that compute's instances and managed databases run on.
        .target(name: "NimbusContainers", dependencies: ["NimbusRPCCore", "NimbusCurl"],
                path: "Sources/Platform/NimbusContainers", swiftSettings: swiftSettings),

        // SQL from Migrations/<service>/ compiled into the binaries (generated; `make migrations`).
        .target(name: "NimbusMigrations", path: "Sources/Generated/NimbusMigrations", swiftSettings: swiftSettings),
        // Migrations/testing, for the migrator's tests only (never linked into a binary).
        .target(name: "NimbusTestingMigrations", dependencies: ["NimbusMigrations"], path: "Sources/Generated/NimbusTestingMigrations", swiftSettings: swiftSettings),
        // The web console (Console/) embedded for the gateway to serve (generated; `make console`).
        .target(name: "NimbusConsole", path: "Sources/Generated/NimbusConsole", swiftSettings: swiftSettings),

        // ── domains ──
        .target(name: "NimbusIdentity", dependencies: ["NimbusService", "NimbusPlatform", "NimbusPostgres", "NimbusRPCCore", "NimbusProto", "NimbusBackground", log, lifecycle, argumentParser], path: "Sources/Domains/NimbusIdentity", swiftSettings: swiftSettings),
        .target(name: "NimbusCompute", dependencies: ["NimbusService", "NimbusPlatform", "NimbusPostgres", "NimbusGRPC", "NimbusRPCCore", "NimbusProto", "NimbusContainers", "NimbusBackground", log, metrics, lifecycle], path: "Sources/Domains/NimbusCompute", swiftSettings: swiftSettings),
        .target(name: "NimbusStorage", dependencies: ["NimbusService", "NimbusProto", "NimbusHTTP", "NimbusGRPC", "NimbusRPCCore", "NimbusPostgres", "NimbusPlatform", "NimbusBackground", log, metrics, lifecycle], path: "Sources/Domains/NimbusStorage", swiftSettings: swiftSettings),
        .target(name: "NimbusDatabases", dependencies: ["NimbusService", "NimbusProto"], path: "Sources/Domains/NimbusDatabases", swiftSettings: swiftSettings),
        .target(name: "NimbusGateway", dependencies: ["NimbusService", "NimbusProtoJSON", "NimbusPlatform", "NimbusGRPC", "NimbusHTTP", "NimbusEventLoop", "NimbusRPCCore", "NimbusProto", "NimbusConsole", log, metrics, lifecycle], path: "Sources/Domains/NimbusGateway", swiftSettings: swiftSettings),

        // ── executables: a page of wiring each ──
        .executableTarget(name: "nimbus-identity", dependencies: ["NimbusIdentity", "NimbusService"], path: "Sources/Executables/nimbus-identity", swiftSettings: swiftSettings, linkerSettings: serverLinkerSettings),
        .executableTarget(name: "nimbus-compute", dependencies: ["NimbusCompute", "NimbusService"], path: "Sources/Executables/nimbus-compute", swiftSettings: swiftSettings, linkerSettings: serverLinkerSettings),
        .executableTarget(name: "nimbus-storage", dependencies: ["NimbusStorage", "NimbusService"], path: "Sources/Executables/nimbus-storage", swiftSettings: swiftSettings, linkerSettings: serverLinkerSettings),
        .executableTarget(name: "nimbus-database", dependencies: ["NimbusDatabases", "NimbusService"], path: "Sources/Executables/nimbus-database", swiftSettings: swiftSettings, linkerSettings: serverLinkerSettings),
        .executableTarget(name: "nimbus-gateway", dependencies: ["NimbusGateway", "NimbusService"], path: "Sources/Executables/nimbus-gateway", swiftSettings: swiftSettings, linkerSettings: serverLinkerSettings),
        .executableTarget(name: "nimbus", dependencies: ["NimbusProto", "NimbusProtoJSON", "NimbusGRPC", "NimbusHTTP", "NimbusRPCCore", "NimbusPlatform", argumentParser],
                          path: "Sources/Executables/nimbus", swiftSettings: swiftSettings),

        // ── test support and tests (mirroring Sources/) ──
        .target(name: "NimbusTestSupport", dependencies: ["NimbusPostgres", "NimbusPlatform", "NimbusProtoJSON", "NimbusContainers", log],
                path: "Tests/Support/NimbusTestSupport", exclude: ["ProtoFixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "NimbusProtoTests", dependencies: ["NimbusProto", "NimbusTestingProto", "NimbusProtoRuntime", "NimbusRPCCore", "NimbusTestSupport"], path: "Tests/NimbusProtoTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusEventLoopTests", dependencies: ["NimbusEventLoop", "NimbusHTTP"], path: "Tests/NimbusEventLoopTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusWireTests", dependencies: ["NimbusGRPC", "NimbusHTTP", "NimbusEventLoop", "NimbusRPCCore", "NimbusProto", "NimbusTestingProto", "CNimbusShims", "NimbusTestSupport"], path: "Tests/NimbusWireTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusPostgresTests", dependencies: ["NimbusPostgres", "NimbusEventLoop", "NimbusService", "NimbusMigrations", "NimbusTestingMigrations", "NimbusRPCCore", "NimbusTestSupport", log, argumentParser], path: "Tests/NimbusPostgresTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusPlatformTests", dependencies: ["NimbusPlatform", "NimbusService", "NimbusPostgres", "NimbusRPCCore", "NimbusTestSupport", log, argumentParser], path: "Tests/NimbusPlatformTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusIdentityTests", dependencies: ["NimbusIdentity", "NimbusService", "NimbusPlatform", "NimbusPostgres", "NimbusProto", "NimbusRPCCore", "NimbusTestSupport", log], path: "Tests/NimbusIdentityTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusComputeTests", dependencies: ["NimbusCompute", "NimbusContainers", "NimbusService", "NimbusPlatform", "NimbusPostgres", "NimbusRPCCore", "NimbusTestSupport", log], path: "Tests/NimbusComputeTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusBackgroundTests", dependencies: ["NimbusBackground", "NimbusPostgres", "NimbusTestSupport", log], path: "Tests/NimbusBackgroundTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusContainersTests", dependencies: ["NimbusContainers", "NimbusRPCCore", "NimbusTestSupport"], path: "Tests/NimbusContainersTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusStorageTests", dependencies: ["NimbusStorage", "NimbusService", "NimbusPlatform", "NimbusPostgres", "NimbusHTTP", "NimbusTestSupport", log], path: "Tests/NimbusStorageTests", exclude: ["S3Auth/make_botocore_fixtures.py"], swiftSettings: swiftSettings),
        .testTarget(name: "NimbusProtoJSONTests", dependencies: ["NimbusProtoJSON", "NimbusRPCCore", "NimbusTestSupport"], path: "Tests/NimbusProtoJSONTests", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusGatewayTests", dependencies: ["NimbusGateway", "NimbusService", "NimbusConsole", "NimbusProtoJSON", "NimbusGRPC", "NimbusHTTP", "NimbusPlatform", "NimbusRPCCore", "NimbusTestSupport"], path: "Tests/NimbusGatewayTests", swiftSettings: swiftSettings),
    ]
)
