import Foundation
import NimbusPlatform
import Testing
@testable import NimbusIdentity

@Suite("API key tokens")
struct ApiKeyTokenTests {
    @Test("generated keys parse back, have the documented shape and differ")
    func roundTrip() throws {
        let a = try ApiKeyToken.generate(), b = try ApiKeyToken.generate()
        #expect(a != b)
        #expect(a.text.hasPrefix("nmb_\(a.prefix)_"))
        #expect(a.text.utf8.count == 4 + 12 + 1 + 43)
        #expect(ApiKeyToken(parsing: a.text) == a)
        #expect(a.secretHash.count == 32)
        #expect(a.secretHash != a.secret)
    }

    @Test("rotation keeps the prefix and changes the secret")
    func rotation() throws {
        let a = try ApiKeyToken.generate()
        let b = try a.rotated()
        #expect(a.prefix == b.prefix && a.secret != b.secret && a.secretHash != b.secretHash)
    }

    @Test("malformed keys are rejected", arguments: [
        "", "nmb_", "nmb_abc_def", "xyz_abcdefghijkl_" + String(repeating: "A", count: 43),
        "nmb_ABCDEFGHIJKL_" + String(repeating: "A", count: 43),
        "nmb_abcdefghijkl_" + String(repeating: "A", count: 42),
        "nmb_abcdefghijkl_" + String(repeating: "A", count: 44),
        "nmb_abcdefghijkl-" + String(repeating: "A", count: 43),
        "nmb_abcdefghijkl_" + String(repeating: "+", count: 43),
    ])
    func malformed(text: String) {
        #expect(ApiKeyToken(parsing: text) == nil)
    }
}

@Suite("Audit chain")
struct AuditChainTests {
    static func chain(_ count: Int) -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var previous = AuditChain.genesis
        for seq in 1...count {
            var entry = AuditEntry(
                tenantID: "t1", seq: Int64(seq), eventID: "e\(seq)", actorUserID: "u1", actorKeyID: "",
                action: "user.create", resourceType: "user", resourceID: "r\(seq)", outcome: .success,
                requestID: "req", source: "nimbus-identity", occurredAtMicros: 1_700_000_000_000_000 + Int64(seq),
                metadata: ["b": "2", "a": "1"], prevHash: previous, hash: [])
            entry.hash = entry.computeHash()
            previous = entry.hash
            entries.append(entry)
        }
        return entries
    }

    @Test("a clean chain verifies")
    func clean() {
        let entries = Self.chain(5)
        let verdict = AuditChain.verify(entries, head: (5, entries[4].hash))
        #expect(verdict.ok && verdict.checked == 5)
        #expect(AuditChain.verify([], head: nil).ok)
    }

    @Test("altered, deleted middle, deleted last and reordered rows are detected")
    func tampering() {
        let entries = Self.chain(5)
        let head = (seq: Int64(5), hash: entries[4].hash)
        var altered = entries
        altered[2].metadata["a"] = "9"
        #expect(AuditChain.verify(altered, head: head).firstBadSeq == 3)
        var deleted = entries
        deleted.remove(at: 1)
        #expect(!AuditChain.verify(deleted, head: head).ok)
        #expect(!AuditChain.verify(Array(entries.dropLast()), head: head).ok)
        var swapped = entries
        swapped.swapAt(1, 2)
        #expect(!AuditChain.verify(swapped, head: head).ok)
    }

    @Test("metadata order does not matter to the hash")
    func metadataOrder() {
        var a = Self.chain(1)[0]
        let hash = a.computeHash()
        a.metadata = ["a": "1", "b": "2"]
        #expect(a.computeHash() == hash)
    }
}
