import Foundation
import NimbusPlatform

/// One audit entry as the chain sees it. `hash = SHA-256(canonical fields ‖ prevHash)`; the
/// first entry of a tenant links to 32 zero bytes. Any change to a stored field, a deleted row
/// or a reordering breaks a link that `AuditChain.verify` recomputes.
struct AuditEntry: Sendable, Hashable {
    var tenantID: String
    var seq: Int64
    var eventID: String
    var actorUserID: String
    var actorKeyID: String
    var action: String
    var resourceType: String
    var resourceID: String
    var outcome: AuditOutcomeValue
    var requestID: String
    var source: String
    /// Microseconds since 1970 (PostgreSQL's timestamptz precision, so it round-trips).
    var occurredAtMicros: Int64
    var metadata: [String: String]
    var prevHash: [UInt8]
    var hash: [UInt8]

    func computeHash() -> [UInt8] {
        var out = Array("nimbus-audit-v1".utf8)
        func put(_ text: String) {
            let bytes = Array(text.utf8)
            let n = UInt32(bytes.count)
            out += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
            out += bytes
        }
        put(tenantID.lowercased())
        put(String(seq))
        put(eventID)
        put(actorUserID)
        put(actorKeyID)
        put(action)
        put(resourceType)
        put(resourceID)
        put(outcome.rawValue)
        put(requestID)
        put(source)
        put(String(occurredAtMicros))
        put(String(metadata.count))
        for key in metadata.keys.sorted() {
            put(key)
            put(metadata[key] ?? "")
        }
        return SHA256.hash(out + prevHash)
    }
}

enum AuditOutcomeValue: String, Sendable, Hashable {
    case success, failure, denied
}

enum AuditChain {
    static let genesis = [UInt8](repeating: 0, count: 32)

    struct Verdict: Sendable, Equatable {
        var ok: Bool
        var checked: Int64
        var firstBadSeq: Int64
        var problem: String
    }

    /// Walks `entries` (ascending seq) and checks sequence continuity, links and hashes, and
    /// that the last entry is the recorded head (so deleting the newest rows is caught too).
    static func verify(_ entries: [AuditEntry], head: (seq: Int64, hash: [UInt8])?) -> Verdict {
        var expectedSeq: Int64 = 1
        var previous = genesis
        for entry in entries {
            if entry.seq != expectedSeq {
                return Verdict(ok: false, checked: expectedSeq - 1, firstBadSeq: expectedSeq,
                               problem: "entry \(expectedSeq) is missing (found \(entry.seq) next)")
            }
            if !ConstantTime.equals(entry.prevHash, previous) {
                return Verdict(ok: false, checked: expectedSeq - 1, firstBadSeq: entry.seq,
                               problem: "entry \(entry.seq) does not link to entry \(entry.seq - 1)")
            }
            if !ConstantTime.equals(entry.computeHash(), entry.hash) {
                return Verdict(ok: false, checked: expectedSeq - 1, firstBadSeq: entry.seq,
                               problem: "entry \(entry.seq) was altered (hash mismatch)")
            }
            previous = entry.hash
            expectedSeq += 1
        }
        let count = expectedSeq - 1
        switch head {
        case nil where count == 0:
            break
        case nil:
            return Verdict(ok: false, checked: count, firstBadSeq: 1, problem: "entries exist but the chain head is missing")
        case let head?:
            if head.seq != count || !ConstantTime.equals(head.hash, previous) {
                return Verdict(ok: false, checked: count, firstBadSeq: count + 1,
                               problem: "the chain head (entry \(head.seq)) does not match the last entry (\(count)): entries were deleted")
            }
        }
        return Verdict(ok: true, checked: count, firstBadSeq: 0, problem: "")
    }
}
