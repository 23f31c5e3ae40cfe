import Foundation
import NimbusRPCCore
import Synchronization

/// Signs the `Principal` that travels with every internal call and verifies it on arrival.
///
/// Token (the binary value of `x-nimbus-principal-bin`):
/// `0x01 ‖ expiresAt (UInt64 BE, Unix ms) ‖ principal length (UInt16 BE) ‖ principal ‖ HMAC-SHA256 (32)`,
/// the HMAC keyed with the shared principal key from config and computed over a domain label
/// and every byte before it. Tokens are short-lived (`lifetime`, default 60 s) so a leaked one
/// is useless quickly; a verifier accepts `clockSkew` of disagreement between hosts and refuses
/// tokens that claim to live longer than `maxLifetime` (a forged far-future expiry needs the key
/// anyway, but a stolen signer config cannot mint eternal tokens for a stricter verifier).
public struct PrincipalSigner: Sendable {
    /// The gRPC metadata key the signed principal travels in (binary, base64 on the wire).
    public static let metadataKey = "x-nimbus-principal-bin"
    /// Minimum key length in bytes.
    public static let minimumKeyLength = 32

    private let keys: [Secret]
    public var lifetime: Duration
    public var clockSkew: Duration
    public var maxLifetime: Duration
    private let now: @Sendable () -> Date
    /// Tokens that verified, by digest: a gateway forwards the same token with every call of
    /// one caller for half its lifetime, and equal bytes verify equally — only the clock
    /// checks are repeated. Shared by copies of this signer (same keys).
    private let verified = VerifiedTokens()

    private static let domain = Array("nimbus-principal-v1\u{0}".utf8)

    /// `key` signs and verifies; `previousKeys` only verify, so the key can be rotated across
    /// services without a flag day.
    public init(key: Secret, previousKeys: [Secret] = [], lifetime: Duration = .seconds(60),
                clockSkew: Duration = .seconds(5), maxLifetime: Duration = .seconds(300),
                now: @escaping @Sendable () -> Date = { Date() }) throws {
        for candidate in [key] + previousKeys where candidate.reveal().utf8.count < Self.minimumKeyLength {
            throw ConfigError(setting: "principal-key", problem: "must be at least \(Self.minimumKeyLength) bytes")
        }
        self.keys = [key] + previousKeys
        self.lifetime = lifetime
        self.clockSkew = clockSkew
        self.maxLifetime = maxLifetime
        self.now = now
    }

    /// The signer configured by `NIMBUS_PRINCIPAL_KEY` (and optionally the comma-separated
    /// `NIMBUS_PRINCIPAL_PREVIOUS_KEYS`); every service and the gateway share it.
    public static func fromEnvironment(_ source: ConfigSource, flag: String? = nil) throws -> PrincipalSigner {
        guard let (value, origin) = source.value(flag: flag, env: "NIMBUS_PRINCIPAL_KEY") else {
            throw ConfigError(setting: "principal-key", problem: "NIMBUS_PRINCIPAL_KEY is not set")
        }
        let previous = (source.environment["NIMBUS_PRINCIPAL_PREVIOUS_KEYS"] ?? "")
            .split(separator: ",").map { Secret(String($0)) }
        do {
            return try PrincipalSigner(key: Secret(value), previousKeys: previous)
        } catch let error as ConfigError {
            throw ConfigError(setting: "principal-key (\(origin))", problem: error.problem)
        }
    }

    private static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// A signed token for `principal`, valid for `lifetime` from now.
    public func sign(_ principal: Principal) -> [UInt8] {
        let expiresAt = UInt64(max(0, Self.milliseconds(now()) + Self.milliseconds(lifetime)))
        return sign(principal, expiresAtMilliseconds: expiresAt)
    }

    /// A signed token for `principal`, valid for `lifetime` from now but not past `notAfter`
    /// (what it was derived from stops being valid then, e.g. a rotated API key's sunset).
    public func sign(_ principal: Principal, notAfter: Date) -> [UInt8] {
        let full = Self.milliseconds(now()) + Self.milliseconds(lifetime)
        return sign(principal, expiresAtMilliseconds: UInt64(max(0, min(full, Self.milliseconds(notAfter)))))
    }

    func sign(_ principal: Principal, expiresAtMilliseconds expiresAt: UInt64) -> [UInt8] {
        let encoded = principal.canonicalEncoding()
        var token: [UInt8] = [1]
        for shift in stride(from: 56, through: 0, by: -8) { token.append(UInt8(truncatingIfNeeded: expiresAt >> UInt64(shift))) }
        token.append(UInt8(encoded.count >> 8))
        token.append(UInt8(encoded.count & 0xff))
        token.append(contentsOf: encoded)
        token.append(contentsOf: HMACSHA256.authenticationCode(key: Array(keys[0].reveal().utf8), message: Self.domain + token))
        return token
    }

    /// When `token` says it expires, read without checking the signature: for a holder that
    /// got the token from identity and wants to know how long it may reuse it (the gateway's
    /// cache). Nil when the token does not parse.
    public static func unverifiedExpiry(of token: [UInt8]) -> Date? {
        var reader = ByteReader(token)
        guard reader.byte() == 1, let expiresAt = reader.uint64() else { return nil }
        return Date(timeIntervalSince1970: Double(Int64(clamping: expiresAt)) / 1000)
    }

    /// The principal in `token` when its signature is valid under any configured key and it
    /// has not expired; otherwise a `PrincipalError` (UNAUTHENTICATED).
    public func verify(_ token: [UInt8]) throws -> Principal {
        guard token.count > 1 + 8 + 2 + HMACSHA256.byteCount else { throw PrincipalError(.malformed) }
        // Keyed by a digest, not the token: a lookup's byte compares then reveal nothing an
        // attacker could steer towards a valid token.
        let digest = SHA256.hash(token)
        if let (principal, expiry) = verified.lookup(digest) {
            try checkClock(expiry: expiry)
            return principal
        }
        let body = Array(token.dropLast(HMACSHA256.byteCount))
        let mac = Array(token.suffix(HMACSHA256.byteCount))
        // Check every key without stopping early, so timing says nothing about which matched.
        var valid = false
        for key in keys {
            valid = HMACSHA256.isValid(mac, key: Array(key.reveal().utf8), message: Self.domain + body) || valid
        }
        guard valid else { throw PrincipalError(.badSignature) }

        var reader = ByteReader(body)
        guard reader.byte() == 1, let expiresAt = reader.uint64(), let length = reader.uint16(),
              let encoded = reader.take(Int(length)), reader.isAtEnd,
              let principal = Principal(canonicalEncoding: encoded)
        else { throw PrincipalError(.malformed) }

        let expiry = Int64(clamping: expiresAt)
        try checkClock(expiry: expiry)
        verified.remember(digest, principal, expiry: expiry)
        return principal
    }

    private func checkClock(expiry: Int64) throws {
        let nowMs = Self.milliseconds(now())
        if expiry + Self.milliseconds(clockSkew) < nowMs { throw PrincipalError(.expired) }
        if expiry - nowMs > Self.milliseconds(maxLifetime) + Self.milliseconds(clockSkew) {
            throw PrincipalError(.lifetimeTooLong)
        }
    }
}

/// Recently verified tokens (digest → principal and expiry), bounded: when full it starts
/// over, which costs one full verification per live token.
final class VerifiedTokens: Sendable {
    static let capacity = 1024
    private struct Entry {
        var principal: Principal
        var expiry: Int64
    }
    private let entries = Mutex<[[UInt8]: Entry]>([:])

    func lookup(_ digest: [UInt8]) -> (Principal, Int64)? {
        entries.withLock { $0[digest].map { ($0.principal, $0.expiry) } }
    }

    func remember(_ digest: [UInt8], _ principal: Principal, expiry: Int64) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[digest] = Entry(principal: principal, expiry: expiry)
        }
    }
}

/// Why a signed principal was refused. Every case answers UNAUTHENTICATED, with a message
/// that helps an operator but reveals no key material.
public struct PrincipalError: Error, Sendable, Hashable, CustomStringConvertible, RPCErrorConvertible {
    public enum Code: String, Sendable, Hashable {
        case missing = "no signed principal on the call"
        case malformed = "the signed principal is malformed"
        case badSignature = "the principal signature does not verify"
        case expired = "the signed principal has expired"
        case lifetimeTooLong = "the signed principal claims too long a lifetime"
    }

    public var code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { code.rawValue }
    public var rpcError: RPCError { RPCError(.unauthenticated, code.rawValue, cause: self) }
}
