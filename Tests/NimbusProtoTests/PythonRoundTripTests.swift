import Foundation
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// Swift encodes, Python's protobuf (from PyPI, in .venv) decodes and compares with its own
/// values and encodings; Python encodes, Swift decodes. See Tests/python/roundtrip/check.py.
@Suite struct PythonRoundTripTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let python = repoRoot.appendingPathComponent(".venv/bin/python")
    static let checkScript = repoRoot.appendingPathComponent("Tests/python/roundtrip/check.py")
    static var pythonAvailable: Bool { FileManager.default.isExecutableFile(atPath: python.path) }
    /// In CI (or when asked) a missing venv is a failure, not a skip.
    static var pythonRequired: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["CI"].map { !$0.isEmpty && $0 != "0" && $0 != "false" } == true || env["NIMBUS_REQUIRE_PYTHON"] != nil
    }

    @Test(.enabled(if: pythonAvailable || pythonRequired, "needs .venv (make deps); set NIMBUS_REQUIRE_PYTHON to insist"))
    func swiftAndPythonAgreeOnEveryFieldKind() throws {
        guard Self.pythonAvailable else {
            Issue.record("Python venv missing at \(Self.python.path): run `make deps` (scripts/install-deps.sh)")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-roundtrip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let swiftDir = dir.appendingPathComponent("swift")
        let descriptorDir = dir.appendingPathComponent("descriptors")
        try FileManager.default.createDirectory(at: swiftDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: descriptorDir, withIntermediateDirectories: true)

        for (name, message) in RoundTripCases.all {
            try Data(message.serializedBytes()).write(to: swiftDir.appendingPathComponent("\(name).bin"))
        }
        // naming.proto's closure includes echo.proto and a google.api.http option to keep.
        for (i, file) in TestingV1.AdminMethods.fileDescriptors.enumerated() {
            try Data(file.serialized).write(to: descriptorDir.appendingPathComponent("\(i).bin"))
        }

        let process = Process()
        process.executableURL = Self.python
        process.arguments = [Self.checkScript.path, dir.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "check.py failed:\n\(text)")
        #expect(text.contains("\(RoundTripCases.all.count) cases checked"), "\(text)")

        // Python's encodings decode to the same Swift values (maps in any order, unknown enums kept).
        for (name, want) in RoundTripCases.all {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent("python/\(name).bin")))
            let got = try TestingV1.Everything(serializedBytes: bytes)
            #expect(got == want, "case \(name)")
        }
    }
}
