import Dispatch
import NimbusGRPC
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// SIGTERM/SIGINT start a graceful shutdown. Lives outside main.swift: a closure written in
/// top-level code is main-actor isolated and traps when dispatch runs it on another thread.
func installSignalHandlers(_ server: GRPCServer) -> [any DispatchSourceSignal] {
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    return [SIGTERM, SIGINT].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { @Sendable in
            Task { await server.shutdown(gracePeriod: .seconds(5)) }
        }
        source.resume()
        return source
    }
}
