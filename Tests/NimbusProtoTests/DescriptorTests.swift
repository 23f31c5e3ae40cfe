import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// The embedded descriptors decode with the generated descriptor.proto types (proto2), which is
/// how a reader such as the gateway walks messages, fields and methods.
@Suite struct DescriptorTests {
    @Test func echoDescriptorDescribesTheFile() throws {
        let file = try GoogleProtobuf.FileDescriptorProto(serializedBytes: TestingV1.EchoProtoFile.descriptor.serialized)
        #expect(file.name == "nimbus/testing/v1/echo.proto")
        #expect(file.package == "nimbus.testing.v1")
        #expect(file.syntax == "proto3")
        #expect(file.sourceCodeInfo == nil)
        let service = try #require(file.service.first)
        #expect(service.name == "Echo")
        #expect(service.method.map(\.name) == ["Say", "Expand", "Collect", "Chat"])
        #expect(service.method.map { $0.serverStreaming ?? false } == [false, true, false, true])
        #expect(service.method.first?.inputType == ".nimbus.testing.v1.EchoRequest")
        let everything = try #require(file.messageType.first { $0.name == "Everything" })
        let color = try #require(everything.field.first { $0.name == "color" })
        #expect(color.number == 16)
        #expect(color.type == .enum)
        #expect(color.label == .optional)
        #expect(color.jsonName == "color")
        #expect(everything.field.first { $0.name == "r_int32" }?.label == .repeated)
        #expect(everything.nestedType.contains { $0.name == "LabelsEntry" && $0.options?.mapEntry == true })
        #expect(everything.oneofDecl.map(\.name) == ["choice"])
    }

    @Test func descriptorsWithoutExtensionsReencodeIdentically() throws {
        let files = GrpcHealthV1.HealthMethods.fileDescriptors + GoogleApi.HttpProtoFile.descriptorsWithDependencies
            + TestingV1.EchoMethods.fileDescriptors
        for file in files {
            let decoded = try GoogleProtobuf.FileDescriptorProto(serializedBytes: file.serialized)
            #expect(decoded.serializedBytes() == file.serialized, "\(file.name)")
        }
    }

    @Test func proto2PresenceIsOptional() throws {
        var field = GoogleProtobuf.FieldDescriptorProto()
        #expect(field.serializedBytes() == [])
        field.number = 0  // present even though zero
        field.name = ""
        #expect(field.serializedBytes() == [0x0A, 0x00, 0x18, 0x00])
        let decoded = try GoogleProtobuf.FieldDescriptorProto(serializedBytes: [0x18, 0x00])
        #expect(decoded.number == 0)
        #expect(decoded.name == nil)
    }
}
