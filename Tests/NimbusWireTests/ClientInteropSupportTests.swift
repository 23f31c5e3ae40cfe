import Foundation
import NimbusRPCCore
import Synchronization
import Testing

/// Runs Tests/python/interop_client/echo_server.py (grpcio) as a child process.
final class PythonEchoServer: Sendable {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = repoRoot.appendingPathComponent(".venv/bin/python").path
    static let script = repoRoot.appendingPathComponent("Tests/python/interop_client/echo_server.py").path

    /// Whether the venv is there; when it is not, CI (or NIMBUS_REQUIRE_PYTHON) turns that into a failure.
    static var available: Bool { FileManager.default.isExecutableFile(atPath: python) }
    static var required: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["CI"] != nil || env["NIMBUS_REQUIRE_PYTHON"] != nil
    }
    static let unavailableReason = "Python interop tests skipped: \(python) is missing (run scripts/install-deps.sh)"

    let process: Process
    let port: Int
    /// The server's self-signed certificate (TLS only): trust it as the CA.
    let certificatePath: String?
    let tlsDirectory: String?
    private let output: Mutex<String>

    struct Options {
        var port = 0
        var tlsDirectory: String?
        var mutualTLS = false
    }

    private init(process: Process, port: Int, certificatePath: String?, tlsDirectory: String?, output: String) {
        self.process = process
        self.port = port
        self.certificatePath = certificatePath
        self.tlsDirectory = tlsDirectory
        self.output = Mutex(output)
    }

    static func start(_ options: Options = Options()) throws -> PythonEchoServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        var arguments = [script, "--port", String(options.port)]
        if let dir = options.tlsDirectory { arguments += ["--tls", dir] }
        if options.mutualTLS { arguments.append("--mtls") }
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = stdout  // a traceback ends up in the "did not start" error
        try process.run()
        // Read up to the READY line; EOF first means the server died.
        var text = ""
        let handle = stdout.fileHandleForReading
        while !text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().contains(where: { $0.hasPrefix("READY ") }) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }) else {
            process.terminate()
            throw EchoServerError.didNotStart(text)
        }
        var port = 0
        var cert: String?
        for field in line.split(separator: " ") {
            if field.hasPrefix("port=") { port = Int(field.dropFirst(5)) ?? 0 }
            if field.hasPrefix("cert="), field != "cert=-" { cert = String(field.dropFirst(5)) }
        }
        let server = PythonEchoServer(process: process, port: port, certificatePath: cert, tlsDirectory: options.tlsDirectory, output: text)
        // Keep draining stdout so the child never blocks on a full pipe.
        let drain = Thread { [server] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                server.output.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
        }
        drain.start()
        return server
    }

    /// SIGKILL: the peer vanishes without GOAWAY, like a crashed replica.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning { kill() }
    }

    deinit { stop() }

    static func makeTLSDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-client-tls-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

enum EchoServerError: Error, CustomStringConvertible {
    case didNotStart(String)
    var description: String {
        switch self {
        case .didNotStart(let output): "the Python echo server did not start; output: \(output)"
        }
    }
}

@Suite("Client interop prerequisites")
struct ClientInteropPrerequisiteTests {
    @Test func pythonVenvIsThereWhenRequired() {
        if !PythonEchoServer.available {
            if PythonEchoServer.required {
                Issue.record("\(PythonEchoServer.unavailableReason); CI/NIMBUS_REQUIRE_PYTHON is set, so this is a failure")
            } else {
                print(PythonEchoServer.unavailableReason)
            }
        }
    }
}
