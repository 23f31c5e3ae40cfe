import NimbusRPCCore

/// One hosted method with what every call of it needs precomputed: its statistics series per
/// status code (`GRPCServerStatistics`), so recording a call is an array index and three
/// relaxed atomic adds.
final class GRPCMethodEntry: Sendable {
    let method: ServerMethod
    let path: String
    let isUnary: Bool
    /// The handlers unwrapped once, so a call does not copy the `ServerMethod` to reach them.
    let unaryHandler: ServerHandler.UnaryHandler?
    let streamingHandler: (@Sendable (RPCMessageStream<[UInt8]>, RPCMessageWriter<[UInt8]>, ServerContext) async throws -> Void)?
    /// Indexed by status code (0…16; anything else counts as UNKNOWN).
    private let series: [GRPCCallSeries]

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
        series = (0...16).map {
            GRPCServerStatistics.series(service: method.descriptor.service, method: method.descriptor.method, code: RPCCode(rawValue: $0))
        }
    }

    func record(code: RPCCode, nanoseconds: UInt64) {
        let index = code.rawValue
        series[index >= 0 && index < series.count ? index : RPCCode.unknown.rawValue].record(nanoseconds: nanoseconds)
    }
}
