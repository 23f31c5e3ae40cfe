import Metrics
import Prometheus

/// The process-wide Prometheus registry behind swift-metrics; `/metrics` renders it.
public enum NimbusMetrics {
    public static let registry = PrometheusCollectorRegistry()

    /// Routes every swift-metrics call in the process to `registry`. Call once at start.
    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// The Prometheus text exposition of every metric.
    public static func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }
}
