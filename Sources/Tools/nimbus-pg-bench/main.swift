// Point SELECT by primary key through PostgresPool, the same statement pgbench -S runs, from
// `clients` concurrent tasks over a pool of `clients` connections. Prints `tps=<n>` and the
// process's CPU time and context switches per query over the timed window.
//
// The clients run the way a Nimbus service runs its RPC handlers: as tasks whose executor is
// an event loop (`Task(executorPreference: loop)`), spread round-robin over an EventLoopGroup
// that is handed to the pool, so each query is sent, collected and resumed on its task's loop.
// Two loops by default, like pgbench's -j 2 (two client threads) in Benchmarks/postgres.sh, and
// like a service on this 2-core machine (`--threads 0` = one loop per core).
//
// `loops=0` runs the clients as plain tasks on the global executor instead (for comparison:
// every statement then hops to the pool's fallback loop and back).
//
//   nimbus-pg-bench <dsn> <clients> <seconds> <rows> [loops=2]
import Foundation
import NimbusEventLoop
import NimbusPostgres
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count == 5 || arguments.count == 6, let clients = Int(arguments[2]), let seconds = Double(arguments[3]),
      let rows = Int(arguments[4]), let loopCount = Int(arguments.count == 6 ? arguments[5] : "2"), loopCount >= 0 else {
    FileHandle.standardError.write(Data("usage: nimbus-pg-bench <dsn> <clients> <seconds> <rows> [loops=2]\n".utf8))
    exit(2)
}
let loops = try EventLoopGroup(threads: max(loopCount, 1), name: "bench-loop")
/// The executor of the next client task: a loop of the group, or none with `loops=0`.
func nextExecutor() -> (any TaskExecutor)? { loopCount == 0 ? nil : loops.next() }
var configuration = PostgresConfiguration(dsn: try PostgresDSN(arguments[1]))
configuration.minConnections = 0  // opened by the warm-up, each on its client's loop
configuration.maxConnections = clients
let pool = try PostgresPool(configuration: configuration, name: "bench", eventLoops: loopCount == 0 ? [] : loops.loops)

let sql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
let total = Atomic<Int>(0)
let checksum = Atomic<Int>(0)
// Warm up: open every connection and prepare the statement on each.
try await withThrowingTaskGroup(of: Void.self) { group in
    for _ in 0..<clients {
        group.addTask(executorPreference: nextExecutor()) { for aid in 1...50 { _ = try await pool.query(sql, aid) } }
    }
    try await group.waitForAll()
}
let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
let started = ContinuousClock.now
let usageBefore = ProcessUsage.now()
try await withThrowingTaskGroup(of: Void.self) { group in
    for _ in 0..<clients {
        group.addTask(executorPreference: nextExecutor()) {
            var count = 0, sum = 0
            var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
            while ContinuousClock.now < deadline {
                let aid = Int.random(in: 1...rows, using: &rng)
                let rows = try await pool.query(sql, aid)
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
let usageAfter = ProcessUsage.now()
let queries = Double(max(1, total.load(ordering: .relaxed)))
let cpuPerQuery = (usageAfter.cpuSeconds - usageBefore.cpuSeconds) / queries * 1e6
let userPerQuery = (usageAfter.userSeconds - usageBefore.userSeconds) / queries * 1e6
let switches = Double(usageAfter.voluntarySwitches + usageAfter.involuntarySwitches
    - usageBefore.voluntarySwitches - usageBefore.involuntarySwitches) / queries
print("tps=\(Int(queries / secs))")
print("cpu_us_per_query=\(String(format: "%.2f", cpuPerQuery)) ctxsw_per_query=\(String(format: "%.2f", switches)) user_us_per_query=\(String(format: "%.2f", userPerQuery))")
await pool.close()
loops.shutdown()
