import Foundation

/// Decoding `FileDescriptorProto` bytes with `ProtoReader`. Field numbers are those of
/// `google/protobuf/descriptor.proto`; unknown fields are skipped, so newer descriptors decode.
struct DecodedFile {
    var file: FileDescriptor
    var messages: [MessageDescriptor] = []
    var enums: [EnumDescriptor] = []
    var services: [ServiceDescriptor] = []

    /// `google.api.http`: extension 72295728 of `MethodOptions`.
    static let httpRuleExtension = 72_295_728
    /// `google.api.field_behavior`: extension 1052 of `FieldOptions`.
    static let fieldBehaviorExtension = 1052

    private var comments: [[Int]: String] = [:]

    init(_ bytes: [UInt8]) throws {
        file = FileDescriptor(name: "", package: "", dependencies: [], syntax: "proto2",
                              messageNames: [], enumNames: [], serviceNames: [])
        // Source info comes last on the wire but comments are wanted while decoding: first pass.
        var reader = ProtoReader(bytes)
        while let (field, wireType) = try reader.readTag() {
            if field == 9 && wireType == .lengthDelimited {
                comments = try Self.decodeSourceInfo(try reader.readSubmessage())
            } else {
                try reader.skip(wireType, field: field)
            }
        }
        var messageBodies: [(Int, [UInt8])] = []
        var enumBodies: [(Int, [UInt8])] = []
        var serviceBodies: [(Int, [UInt8])] = []
        reader = ProtoReader(bytes)
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): file.name = try reader.readString()
            case (2, .lengthDelimited): file.package = try reader.readString()
            case (3, .lengthDelimited): file.dependencies.append(try reader.readString())
            case (4, .lengthDelimited): messageBodies.append((messageBodies.count, try reader.readBytes()))
            case (5, .lengthDelimited): enumBodies.append((enumBodies.count, try reader.readBytes()))
            case (6, .lengthDelimited): serviceBodies.append((serviceBodies.count, try reader.readBytes()))
            case (12, .lengthDelimited): file.syntax = try reader.readString()
            default: try reader.skip(wireType, field: field)
            }
        }
        let scope = file.package
        for (index, body) in messageBodies { try decodeMessage(body, scope: scope, path: [4, index]) }
        for (index, body) in enumBodies { try decodeEnum(body, scope: scope, path: [5, index]) }
        for (index, body) in serviceBodies { try decodeService(body, scope: scope, path: [6, index]) }
        file.messageNames = messages.map(\.fullName)
        file.enumNames = enums.map(\.fullName)
        file.serviceNames = services.map(\.fullName)
    }

    private static func qualify(_ scope: String, _ name: String) -> String {
        scope.isEmpty ? name : "\(scope).\(name)"
    }

    private mutating func decodeMessage(_ bytes: [UInt8], scope: String, path: [Int]) throws {
        var reader = ProtoReader(bytes)
        var name = ""
        var fieldBodies: [(Int, [UInt8])] = []
        var nested: [(Int, [UInt8])] = []
        var nestedEnums: [(Int, [UInt8])] = []
        var oneofs: [String] = []
        var isMapEntry = false
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (2, .lengthDelimited): fieldBodies.append((fieldBodies.count, try reader.readBytes()))
            case (3, .lengthDelimited): nested.append((nested.count, try reader.readBytes()))
            case (4, .lengthDelimited): nestedEnums.append((nestedEnums.count, try reader.readBytes()))
            case (7, .lengthDelimited):
                var options = try reader.readSubmessage()
                while let (option, optionType) = try options.readTag() {
                    if option == 7 && optionType == .varint {
                        isMapEntry = try options.readVarint() != 0
                    } else {
                        try options.skip(optionType, field: option)
                    }
                }
            case (8, .lengthDelimited):
                var oneof = try reader.readSubmessage()
                var oneofName = ""
                while let (f, t) = try oneof.readTag() {
                    if f == 1 && t == .lengthDelimited { oneofName = try oneof.readString() } else { try oneof.skip(t, field: f) }
                }
                oneofs.append(oneofName)
            default: try reader.skip(wireType, field: field)
            }
        }
        let fullName = Self.qualify(scope, name)
        var fields: [FieldDescriptor] = []
        for (index, body) in fieldBodies {
            fields.append(try decodeField(body, path: path + [2, index]))
        }
        messages.append(MessageDescriptor(fullName: fullName, fields: fields, oneofNames: oneofs,
                                          isMapEntry: isMapEntry, comment: comments[path], file: file.name))
        for (index, body) in nested { try decodeMessage(body, scope: fullName, path: path + [3, index]) }
        for (index, body) in nestedEnums { try decodeEnum(body, scope: fullName, path: path + [4, index]) }
    }

    private func decodeField(_ bytes: [UInt8], path: [Int]) throws -> FieldDescriptor {
        var reader = ProtoReader(bytes)
        var name = "", number = 0, typeName: String?, jsonName: String?
        var type = ProtoFieldType.int32, label = ProtoFieldLabel.optional
        var oneofIndex: Int?, proto3Optional = false, packed: Bool?, deprecated = false
        var behaviors: [Int] = []
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (3, .varint): number = Int(truncatingIfNeeded: try reader.readVarint())
            case (4, .varint):
                let raw = Int(truncatingIfNeeded: try reader.readVarint())
                guard let value = ProtoFieldLabel(rawValue: raw) else { throw DescriptorError("field \(name): label \(raw)") }
                label = value
            case (5, .varint):
                let raw = Int(truncatingIfNeeded: try reader.readVarint())
                guard let value = ProtoFieldType(rawValue: raw) else { throw DescriptorError("field \(name): type \(raw)") }
                type = value
            case (6, .lengthDelimited): typeName = DescriptorSet.trimDot(try reader.readString())
            case (9, .varint): oneofIndex = Int(truncatingIfNeeded: try reader.readVarint())
            case (10, .lengthDelimited): jsonName = try reader.readString()
            case (17, .varint): proto3Optional = try reader.readVarint() != 0
            case (8, .lengthDelimited):
                var options = try reader.readSubmessage()
                while let (option, optionType) = try options.readTag() {
                    switch (option, optionType) {
                    case (2, .varint): packed = try options.readVarint() != 0
                    case (3, .varint): deprecated = try options.readVarint() != 0
                    case (Self.fieldBehaviorExtension, .varint):
                        behaviors.append(Int(truncatingIfNeeded: try options.readVarint()))
                    case (Self.fieldBehaviorExtension, .lengthDelimited):
                        var packedValues = try options.readSubmessage()
                        while !packedValues.isAtEnd {
                            behaviors.append(Int(truncatingIfNeeded: try packedValues.readVarint()))
                        }
                    default: try options.skip(optionType, field: option)
                    }
                }
            default: try reader.skip(wireType, field: field)
            }
        }
        guard number > 0 else { throw DescriptorError("field \(name) has no number") }
        return FieldDescriptor(name: name, number: number, type: type, label: label, typeName: typeName,
                               jsonName: jsonName, oneofIndex: oneofIndex, proto3Optional: proto3Optional,
                               packed: packed, behaviors: behaviors, deprecated: deprecated,
                               comment: comments[path])
    }

    private mutating func decodeEnum(_ bytes: [UInt8], scope: String, path: [Int]) throws {
        var reader = ProtoReader(bytes)
        var name = ""
        var values: [(name: String, number: Int32)] = []
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (2, .lengthDelimited):
                var value = try reader.readSubmessage()
                var valueName = "", number: Int32 = 0
                while let (f, t) = try value.readTag() {
                    switch (f, t) {
                    case (1, .lengthDelimited): valueName = try value.readString()
                    case (2, .varint): number = Int32(truncatingIfNeeded: try value.readVarint())
                    default: try value.skip(t, field: f)
                    }
                }
                values.append((valueName, number))
            default: try reader.skip(wireType, field: field)
            }
        }
        enums.append(EnumDescriptor(fullName: Self.qualify(scope, name), values: values, comment: comments[path]))
    }

    private mutating func decodeService(_ bytes: [UInt8], scope: String, path: [Int]) throws {
        var reader = ProtoReader(bytes)
        var name = ""
        var methods: [ServiceMethodDescriptor] = []
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (2, .lengthDelimited):
                methods.append(try decodeMethod(try reader.readSubmessage(), path: path + [2, methods.count]))
            default: try reader.skip(wireType, field: field)
            }
        }
        services.append(ServiceDescriptor(fullName: Self.qualify(scope, name), methods: methods,
                                          comment: comments[path], file: file.name))
    }

    private func decodeMethod(_ reader: ProtoReader, path: [Int]) throws -> ServiceMethodDescriptor {
        var reader = reader
        var method = ServiceMethodDescriptor(name: "", inputType: "", outputType: "", comment: comments[path])
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): method.name = try reader.readString()
            case (2, .lengthDelimited): method.inputType = DescriptorSet.trimDot(try reader.readString())
            case (3, .lengthDelimited): method.outputType = DescriptorSet.trimDot(try reader.readString())
            case (5, .varint): method.clientStreaming = try reader.readVarint() != 0
            case (6, .varint): method.serverStreaming = try reader.readVarint() != 0
            case (4, .lengthDelimited):
                var options = try reader.readSubmessage()
                while let (option, optionType) = try options.readTag() {
                    switch (option, optionType) {
                    case (33, .varint): method.deprecated = try options.readVarint() != 0
                    case (Self.httpRuleExtension, .lengthDelimited):
                        method.httpRule = try Self.decodeHTTPRule(try options.readSubmessage(), depth: 0)
                    default: try options.skip(optionType, field: option)
                    }
                }
            default: try reader.skip(wireType, field: field)
            }
        }
        return method
    }

    static func decodeHTTPRule(_ reader: ProtoReader, depth: Int) throws -> HTTPRule {
        var reader = reader
        var rule = HTTPRule(method: "", path: "")
        let verbs = [2: "GET", 3: "PUT", 4: "POST", 5: "DELETE", 6: "PATCH"]
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (2...6, .lengthDelimited):
                rule.method = verbs[field]!
                rule.path = try reader.readString()
            case (8, .lengthDelimited):
                var custom = try reader.readSubmessage()
                while let (f, t) = try custom.readTag() {
                    switch (f, t) {
                    case (1, .lengthDelimited): rule.method = try custom.readString().uppercased()
                    case (2, .lengthDelimited): rule.path = try custom.readString()
                    default: try custom.skip(t, field: f)
                    }
                }
            case (7, .lengthDelimited): rule.body = try reader.readString()
            case (12, .lengthDelimited): rule.responseBody = try reader.readString()
            case (11, .lengthDelimited):
                // additional_bindings may not nest further (google/api/http.proto).
                guard depth == 0 else { throw DescriptorError("nested additional_bindings") }
                rule.additionalBindings.append(try decodeHTTPRule(try reader.readSubmessage(), depth: 1))
            default: try reader.skip(wireType, field: field)
            }
        }
        return rule
    }

    /// Leading comments by element path (`SourceCodeInfo.Location`), when the descriptor keeps them.
    private static func decodeSourceInfo(_ reader: ProtoReader) throws -> [[Int]: String] {
        var reader = reader
        var result: [[Int]: String] = [:]
        while let (field, wireType) = try reader.readTag() {
            guard field == 1, wireType == .lengthDelimited else {
                try reader.skip(wireType, field: field)
                continue
            }
            var location = try reader.readSubmessage()
            var path: [Int] = []
            var comment: String?
            while let (f, t) = try location.readTag() {
                switch (f, t) {
                case (1, .lengthDelimited):
                    var packed = try location.readSubmessage()
                    while !packed.isAtEnd { path.append(Int(truncatingIfNeeded: try packed.readVarint())) }
                case (1, .varint): path.append(Int(truncatingIfNeeded: try location.readVarint()))
                case (3, .lengthDelimited): comment = try location.readString()
                default: try location.skip(t, field: f)
                }
            }
            if let comment {
                let trimmed = comment.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.hasPrefix(" ") ? String($0.dropFirst()) : String($0) }
                    .joined(separator: "\n")
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { result[path] = trimmed }
            }
        }
        return result
    }
}
