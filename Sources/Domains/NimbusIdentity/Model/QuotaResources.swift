/// Amounts of each quota-limited resource: limits, usage or a reservation's deltas.
struct QuotaAmounts: Sendable, Hashable {
    var instances: Int64 = 0
    var vcpus: Int64 = 0
    var memoryMB: Int64 = 0
    var storageGB: Int64 = 0
    var buckets: Int64 = 0
    var databases: Int64 = 0

    /// (name, value) in a fixed order: the SQL column suffixes and the error message names.
    var named: [(name: String, value: Int64)] {
        [("instances", instances), ("vcpus", vcpus), ("memory_mb", memoryMB),
         ("storage_gb", storageGB), ("buckets", buckets), ("databases", databases)]
    }

    var isZero: Bool { named.allSatisfy { $0.value == 0 } }
    var hasNegative: Bool { named.contains { $0.value < 0 } }

    static let defaultLimits = QuotaAmounts(instances: 10, vcpus: 20, memoryMB: 40960, storageGB: 500, buckets: 10, databases: 5)
}

struct Quota: Sendable, Hashable {
    var tenantID: String
    var limits: QuotaAmounts
    var used: QuotaAmounts
    var version: Int64

    /// Names of the resources `deltas` would push over their limit, with numbers.
    func overages(adding deltas: QuotaAmounts) -> [String] {
        zip(zip(limits.named, used.named), deltas.named).compactMap { pair, delta in
            let (limit, used) = pair
            return used.value + delta.value > limit.value
                ? "\(limit.name): \(used.value) used + \(delta.value) requested > limit \(limit.value)" : nil
        }
    }
}
