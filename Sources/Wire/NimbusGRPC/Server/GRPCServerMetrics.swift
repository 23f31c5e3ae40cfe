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
    /// The handlers unwrapped once, so a call does not copy the `ServerMethod` to reach them.
    let unaryHandler: ServerHandler.UnaryHandler?
    let streamingHandler: (@Sendable (RPCMessageStream<[UInt8]>, RPCMessageWriter<[UInt8]>, ServerContext) async throws -> Void)?
    private let series = Mutex<[Int: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])
    /// The OK series once it exists (an `OKSeries` kept alive by this entry), read without the
    /// lock: nearly every call ends OK, and the lock and dictionary lookup were a third of
    /// recording a call.
    private let okSeries = Atomic<UInt>(0)

    init(_ method: ServerMethod) {
        self.method = method
        self.path = method.descriptor.path
        switch method.handler {
        case .unary(let handler):
            isUnary = true
            unaryHandler = handler
            streamingHandler = nil
        case .streaming(let handler):
            isUnary = false
            unaryHandler = nil
            streamingHandler = handler
        }
    }

    deinit {
        let bits = okSeries.load(ordering: .acquiring)
        if bits != 0 { Unmanaged<OKSeries>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
    }

    func record(code: RPCCode, nanoseconds: UInt64) {
        if code == .ok {
            let bits = okSeries.load(ordering: .acquiring)
            if bits != 0 {
                let ok = Unmanaged<OKSeries>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
                ok.counter.increment()
                ok.timer.recordNanoseconds(Int64(clamping: nanoseconds))
                return
            }
        }
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
            if code == .ok {
                let box = Unmanaged.passRetained(OKSeries(counter: made.0, timer: made.1))
                okSeries.store(UInt(bitPattern: box.toOpaque()), ordering: .releasing)
            }
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}

/// The OK series of one method, published once through `GRPCMethodEntry.okSeries`.
private final class OKSeries: Sendable {
    let counter: CoreMetrics.Counter
    let timer: CoreMetrics.Timer
    init(counter: CoreMetrics.Counter, timer: CoreMetrics.Timer) {
        self.counter = counter
        self.timer = timer
    }
}
