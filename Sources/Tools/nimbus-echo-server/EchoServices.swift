import NimbusRPCCore

/// Every service the echo server hosts (health and reflection come with the server).
enum EchoServices {
    static func all() -> [any RPCService] {
        let wire = WireTestService()
        return [EchoService(wire: wire), wire]
    }
}
