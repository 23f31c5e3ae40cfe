import Testing
@testable import NimbusProtoJSON
import NimbusTestSupport

@Suite struct DescriptorSetTests {
    let set = Fixtures.descriptors

    @Test func decodesMessagesWithJSONNamesAndTypes() throws {
        let instance = try #require(set.message("gatewaytest.v1.Instance"))
        let memory = try #require(instance.field(named: "memoryBytes"))
        #expect(memory.name == "memory_bytes")
        #expect(memory.number == 4)
        #expect(memory.type == .int64)
        #expect(instance.field(named: "memory_bytes")?.number == 4)
        #expect(instance.field(named: "customJSON")?.number == 31)
        let ports = try #require(instance.field(named: "ports"))
        #expect(ports.isRepeated)
        #expect(ports.typeName == "gatewaytest.v1.Port")
        let state = try #require(instance.field(named: "state"))
        #expect(state.type == .enum)
        #expect(set.enumType("gatewaytest.v1.Instance.State")?.number(for: "RUNNING") == 2)
    }

    @Test func decodesMapsOneofsOptionalsAndBehaviors() throws {
        let instance = try #require(set.message(Fixtures.instance))
        let labels = try #require(instance.field(named: "labels"))
        let entry = try #require(set.message(labels.typeName ?? ""))
        #expect(entry.isMapEntry)
        let zone = try #require(instance.field(named: "zone"))
        let host = try #require(instance.field(named: "host"))
        #expect(zone.oneofIndex != nil && zone.oneofIndex == host.oneofIndex)
        #expect(instance.oneofNames.contains("placement"))
        let priority = try #require(instance.field(named: "priority"))
        #expect(priority.proto3Optional)
        #expect(instance.field(named: "id")?.isOutputOnly == true)
        #expect(instance.field(named: "name")?.isRequiredByAPI == true)
    }

    @Test func decodesServicesMethodsAndHTTPRules() throws {
        let service = try #require(set.service("gatewaytest.v1.Instances"))
        #expect(service.comment == "Manages instances.")
        let get = try #require(service.methods.first { $0.name == "GetInstance" })
        #expect(get.inputType == "gatewaytest.v1.GetInstanceRequest")
        #expect(get.outputType == "gatewaytest.v1.Instance")
        #expect(get.httpRule == HTTPRule(method: "GET", path: "/v1/instances/{id}"))
        #expect(get.comment == "Returns one instance.")
        let create = try #require(service.methods.first { $0.name == "CreateInstance" })
        #expect(create.httpRule?.method == "POST")
        #expect(create.httpRule?.body == "instance")
        let byName = try #require(service.methods.first { $0.name == "GetByName" })
        #expect(byName.httpRule?.additionalBindings == [HTTPRule(method: "GET", path: "/v1/by-name/{name=**}")])
        #expect(byName.httpRule?.allBindings.count == 2)
        let ports = try #require(service.methods.first { $0.name == "ListPorts" })
        #expect(ports.httpRule?.responseBody == "ports")
        let watch = try #require(service.methods.first { $0.name == "Watch" })
        #expect(watch.serverStreaming && !watch.clientStreaming)
        #expect(watch.httpRule == nil)
    }

    @Test func includesWellKnownTypesFromImports() {
        #expect(set.message("google.protobuf.Timestamp") != nil)
        #expect(set.message("google.protobuf.Struct") != nil)
        #expect(set.files.contains { $0.name == "gatewaytest/v1/instances.proto" })
    }

    @Test func singleFilesMergeAndDanglingReferencesAreRejected() throws {
        // Split the set into its files and add them back one by one, dependencies last.
        var reader = ProtoReader(Fixtures.descriptorSetBytes)
        var files: [[UInt8]] = []
        while let (field, type) = try reader.readTag() {
            if field == 1 { files.append(try reader.readBytes()) } else { try reader.skip(type, field: field) }
        }
        var partial = DescriptorSet()
        try partial.add(fileDescriptorProto: try #require(files.last))
        #expect(throws: DescriptorError.self) { try partial.validate() }
        for file in files.reversed() { try partial.add(fileDescriptorProto: file) }
        try partial.validate()
        #expect(partial.files.count == files.count)
    }

    @Test func garbageIsAnErrorNotACrash() {
        #expect(throws: (any Error).self) { try DescriptorSet(fileDescriptorSet: [0x0A, 0x05, 0x0A, 0x10, 0x41]) }
    }
}
