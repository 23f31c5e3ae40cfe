import Foundation

extension PostgresConfiguration {
    /// The defaults, overridden by `NIMBUS_DB_*` variables, then validated:
    /// `NIMBUS_DB_MIN_CONNECTIONS`, `NIMBUS_DB_MAX_CONNECTIONS`, `NIMBUS_DB_MAX_LIFETIME`,
    /// `NIMBUS_DB_MAX_IDLE_TIME`, `NIMBUS_DB_HEALTH_CHECK_PERIOD`, `NIMBUS_DB_ACQUIRE_TIMEOUT`,
    /// `NIMBUS_DB_STATEMENT_TIMEOUT` (`0` turns it off), `NIMBUS_DB_CONNECT_TIMEOUT`.
    /// Durations read `500ms`, `30s`, `5m`, `1h` or plain seconds.
    public init(dsn: PostgresDSN, environment: [String: String]) throws(Invalid) {
        self.init(dsn: dsn)
        func int(_ key: String) throws(Invalid) -> Int? {
            guard let text = environment[key] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw Invalid(field: key, problem: "'\(text)' is not a whole number")
            }
            return value
        }
        func duration(_ key: String) throws(Invalid) -> Duration? {
            guard let text = environment[key] else { return nil }
            guard let value = Self.parseDuration(text) else {
                throw Invalid(field: key, problem: "'\(text)' is not a duration like 500ms, 30s, 5m or 1h")
            }
            return value
        }
        if let v = try int("NIMBUS_DB_MIN_CONNECTIONS") { minConnections = v }
        if let v = try int("NIMBUS_DB_MAX_CONNECTIONS") { maxConnections = v }
        if let v = try duration("NIMBUS_DB_MAX_LIFETIME") { maxLifetime = v }
        if let v = try duration("NIMBUS_DB_MAX_IDLE_TIME") { maxIdleTime = v }
        if let v = try duration("NIMBUS_DB_HEALTH_CHECK_PERIOD") { healthCheckPeriod = v }
        if let v = try duration("NIMBUS_DB_ACQUIRE_TIMEOUT") { acquireTimeout = v }
        if let v = try duration("NIMBUS_DB_STATEMENT_TIMEOUT") { statementTimeout = v == .zero ? nil : v }
        if let v = try duration("NIMBUS_DB_CONNECT_TIMEOUT") { connectTimeout = v }
        try validate()
    }

    static func parseDuration(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n >= 0, n.isFinite else { return nil }
            return .milliseconds(Int64((n * scale * 1000).rounded()))
        }
        guard let n = Double(t), n >= 0, n.isFinite else { return nil }
        return .milliseconds(Int64((n * 1000).rounded()))
    }
}
