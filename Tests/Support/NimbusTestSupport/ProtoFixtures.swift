import Foundation
import NimbusProtoJSON

/// Descriptors for `ProtoFixtures/gatewaytest/v1/instances.proto`, compiled with the real `protoc` at
/// test time (with imports and source info), so the tests decode exactly what protoc writes.
public enum Fixtures {
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ProtoFixtures")

    public static let descriptorSetBytes: [UInt8] = {
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("nimbus-gateway-fixture-\(getpid()).pb")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["protoc", "-I", directory.path, "-I", "/usr/include", "--include_imports",
                             "--include_source_info", "--descriptor_set_out=\(output.path)",
                             "gatewaytest/v1/instances.proto"]
        do {
            try process.run()
            process.waitUntilExit()
            precondition(process.terminationStatus == 0, "protoc failed on the gateway test fixture")
            let data = try Data(contentsOf: output)
            try? FileManager.default.removeItem(at: output)
            return [UInt8](data)
        } catch {
            fatalError("cannot compile the gateway test fixture: \(error)")
        }
    }()

    public static let descriptors: DescriptorSet = {
        do { return try DescriptorSet(fileDescriptorSet: descriptorSetBytes) } catch {
            fatalError("fixture descriptors do not decode: \(error)")
        }
    }()

    public static let transcoder = ProtoJSONTranscoder(descriptors: descriptors)

    public static let instance = "gatewaytest.v1.Instance"
}

extension JSONValue {
    public static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }
}
