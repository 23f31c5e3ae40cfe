import NimbusRPCCore

extension MethodDescriptor {
    /// A descriptor for a method known only by its HTTP/2 `:path` (`/package.Service/Method`),
    /// e.g. a call the gateway forwards without knowing the service. nil for anything else.
    /// The transport does not look at `kind`; it only matters to typed stubs.
    public init?(grpcPath path: String, kind: RPCKind = .bidirectionalStreaming) {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        self.init(service: String(parts[0]), method: String(parts[1]), kind: kind)
    }
}
