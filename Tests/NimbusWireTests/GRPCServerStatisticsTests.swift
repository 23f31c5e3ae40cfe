@testable import NimbusGRPC
import NimbusRPCCore
import Testing

@Suite("gRPC server statistics")
struct GRPCServerStatisticsTests {
    @Test func seriesAreSharedByLabelsAndRenderCumulativeBuckets() {
        let service = "test.stats.v1.S\(UInt32.random(in: 0...UInt32.max))"
        let a = GRPCServerStatistics.series(service: service, method: "M", code: .ok)
        let b = GRPCServerStatistics.series(service: service, method: "M", code: .ok)
        #expect(a === b)
        a.record(nanoseconds: 10_000)          // ≤ 50 µs
        a.record(nanoseconds: 50_000)          // ≤ 50 µs (bounds are inclusive)
        b.record(nanoseconds: 3_000_000)       // ≤ 5 ms
        a.record(nanoseconds: 60_000_000_000)  // above every bound: only +Inf
        var buffer: [UInt8] = []
        GRPCServerStatistics.appendPrometheus(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        let labels = "grpc_service=\"\(service)\",grpc_method=\"M\",grpc_code=\"OK\""
        #expect(text.contains("grpc_server_handled_total{\(labels)} 4\n"))
        #expect(text.contains("grpc_server_handling_seconds_bucket{\(labels),le=\"0.00005\"} 2\n"))
        #expect(text.contains("grpc_server_handling_seconds_bucket{\(labels),le=\"0.0025\"} 2\n"))
        #expect(text.contains("grpc_server_handling_seconds_bucket{\(labels),le=\"0.005\"} 3\n"))
        #expect(text.contains("grpc_server_handling_seconds_bucket{\(labels),le=\"10.0\"} 3\n"))
        #expect(text.contains("grpc_server_handling_seconds_bucket{\(labels),le=\"+Inf\"} 4\n"))
        #expect(text.contains("grpc_server_handling_seconds_sum{\(labels)} 60.003060000\n"))
        #expect(text.contains("grpc_server_handling_seconds_count{\(labels)} 4\n"))
        // A code without calls is not rendered.
        _ = GRPCServerStatistics.series(service: service, method: "M", code: .internal)
        #expect(!text.contains("grpc_service=\"\(service)\",grpc_method=\"M\",grpc_code=\"INTERNAL\""))
    }

    @Test func labelValuesAreEscaped() {
        #expect(GRPCServerStatistics.escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        #expect(GRPCServerStatistics.seconds(1_500) == "0.000001500")
        #expect(GRPCServerStatistics.seconds(12_000_000_001) == "12.000000001")
    }
}
