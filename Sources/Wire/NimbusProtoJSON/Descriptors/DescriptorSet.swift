import NimbusRPCCore

/// Every message, enum and service of a set of `.proto` files, by full name. Built once at
/// start from the serialized descriptors generated code carries; read-only afterwards.
public struct DescriptorSet: Sendable {
    public private(set) var files: [FileDescriptor] = []
    public private(set) var messages: [String: MessageDescriptor] = [:]
    public private(set) var enums: [String: EnumDescriptor] = [:]
    public private(set) var services: [String: ServiceDescriptor] = [:]

    public init() {}

    /// From a serialized `google.protobuf.FileDescriptorSet` (what `protoc --descriptor_set_out` writes).
    public init(fileDescriptorSet bytes: [UInt8]) throws {
        var reader = ProtoReader(bytes)
        while let (field, wireType) = try reader.readTag() {
            if field == 1 && wireType == .lengthDelimited {
                try add(fileDescriptorProto: try reader.readBytes())
            } else {
                try reader.skip(wireType, field: field)
            }
        }
        try validate()
    }

    /// From the descriptors generated code exposes (`ProtoFileDescriptor`).
    public init(_ files: [ProtoFileDescriptor]) throws {
        for file in files { try add(fileDescriptorProto: file.serialized) }
        try validate()
    }

    public func message(_ fullName: String) -> MessageDescriptor? { messages[Self.trimDot(fullName)] }
    public func enumType(_ fullName: String) -> EnumDescriptor? { enums[Self.trimDot(fullName)] }
    public func service(_ fullName: String) -> ServiceDescriptor? { services[Self.trimDot(fullName)] }

    /// Adds one serialized `FileDescriptorProto`. A file already present (same name) is skipped,
    /// so overlapping sets can be merged; a symbol declared by two different files is an error.
    public mutating func add(fileDescriptorProto bytes: [UInt8]) throws {
        let decoded: DecodedFile
        do {
            decoded = try DecodedFile(bytes)
        } catch let error as ProtoWireError {
            throw DescriptorError("FileDescriptorProto: \(error)")
        }
        guard !files.contains(where: { $0.name == decoded.file.name }) else { return }
        for message in decoded.messages {
            guard messages[message.fullName] == nil else {
                throw DescriptorError("\(message.fullName) declared twice (again in \(decoded.file.name))")
            }
            messages[message.fullName] = message
        }
        for enumType in decoded.enums {
            guard enums[enumType.fullName] == nil else {
                throw DescriptorError("\(enumType.fullName) declared twice (again in \(decoded.file.name))")
            }
            enums[enumType.fullName] = enumType
        }
        for service in decoded.services {
            guard services[service.fullName] == nil else {
                throw DescriptorError("\(service.fullName) declared twice (again in \(decoded.file.name))")
            }
            services[service.fullName] = service
        }
        files.append(decoded.file)
    }

    /// Every type a field or method names must be present.
    public func validate() throws {
        for message in messages.values {
            for field in message.fields {
                switch field.type {
                case .message, .group:
                    guard let typeName = field.typeName, messages[typeName] != nil else {
                        throw DescriptorError("\(message.fullName).\(field.name) refers to unknown message \(field.typeName ?? "?")")
                    }
                case .enum:
                    guard let typeName = field.typeName, enums[typeName] != nil else {
                        throw DescriptorError("\(message.fullName).\(field.name) refers to unknown enum \(field.typeName ?? "?")")
                    }
                default: break
                }
            }
        }
        for service in services.values {
            for method in service.methods {
                for typeName in [method.inputType, method.outputType] where messages[typeName] == nil {
                    throw DescriptorError("\(service.fullName).\(method.name) refers to unknown message \(typeName)")
                }
            }
        }
    }

    static func trimDot(_ name: String) -> String {
        name.hasPrefix(".") ? String(name.dropFirst()) : name
    }
}
