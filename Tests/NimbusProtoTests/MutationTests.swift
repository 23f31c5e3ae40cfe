import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// Mutated encodings (bit flips, truncations, inserted bytes) of every round-trip case: decoding
/// must either throw `ProtoDecodingError` or yield a message whose encoding is stable under
/// further decode/encode cycles. Seeded, so a failure reproduces.
@Suite struct MutationTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out = bytes
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !out.isEmpty:
                out[Int.random(in: 0..<out.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !out.isEmpty:
                out.removeLast(Int.random(in: 1...out.count, using: &rng))
            case 2:
                out.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...out.count, using: &rng))
            default:
                if !out.isEmpty { out[Int.random(in: 0..<out.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
        }
        return out
    }

    @Test func mutatedBytesNeverCrashTheDecoder() throws {
        var rng = SplitMix64(state: 0x4E_494D_4255_53)
        let seeds = RoundTripCases.all.map { $0.message.serializedBytes() }.filter { !$0.isEmpty }
        var rejected = 0
        for round in 0..<20_000 {
            let input = Self.mutate(seeds[round % seeds.count], &rng)
            do {
                // Re-encoding normalizes once (clamped timestamps, sorted map keys); after that
                // encoding and decoding must be stable. Bytes are compared since NaN != NaN.
                let first = try TestingV1.Everything(serializedBytes: input).serializedBytes()
                let second = try TestingV1.Everything(serializedBytes: first).serializedBytes()
                #expect(first == second, "round \(round): \(input)")
            } catch is ProtoDecodingError {
                rejected += 1
            }
        }
        // Most mutations of these dense encodings break them; some decode to other valid values.
        #expect(rejected > 1_000)
    }
}
