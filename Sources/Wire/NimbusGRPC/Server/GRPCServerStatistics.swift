import CNimbusShims
import NimbusRPCCore
import Synchronization

/// Server call counts and handling-time histograms per method and status code
/// (`grpc_server_handled_total`, `grpc_server_handling_seconds`), rendered in the Prometheus
/// text format next to the swift-metrics registry (`appendPrometheus(into:)`).
///
/// Kept outside swift-metrics on purpose: its Prometheus histogram takes a lock and converts a
/// `Duration` per observation, ~2.5 % of a trivial call's CPU; here an observation is three
/// relaxed atomic adds. Series are process-wide and shared by label set (several servers in
/// one process host the same method), and only series with calls are rendered.
public enum GRPCServerStatistics {
    /// Upper bounds of the handling-time buckets, in nanoseconds, with their `le` labels.
    static let bounds: [UInt64] = [
        50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000,
        50_000_000, 100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000,
        10_000_000_000,
    ]
    static let boundLabels = [
        "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
        "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0",
    ]

    private static let registry = Mutex<(byLabels: [String: GRPCCallSeries], ordered: [GRPCCallSeries])>(([:], []))

    /// The series of one method and status code, made on first use.
    static func series(service: String, method: String, code: RPCCode) -> GRPCCallSeries {
        let labels = "grpc_service=\"\(escape(service))\",grpc_method=\"\(escape(method))\",grpc_code=\"\(code)\""
        return registry.withLock { registry in
            if let existing = registry.byLabels[labels] { return existing }
            let made = GRPCCallSeries(labels: labels)
            registry.byLabels[labels] = made
            registry.ordered.append(made)
            return made
        }
    }

    /// Appends both metric families (only series that counted a call).
    public static func appendPrometheus(into buffer: inout [UInt8]) {
        let all = registry.withLock { $0.ordered }.filter { $0.count > 0 }
        guard !all.isEmpty else { return }
        var text = "# TYPE grpc_server_handled_total counter\n"
        for series in all { text += "grpc_server_handled_total{\(series.labels)} \(series.count)\n" }
        text += "# TYPE grpc_server_handling_seconds histogram\n"
        for series in all {
            let snapshot = series.snapshot()
            var cumulative: UInt64 = 0
            for (index, label) in boundLabels.enumerated() {
                cumulative += snapshot.buckets[index]
                text += "grpc_server_handling_seconds_bucket{\(series.labels),le=\"\(label)\"} \(cumulative)\n"
            }
            text += "grpc_server_handling_seconds_bucket{\(series.labels),le=\"+Inf\"} \(snapshot.count)\n"
            text += "grpc_server_handling_seconds_sum{\(series.labels)} \(seconds(snapshot.sumNanoseconds))\n"
            text += "grpc_server_handling_seconds_count{\(series.labels)} \(snapshot.count)\n"
        }
        buffer.append(contentsOf: text.utf8)
    }

    /// Nanoseconds as decimal seconds, exactly (no floating-point rounding).
    static func seconds(_ nanoseconds: UInt64) -> String {
        let fraction = String(nanoseconds % 1_000_000_000)
        return "\(nanoseconds / 1_000_000_000).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)"
    }

    /// Label values escaped as the exposition format requires.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// One method × status code: bucket counts (not cumulative), the count and the sum, each a
/// relaxed atomic. A snapshot taken while calls finish may be off by the calls in flight,
/// which Prometheus tolerates.
final class GRPCCallSeries: @unchecked Sendable {
    let labels: String
    /// `bounds.count` buckets (the last one also takes everything above the largest bound
    /// only through `count`), then the count, then the sum of nanoseconds.
    private let cells: UnsafeMutablePointer<UInt64>
    private static let countIndex = GRPCServerStatistics.bounds.count
    private static let sumIndex = countIndex + 1

    init(labels: String) {
        self.labels = labels
        cells = .allocate(capacity: Self.sumIndex + 1)
        cells.initialize(repeating: 0, count: Self.sumIndex + 1)
    }

    deinit { cells.deallocate() }

    func record(nanoseconds: UInt64) {
        // Most calls land in the first buckets: a forward scan beats a binary search here.
        var index = 0
        let bounds = GRPCServerStatistics.bounds
        while index < bounds.count && nanoseconds > bounds[index] { index += 1 }
        if index < bounds.count { CNimbusShims_counter_add(cells + index, 1) }
        CNimbusShims_counter_add(cells + Self.countIndex, 1)
        CNimbusShims_counter_add(cells + Self.sumIndex, nanoseconds)
    }

    var count: UInt64 { CNimbusShims_counter_load(cells + Self.countIndex) }

    func snapshot() -> (buckets: [UInt64], count: UInt64, sumNanoseconds: UInt64) {
        let buckets = (0..<Self.countIndex).map { CNimbusShims_counter_load(cells + $0) }
        return (buckets, count, CNimbusShims_counter_load(cells + Self.sumIndex))
    }
}
