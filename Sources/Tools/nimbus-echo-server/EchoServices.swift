import NimbusRPCCore

/// Every service the echo server hosts.
enum EchoServices {
    static func all() -> [any RPCService] {
        [WireTestService()]
    }
}
