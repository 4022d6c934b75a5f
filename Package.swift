// swift-tools-version:6.0
// Opsplane: Swift FastCGI workers behind nginx on Postgres.
// C libraries sit behind `C*` system-library targets; each Ops* library has one job.
import PackageDescription

/// swift-nio's WebSocket stack, for the ticker and its benchmark client.
let webSocketServer: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOWebSocket", package: "swift-nio"),
    .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
    .product(name: "Atomics", package: "swift-atomics"),
]

let package = Package(
    name: "opsplane",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "opsplane", targets: ["opsplane"]),
        .executable(name: "opsctl", targets: ["opsctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
    ],
    targets: [
        // C libraries (Debian -dev packages, found through pkg-config).
        .systemLibrary(name: "CFCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // JSON values, parsed and printed by libjansson.
        .target(name: "OpsJSON", dependencies: ["CJansson"]),
        // SHA-256, HMAC, secure random and constant-time compare from libcrypto.
        .target(name: "OpsCrypto", dependencies: ["CCrypto"]),
        // Structured JSON log lines.
        .target(name: "OpsLog", dependencies: ["OpsJSON"]),
        // Configuration from environment variables: parsing and validation only.
        .target(name: "OpsConfig"),
        // HTTP model without I/O: request, response, router, query parsing, error envelope.
        .target(name: "OpsHTTP", dependencies: ["OpsJSON"]),
        // FastCGI transport: accept threads, signal handling, request reading, response writing.
        .target(name: "OpsFastCGI", dependencies: ["CFCGI", "OpsHTTP", "OpsLog"]),
        // Postgres access through libpq: connections, parameterised queries, errors.
        .target(name: "OpsPostgres", dependencies: ["CPostgres"]),
        // Activity ledger logic without I/O: record validation, run lifecycle, UTC windows,
        // percentiles, budgets, cache policy.
        .target(name: "OpsActivity", dependencies: ["OpsJSON"]),
        // Log tails: line formats and levels (pure), reading files from their end, the allowlist.
        .target(name: "OpsLogTail", dependencies: ["OpsActivity", "OpsJSON", "OpsLog"]),
        // Support bundles: secret redaction, size-capped assembly with a manifest, gzip.
        .target(name: "OpsSupportBundle", dependencies: ["OpsJSON", "CZlib"]),
        // Browser error reports without I/O: validation, fingerprints, route templates.
        .target(name: "OpsBeacon", dependencies: ["OpsJSON", "OpsActivity"]),
        // Activity ledger storage and queries (libpq).
        .target(name: "OpsLedger", dependencies: ["OpsActivity", "OpsPostgres", "OpsJSON", "OpsLog", "OpsBeacon"]),
        // The demo workload generator (pure) and its loader through the ingest path.
        .target(name: "OpsDemo", dependencies: ["OpsActivity", "OpsLedger", "OpsJSON", "OpsPostgres"]),
        // The live ticker's protocol and bounded queue, without I/O.
        .target(name: "OpsTickerCore", dependencies: ["OpsJSON"]),
        // The live ticker: swift-nio WebSocket server fed by LISTEN ops_events.
        .target(name: "OpsTicker", dependencies: ["OpsTickerCore", "OpsPostgres", "OpsLog", "OpsJSON"] + webSocketServer),
        // A blocking HTTP(S) client on libcurl: HTTP probes and Discord webhooks.
        .target(name: "OpsCurl", dependencies: ["CCurl"]),
        // The monitor's logic without I/O: configuration, health evaluation, trends and
        // anomalies, access-log parsing and histograms, alert rules, Discord messages, cron.
        .target(name: "OpsMonitorCore", dependencies: ["OpsJSON", "OpsActivity"]),
        // The monitor process: probes, capacity, access-log tail, alerts, outbox, digest, rollups.
        .target(name: "OpsMonitor", dependencies: ["OpsMonitorCore", "OpsCurl", "OpsPostgres", "OpsLedger",
                                                   "OpsActivity", "OpsConfig", "OpsLog", "OpsJSON", "OpsCrypto"]),
        // Numbered SQL migrations and their runner.
        .target(name: "OpsMigrations", dependencies: ["OpsPostgres", "OpsCrypto"],
                resources: [.copy("SQL")]),
        // API tokens: generation, hashing, storage.
        .target(name: "OpsAuth", dependencies: ["OpsPostgres", "OpsCrypto", "OpsJSON"]),
        // The route table and its handlers.
        .target(name: "OpsAPI", dependencies: ["OpsHTTP", "OpsJSON", "OpsPostgres", "OpsConfig",
                                               "OpsLog", "OpsMigrations", "OpsAuth", "OpsCrypto",
                                               "OpsActivity", "OpsLedger", "OpsMonitorCore", "OpsBeacon", "OpsLogTail", "OpsSupportBundle"]),
        .executableTarget(name: "opsplane", dependencies: [
            "OpsAPI", "OpsFastCGI", "OpsConfig", "OpsLog", "OpsMigrations", "OpsAuth", "OpsPostgres",
            "OpsDemo", "OpsActivity", "OpsJSON", "OpsTicker", "OpsMonitor", "OpsMonitorCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // opsctl's logic without network I/O: exit codes, one-line errors and token redaction,
        // the --plain views, the config file (mode 0600), server URLs, logs --follow, the
        // WebSocket client protocol.
        .target(name: "OpsCtlCore", dependencies: ["OpsJSON"]),
        // opsctl: the command line for people and AI agents (REST through OpsCurl; the ticker
        // over a libcurl connection, so ws:// and wss:// share its TLS verification).
        .executableTarget(name: "opsctl", dependencies: [
            "OpsCtlCore", "OpsCurl", "CCurl", "OpsJSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The ticker benchmark's client and event generator (make bench; not installed).
        .executableTarget(name: "ticker-bench", dependencies: ["OpsPostgres"] + webSocketServer),

        .testTarget(name: "OpsJSONTests", dependencies: ["OpsJSON"]),
        .testTarget(name: "OpsHTTPTests", dependencies: ["OpsHTTP", "OpsJSON"]),
        .testTarget(name: "OpsConfigTests", dependencies: ["OpsConfig"]),
        .testTarget(name: "OpsCryptoTests", dependencies: ["OpsCrypto"]),
        .testTarget(name: "OpsMigrationsTests", dependencies: ["OpsMigrations", "OpsPostgres"]),
        .testTarget(name: "OpsActivityTests", dependencies: ["OpsActivity", "OpsJSON"]),
        .testTarget(name: "OpsLedgerTests", dependencies: ["OpsLedger", "OpsActivity"]),
        .testTarget(name: "OpsTickerCoreTests", dependencies: ["OpsTickerCore", "OpsJSON"]),
        .testTarget(name: "OpsAuthTests", dependencies: ["OpsAuth", "OpsJSON"]),
        .testTarget(name: "OpsLogTailTests", dependencies: ["OpsLogTail", "OpsActivity"]),
        .testTarget(name: "OpsSupportBundleTests", dependencies: ["OpsSupportBundle", "OpsJSON"]),
        .testTarget(name: "OpsBeaconTests", dependencies: ["OpsBeacon", "OpsJSON", "OpsActivity"]),
        .testTarget(name: "OpsMonitorCoreTests", dependencies: ["OpsMonitorCore", "OpsJSON", "OpsActivity"]),
        .testTarget(name: "OpsPostgresTests", dependencies: ["OpsPostgres", "OpsCrypto"]),
        .testTarget(name: "OpsCtlCoreTests", dependencies: ["OpsCtlCore", "OpsJSON"]),
    ],
    swiftLanguageModes: [.v5]
)
