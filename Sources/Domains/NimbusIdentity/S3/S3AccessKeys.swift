import Foundation
import NimbusPlatform
import NimbusRPCCore

/// An S3 access key pair as minted: the id is public (`NKIA` + 16 base32 characters, shaped
/// like an AWS access key id so clients that check the form accept it), the secret is 40
/// characters of base64url (240 random bits), shown once.
struct S3AccessKeyPair: Sendable, CustomStringConvertible {
    var accessKeyID: String
    var secret: Secret

    static func generate() throws -> S3AccessKeyPair {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        let idBytes = try SecureRandom.bytes(16)
        let id = "NKIA" + String(decoding: idBytes.map { alphabet[Int($0 & 31)] }, as: UTF8.self)
        return S3AccessKeyPair(accessKeyID: id, secret: Secret(Base64URL.encode(try SecureRandom.bytes(30))))
    }

    static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 20 && id.hasPrefix("NKIA") && id.utf8.dropFirst(4).allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 50 && $0 <= 55) }
    }

    /// Never the secret.
    var description: String { "S3 access key \(accessKeyID)" }
}

/// SigV4's day-scoped key: HMAC chain "AWS4"+secret → date → region → service → "aws4_request".
/// (The S3 face's verifier derives the same in `SigV4.signingKey`; identity cannot import the
/// storage domain, and the chain is four lines.)
enum SigV4SigningKey {
    static func derive(secret: Secret, date: String, region: String, service: String) -> [UInt8] {
        var key = HMACSHA256.authenticationCode(key: Array("AWS4\(secret.reveal())".utf8), message: Array(date.utf8))
        key = HMACSHA256.authenticationCode(key: key, message: Array(region.utf8))
        key = HMACSHA256.authenticationCode(key: key, message: Array(service.utf8))
        return HMACSHA256.authenticationCode(key: key, message: Array("aws4_request".utf8))
    }
}
