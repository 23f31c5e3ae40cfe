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
        try process.run()
        // Read up to the READY line; EOF first means the server died.
        var text = ""
        let handle = stdout.fileHandleForReading
        while !text.contains("\n") {
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
    var description: String { "the Python echo server did not start; output: \(self)" }
}

/// The two messages of nimbus.testing.v1.Echo, encoded by hand (a few protobuf fields), so
/// these transport tests need nothing generated.
struct EchoRequest {
    var text = ""
    var repeatCount: Int32 = 0
    var payload: [UInt8] = []
    var failWithCode: Int32 = 0
    var failWithMessage = ""
    var delayMs: Int32 = 0

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        EchoWire.bytes(1, Array(text.utf8), into: &out)
        EchoWire.varint(2, UInt64(UInt32(bitPattern: repeatCount)), into: &out)
        EchoWire.bytes(3, payload, into: &out)
        EchoWire.varint(4, UInt64(UInt32(bitPattern: failWithCode)), into: &out)
        EchoWire.bytes(5, Array(failWithMessage.utf8), into: &out)
        EchoWire.varint(6, UInt64(UInt32(bitPattern: delayMs)), into: &out)
        return out
    }
}

struct EchoResponse: Equatable {
    var text = ""
    var index: Int32 = 0
    var payload: [UInt8] = []

    init(text: String = "", index: Int32 = 0, payload: [UInt8] = []) {
        self.text = text
        self.index = index
        self.payload = payload
    }

    init(decoding bytes: [UInt8]) throws {
        var i = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw EchoWire.Malformed() }
                let b = bytes[i]; i += 1
                value |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while i < bytes.count {
            let key = try varint()
            switch (key >> 3, key & 7) {
            case (1, 2), (3, 2):
                let n = Int(try varint())
                guard i + n <= bytes.count else { throw EchoWire.Malformed() }
                let field = Array(bytes[i..<i + n]); i += n
                if key >> 3 == 1 { text = String(decoding: field, as: UTF8.self) } else { payload = field }
            case (2, 0):
                index = Int32(truncatingIfNeeded: try varint())
            default:
                throw EchoWire.Malformed()
            }
        }
    }
}

enum EchoWire {
    struct Malformed: Error {}

    static func varint(_ field: UInt64, _ value: UInt64, into out: inout [UInt8]) {
        guard value != 0 else { return }
        raw(field << 3, into: &out)
        raw(value, into: &out)
    }

    static func bytes(_ field: UInt64, _ value: [UInt8], into out: inout [UInt8]) {
        guard !value.isEmpty else { return }
        raw(field << 3 | 2, into: &out)
        raw(UInt64(value.count), into: &out)
        out += value
    }

    static func raw(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static let say = MethodDescriptor(service: "nimbus.testing.v1.Echo", method: "Say", kind: .unary)
    static let expand = MethodDescriptor(service: "nimbus.testing.v1.Echo", method: "Expand", kind: .serverStreaming)
    static let collect = MethodDescriptor(service: "nimbus.testing.v1.Echo", method: "Collect", kind: .clientStreaming)
    static let chat = MethodDescriptor(service: "nimbus.testing.v1.Echo", method: "Chat", kind: .bidirectionalStreaming)
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

    @Test func echoCodecRoundTrip() throws {
        var request = EchoRequest(text: "héllo", repeatCount: 3, payload: [0, 1, 255])
        request.failWithCode = 5
        // The response decoder only knows fields 1-3; check the shared ones survive.
        let decoded = try EchoResponse(decoding: EchoRequest(text: request.text, payload: request.payload).encoded())
        #expect(decoded == EchoResponse(text: "héllo", payload: [0, 1, 255]))
        #expect(request.encoded().count > decoded.payload.count)
    }
}
