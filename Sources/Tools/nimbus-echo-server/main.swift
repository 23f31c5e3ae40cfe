// nimbus-echo-server: a gRPC server hosting the wire test service (and the generated
// services of the wire tests), for the Python interop suite and `make bench-rpc`.
//
//   nimbus-echo-server [--host H] [--port P] [--threads N] [--tls-cert F --tls-key F [--client-ca F]]
//                      [--max-message-size BYTES] [--no-access-log] [--log-level LEVEL]
//                      [--handlers-on-pool] [--idle-timeout-ms MS] [--keepalive-ms MS] [--keepalive-timeout-ms MS] [--window BYTES]
// Prints `listening <port>` on stdout once bound; SIGTERM/SIGINT shut down gracefully.
import Logging
import NimbusEventLoop
import NimbusGRPC
import NimbusHTTP
import NimbusPlatform
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

struct Options {
    var configuration = GRPCServerConfiguration()
    var logLevel = Logger.Level.info

    init(_ arguments: [String]) throws {
        var i = 0
        var cert: String?, key: String?, ca: String?
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw UsageError(message: "\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--host": configuration.host = try value()
            case "--port": configuration.port = Int(try value()) ?? 0
            case "--threads": configuration.threads = max(1, Int(try value()) ?? 1)
            case "--tls-cert": cert = try value()
            case "--tls-key": key = try value()
            case "--client-ca": ca = try value()
            case "--max-message-size": configuration.maxReceiveMessageSize = Int(try value()) ?? (4 << 20)
            case "--no-access-log": configuration.accessLog = false
            case "--handlers-on-pool": configuration.runHandlersOnEventLoop = false
            case "--idle-timeout-ms": configuration.idleTimeout = .milliseconds(Int(try value()) ?? 300_000)
            case "--keepalive-ms": configuration.keepaliveInterval = .milliseconds(Int(try value()) ?? 60_000)
            case "--keepalive-timeout-ms": configuration.keepaliveTimeout = .milliseconds(Int(try value()) ?? 20_000)
            case "--window": configuration.initialWindowSize = UInt32(try value()) ?? (1 << 20)
            case "--log-level":
                guard let level = Logger.Level(rawValue: try value()) else { throw UsageError(message: "unknown log level") }
                logLevel = level
            default: throw UsageError(message: "unknown option \(arguments[i])")
            }
            i += 1
        }
        if let cert, let key {
            configuration.tls = .init(certificateChainPath: cert, privateKeyPath: key, clientCAPath: ca)
        } else if cert != nil || key != nil {
            throw UsageError(message: "--tls-cert and --tls-key go together")
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { "nimbus-echo-server: \(message)" }
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    print(error)
    exit(2)
}
let level = options.logLevel
LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
NimbusMetrics.bootstrap()
signal(SIGPIPE, SIG_IGN)

let server = try GRPCServer(
    configuration: options.configuration,
    services: EchoServices.all(),
    operational: HTTPOperationalEndpoints(readiness: { true }, metrics: {
        var text = NimbusMetrics.render()
        GRPCServerStatistics.appendPrometheus(into: &text)
        return text
    }))
// Signals first: the test harness may send SIGTERM as soon as it reads the port.
let signalSources = installSignalHandlers(server)
try await server.start()
print("listening \(server.port)")
fflush(stdout)
try await server.run()
