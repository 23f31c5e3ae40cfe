import CoreMetrics
import Metrics
import NimbusRPCCore
import Synchronization

/// One hosted method with what every call of it needs precomputed: its metric series per
/// status code (`grpc_server_handled_total`, `grpc_server_handling_seconds` via swift-metrics),
/// created on first use so /metrics shows only codes that happened.
final class GRPCMethodEntry: Sendable {
    let method: ServerMethod
    let path: String
    let isUnary: Bool
    private let series = Mutex<[Int: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])

    init(_ method: ServerMethod) {
        self.method = method
        self.path = method.descriptor.path
        if case .unary = method.handler { isUnary = true } else { isUnary = false }
    }

    func record(code: RPCCode, nanoseconds: UInt64) {
        let (counter, timer) = series.withLock { series in
            if let hit = series[code.rawValue] { return hit }
            let dimensions = [
                ("grpc_service", method.descriptor.service), ("grpc_method", method.descriptor.method),
                ("grpc_code", code.description),
            ]
            let made = (
                CoreMetrics.Counter(label: "grpc_server_handled_total", dimensions: dimensions),
                CoreMetrics.Timer(label: "grpc_server_handling_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            )
            series[code.rawValue] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}
