import ProtocPluginC

// Reading the protobuf-c structs of a decoded CodeGeneratorRequest into the model. The only
// file of the plugin besides main.swift that touches C.

private func str(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

private func list<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> UnsafeBufferPointer<T> {
    guard let p, n > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: p, count: n)
}

private func qualifiedTypeName(_ p: UnsafeMutablePointer<CChar>?) -> String {
    let s = str(p)
    return s.hasPrefix(".") ? String(s.dropFirst()) : s
}

/// Comments of a file by descriptor path (e.g. [4, 0, 2, 1] = field 1 of message 0).
struct Comments {
    private var byPath: [[Int32]: String] = [:]

    init(_ info: UnsafeMutablePointer<Google__Protobuf__SourceCodeInfo>?) {
        guard let info else { return }
        for location in list(info.pointee.location, info.pointee.n_location) {
            guard let l = location?.pointee else { continue }
            let text = str(l.leading_comments).isEmpty ? str(l.trailing_comments) : str(l.leading_comments)
            let trimmed = text.trimmingWhitespace()
            if !trimmed.isEmpty { byPath[Array(list(l.path, l.n_path))] = trimmed }
        }
    }

    subscript(_ path: [Int32]) -> String? { byPath[path] }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}

extension FileModel {
    init(_ file: UnsafeMutablePointer<Google__Protobuf__FileDescriptorProto>) {
        let f = file.pointee
        let package = str(f.package)
        let prefix = package.isEmpty ? "" : package + "."
        let comments = Comments(f.source_code_info)
        self.init(
            name: str(f.name),
            package: package,
            syntax: str(f.syntax).isEmpty ? "proto2" : str(f.syntax),
            dependencies: list(f.dependency, f.n_dependency).map { str($0) },
            messages: list(f.message_type, f.n_message_type).enumerated().compactMap { i, m in
                m.map { MessageModel($0, prefix: prefix, path: [4, Int32(i)], comments: comments) }
            },
            enums: list(f.enum_type, f.n_enum_type).enumerated().compactMap { i, e in
                e.map { EnumModel($0, prefix: prefix, path: [5, Int32(i)], comments: comments) }
            },
            services: list(f.service, f.n_service).enumerated().compactMap { i, s in
                s.map { ServiceModel($0, prefix: prefix, path: [6, Int32(i)], comments: comments) }
            },
            serializedDescriptor: Self.serializeWithoutSourceInfo(file))
    }

    /// Packs the descriptor as protoc gave it (options and unknown option extensions included)
    /// minus `source_code_info`, which is only comments and positions.
    private static func serializeWithoutSourceInfo(_ file: UnsafeMutablePointer<Google__Protobuf__FileDescriptorProto>) -> [UInt8] {
        let saved = file.pointee.source_code_info
        file.pointee.source_code_info = nil
        defer { file.pointee.source_code_info = saved }
        let size = google__protobuf__file_descriptor_proto__get_packed_size(file)
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { google__protobuf__file_descriptor_proto__pack(file, $0.baseAddress) }
        precondition(written == size)
        return bytes
    }
}

extension MessageModel {
    init(_ message: UnsafeMutablePointer<Google__Protobuf__DescriptorProto>, prefix: String, path: [Int32], comments: Comments) {
        let m = message.pointee
        let fullName = prefix + str(m.name)
        self.init(
            name: str(m.name),
            comment: comments[path],
            fullName: fullName,
            fields: list(m.field, m.n_field).enumerated().compactMap { i, f in
                f.map { FieldModel($0, comment: comments[path + [2, Int32(i)]]) }
            },
            nested: list(m.nested_type, m.n_nested_type).enumerated().compactMap { i, n in
                n.map { MessageModel($0, prefix: fullName + ".", path: path + [3, Int32(i)], comments: comments) }
            },
            enums: list(m.enum_type, m.n_enum_type).enumerated().compactMap { i, e in
                e.map { EnumModel($0, prefix: fullName + ".", path: path + [4, Int32(i)], comments: comments) }
            },
            oneofs: list(m.oneof_decl, m.n_oneof_decl).compactMap { $0.map { str($0.pointee.name) } },
            isMapEntry: m.options.map { $0.pointee.has_map_entry != 0 && $0.pointee.map_entry != 0 } ?? false)
    }
}

extension FieldModel {
    init(_ field: UnsafeMutablePointer<Google__Protobuf__FieldDescriptorProto>, comment: String?) {
        let f = field.pointee
        self.init(
            comment: comment,
            name: str(f.name),
            number: f.number,
            isRepeated: f.label.rawValue == 3,
            isRequired: f.label.rawValue == 2,
            kind: Kind(rawValue: Int32(truncatingIfNeeded: f.type.rawValue)) ?? .group,
            typeName: qualifiedTypeName(f.type_name),
            oneofIndex: f.has_oneof_index != 0 ? Int(f.oneof_index) : nil,
            isProto3Optional: f.has_proto3_optional != 0 && f.proto3_optional != 0)
    }
}

extension EnumModel {
    init(_ e: UnsafeMutablePointer<Google__Protobuf__EnumDescriptorProto>, prefix: String, path: [Int32], comments: Comments) {
        self.init(
            name: str(e.pointee.name),
            comment: comments[path],
            fullName: prefix + str(e.pointee.name),
            values: list(e.pointee.value, e.pointee.n_value).enumerated().compactMap { i, v in
                v.map { (name: str($0.pointee.name), number: $0.pointee.number, comment: comments[path + [2, Int32(i)]]) }
            })
    }
}

extension ServiceModel {
    init(_ s: UnsafeMutablePointer<Google__Protobuf__ServiceDescriptorProto>, prefix: String, path: [Int32], comments: Comments) {
        self.init(
            name: str(s.pointee.name),
            comment: comments[path],
            fullName: prefix + str(s.pointee.name),
            methods: list(s.pointee.method, s.pointee.n_method).enumerated().compactMap { i, m in
                m.map {
                    MethodModel(
                        name: str($0.pointee.name),
                        comment: comments[path + [2, Int32(i)]],
                        inputType: qualifiedTypeName($0.pointee.input_type),
                        outputType: qualifiedTypeName($0.pointee.output_type),
                        clientStreaming: $0.pointee.client_streaming != 0,
                        serverStreaming: $0.pointee.server_streaming != 0,
                        httpRule: $0.pointee.options.flatMap { httpRule($0) })
                }
            })
    }
}

/// Field number of the `google.api.http` extension of `google.protobuf.MethodOptions`.
private let httpRuleFieldNumber: UInt32 = 72295728

private func httpRule(_ options: UnsafeMutablePointer<Google__Protobuf__MethodOptions>) -> [UInt8]? {
    let base = options.pointee.base
    for field in list(base.unknown_fields, Int(base.n_unknown_fields)) where field.tag == httpRuleFieldNumber {
        guard field.wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED else { continue }
        // protobuf-c keeps the length prefix in the unknown field's data: skip that varint.
        let bytes = Array(list(field.data, field.len))
        guard let end = bytes.firstIndex(where: { $0 & 0x80 == 0 }) else { return nil }
        return Array(bytes[(end + 1)...])
    }
    return nil
}
