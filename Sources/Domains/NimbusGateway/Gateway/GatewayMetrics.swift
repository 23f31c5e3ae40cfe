import Metrics
import Synchronization

/// Requests per route and status, and their latency, for Prometheus (via swift-metrics).
/// Label values are bounded: routes are templates (not paths), unknown paths share one label.
final class GatewayMetrics: Sendable {
    private struct Key: Hashable {
        var face: String
        var route: String
        var status: String
    }

    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    func record(face: String, route: String, status: String, nanoseconds: Int64) {
        let key = Key(face: face, route: route, status: status)
        let counter = counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let created = Counter(label: "nimbus_gateway_requests_total",
                                  dimensions: [("face", face), ("route", route), ("status", status)])
            counters[key] = created
            return created
        }
        counter.increment()
        let timerKey = face + " " + route
        let timer = timers.withLock { timers in
            if let existing = timers[timerKey] { return existing }
            let created = Timer(label: "nimbus_gateway_request_duration_seconds",
                                dimensions: [("face", face), ("route", route)], preferredDisplayUnit: .seconds)
            timers[timerKey] = created
            return created
        }
        timer.recordNanoseconds(nanoseconds)
    }
}

/// One gRPC method's counters (per status code, made on first use) and timer, looked up once
/// when the proxy service is built: recording a call hashes no strings and takes one short lock.
final class MethodMetrics: Sendable {
    let route: String
    private let timer: Timer
    private let counters = Mutex<[Counter?]>(Array(repeating: nil, count: 17))

    init(route: String) {
        self.route = route
        timer = Timer(label: "nimbus_gateway_request_duration_seconds", dimensions: [("face", "grpc"), ("route", route)],
                      preferredDisplayUnit: .seconds)
    }

    func record(code: Int, status: @autoclosure () -> String, nanoseconds: Int64) {
        let index = (0..<17).contains(code) ? code : 2
        let counter = counters.withLock { counters in
            if let existing = counters[index] { return existing }
            let created = Counter(label: "nimbus_gateway_requests_total",
                                  dimensions: [("face", "grpc"), ("route", route), ("status", status())])
            counters[index] = created
            return created
        }
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
    }
}
