// Point SELECT by primary key through PostgresPool, the same statement pgbench -S runs, from
// `clients` concurrent tasks over a pool of `clients` connections. Prints one line: `tps=<n>`.
//
//   nimbus-pg-bench <dsn> <clients> <seconds> <rows>
import Foundation
import NimbusPostgres
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count == 5, let clients = Int(arguments[2]), let seconds = Double(arguments[3]), let rows = Int(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: nimbus-pg-bench <dsn> <clients> <seconds> <rows>\n".utf8))
    exit(2)
}
var configuration = PostgresConfiguration(dsn: try PostgresDSN(arguments[1]))
configuration.minConnections = clients
configuration.maxConnections = clients
let pool = try PostgresPool(configuration: configuration, name: "bench")

let total = Atomic<Int>(0)
let checksum = Atomic<Int>(0)
// Warm up: open every connection and prepare the statement on each.
try await withThrowingTaskGroup(of: Void.self) { group in
    for _ in 0..<clients { group.addTask { for aid in 1...50 { _ = try await pool.query("SELECT abalance FROM pgbench_accounts WHERE aid = $1", aid) } } }
    try await group.waitForAll()
}
let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
let started = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for _ in 0..<clients {
        group.addTask {
            var count = 0, sum = 0
            var rng = SystemRandomNumberGenerator()
            while ContinuousClock.now < deadline {
                let aid = Int.random(in: 1...rows, using: &rng)
                let rows = try await pool.query("SELECT abalance FROM pgbench_accounts WHERE aid = $1", aid)
                sum &+= try rows[0].decode(Int.self, at: 0)
                count += 1
            }
            total.add(count, ordering: .relaxed)
            checksum.add(sum, ordering: .relaxed)
        }
    }
    try await group.waitForAll()
}
let elapsed = (ContinuousClock.now - started)
let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("tps=\(Int(Double(total.load(ordering: .relaxed)) / secs))")
await pool.close()
