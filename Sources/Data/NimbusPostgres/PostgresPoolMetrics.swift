import CoreMetrics

/// The pool's statistics as Prometheus-style metrics (through swift-metrics), labelled by pool.
struct PostgresPoolMetrics: Sendable {
    let open: Gauge
    let idle: Gauge
    let inUse: Gauge
    let waiting: Gauge
    let max: Gauge
    let acquireTimeouts: Counter
    let connectFailures: Counter
    let transactionRetries: Counter
    let acquireWait: Timer

    init(pool: String) {
        let d = [("pool", pool)]
        open = Gauge(label: "nimbus_db_pool_connections_open", dimensions: d)
        idle = Gauge(label: "nimbus_db_pool_connections_idle", dimensions: d)
        inUse = Gauge(label: "nimbus_db_pool_connections_in_use", dimensions: d)
        waiting = Gauge(label: "nimbus_db_pool_waiters", dimensions: d)
        max = Gauge(label: "nimbus_db_pool_connections_max", dimensions: d)
        acquireTimeouts = Counter(label: "nimbus_db_pool_acquire_timeouts_total", dimensions: d)
        connectFailures = Counter(label: "nimbus_db_pool_connect_failures_total", dimensions: d)
        transactionRetries = Counter(label: "nimbus_db_transaction_retries_total", dimensions: d)
        acquireWait = Timer(label: "nimbus_db_pool_acquire_wait_seconds", dimensions: d)
    }

    func export(_ s: PostgresPool.Statistics) {
        open.record(s.open)
        idle.record(s.idle)
        inUse.record(s.inUse)
        waiting.record(s.waiting)
        max.record(s.maxConnections)
    }

    func recordWait(_ d: Duration) { acquireWait.recordNanoseconds(Int64(d.nimbusSeconds * 1e9)) }
}
