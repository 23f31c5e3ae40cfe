import Logging
import Metrics
import Metrics
import Synchronization

/// Requests by operation and status, bytes in and out, for Prometheus (via swift-metrics).
/// Label values are bounded: operations are S3's names, statuses HTTP codes.
public final class StorageMetrics: Sendable {
    private struct Key: Hashable {
        var operation: String
        var status: Int
    }

    private let counters = Mutex<[Key: Counter]>([:])
    public let bytesIn = Counter(label: "nimbus_storage_bytes_in_total")
    public let bytesOut = Counter(label: "nimbus_storage_bytes_out_total")

    public init() {}

    public func request(_ operation: String, status: Int) {
        let key = Key(operation: operation, status: status)
        let counter = counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let created = Counter(label: "nimbus_storage_requests_total", dimensions: [("operation", operation), ("status", String(status))])
            counters[key] = created
            return created
        }
        counter.increment()
    }
}
