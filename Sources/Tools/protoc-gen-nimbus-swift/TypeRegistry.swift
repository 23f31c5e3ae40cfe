/// Every message and enum of the request, by fully qualified proto name.
struct TypeRegistry {
    enum Entry {
        case message(MessageModel, file: FileModel)
        case enumeration(EnumModel, file: FileModel)
    }
    private(set) var entries: [String: Entry] = [:]
    /// Swift name of each type: `TestingV1.Everything.Nested`.
    private(set) var swiftNames: [String: String] = [:]

    init(files: [FileModel]) {
        for file in files {
            let ns = Naming.namespace(package: file.package)
            for m in file.messages { add(m, file: file, swiftParent: ns) }
            for e in file.enums { add(e, file: file, swiftParent: ns) }
        }
    }

    private mutating func add(_ m: MessageModel, file: FileModel, swiftParent: String) {
        let swiftName = swiftParent + "." + Naming.typeName(m.name)
        entries[m.fullName] = .message(m, file: file)
        swiftNames[m.fullName] = swiftName
        for n in m.nested { add(n, file: file, swiftParent: swiftName) }
        for e in m.enums { add(e, file: file, swiftParent: swiftName) }
    }

    private mutating func add(_ e: EnumModel, file: FileModel, swiftParent: String) {
        entries[e.fullName] = .enumeration(e, file: file)
        swiftNames[e.fullName] = swiftParent + "." + Naming.typeName(e.name, isEnum: true)
    }

    func swiftName(_ fullName: String) throws -> String {
        guard let name = swiftNames[fullName] else { throw GeneratorError("unknown type \(fullName)") }
        return name
    }

    func message(_ fullName: String) throws -> (MessageModel, FileModel) {
        guard case .message(let m, let file)? = entries[fullName] else { throw GeneratorError("unknown message \(fullName)") }
        return (m, file)
    }

    func enumeration(_ fullName: String) throws -> EnumModel {
        guard case .enumeration(let e, _)? = entries[fullName] else { throw GeneratorError("unknown enum \(fullName)") }
        return e
    }
}
