import CoreMetrics
import Metrics
import NimbusRPCCore
import Synchronization

/// Per-method, per-status call counts and latency histograms via swift-metrics
/// (`grpc_server_handled_total`, `grpc_server_handling_seconds`). Metric objects are
/// cached so a call costs one lock and two updates.
final class GRPCServerMetrics: Sendable {
    private struct Key: Hashable {
        let path: String
        let code: Int
    }
    private let cache = Mutex<[Key: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])
    private let started = Mutex<[String: CoreMetrics.Counter]>([:])

    func record(_ method: MethodDescriptor, code: RPCCode, nanoseconds: UInt64) {
        let key = Key(path: method.path, code: code.rawValue)
        let (counter, timer) = cache.withLock { cache in
            if let hit = cache[key] { return hit }
            let dimensions = [("grpc_service", method.service), ("grpc_method", method.method), ("grpc_code", code.description)]
            let made = (
                CoreMetrics.Counter(label: "grpc_server_handled_total", dimensions: dimensions),
                CoreMetrics.Timer(label: "grpc_server_handling_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            )
            cache[key] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}
