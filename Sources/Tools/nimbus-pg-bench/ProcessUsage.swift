import Foundation

/// CPU time and context switches of this process, from /proc (far less sensitive to a busy
/// shared machine than throughput).
struct ProcessUsage {
    var cpuSeconds: Double { userSeconds + systemSeconds }
    var userSeconds: Double
    var systemSeconds: Double
    var voluntarySwitches: Int
    var involuntarySwitches: Int

    static func now() -> ProcessUsage {
        var usage = ProcessUsage(userSeconds: 0, systemSeconds: 0, voluntarySwitches: 0, involuntarySwitches: 0)
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            if fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) {
                usage.userSeconds = u / ticks
                usage.systemSeconds = s / ticks
            }
        }
        // Context switches are counted per thread: sum over the live threads.
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n") {
                let parts = line.split(separator: ":")
                guard parts.count == 2, let value = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { continue }
                if parts[0] == "voluntary_ctxt_switches" { usage.voluntarySwitches += value }
                if parts[0] == "nonvoluntary_ctxt_switches" { usage.involuntarySwitches += value }
            }
        }
        return usage
    }
}

/// A fast PRNG (SplitMix64) seeded once per client: `SystemRandomNumberGenerator` costs a
/// getrandom syscall per number, which pgbench (its own PRNG) does not pay either.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
