import NimbusRPCCore

/// The file descriptors of every hosted service, indexed for server reflection.
struct ReflectionIndex: Sendable {
    let serviceNames: [String]
    private let files: [String: ProtoFileDescriptor]
    private let fileBySymbol: [String: String]

    init(services: [any RPCService]) {
        var files: [String: ProtoFileDescriptor] = [:]
        var fileBySymbol: [String: String] = [:]
        for service in services {
            for file in service.fileDescriptors where files[file.name] == nil {
                files[file.name] = file
                for symbol in file.symbols { fileBySymbol[symbol] = file.name }
            }
        }
        self.files = files
        self.fileBySymbol = fileBySymbol
        serviceNames = Array(Set(services.map(\.serviceName))).sorted()
    }

    /// The named file followed by its transitive dependencies (each once), as reflection
    /// clients expect; nil when unknown.
    func fileWithDependencies(_ name: String) -> [[UInt8]]? {
        guard files[name] != nil else { return nil }
        var seen: Set<String> = []
        var order: [[UInt8]] = []
        var stack = [name]
        while let next = stack.popLast() {
            guard !seen.contains(next), let file = files[next] else { continue }
            seen.insert(next)
            order.append(file.serialized)
            stack.append(contentsOf: file.dependencies.reversed())
        }
        return order
    }

    /// The file declaring `symbol` — a message, enum or service, or a method or nested name
    /// inside one (found by trimming trailing components).
    func fileContaining(symbol: String) -> [[UInt8]]? {
        var candidate = Substring(symbol)
        while !candidate.isEmpty {
            if let file = fileBySymbol[String(candidate)] { return fileWithDependencies(file) }
            guard let dot = candidate.lastIndex(of: ".") else { break }
            candidate = candidate[..<dot]
        }
        return nil
    }
}
