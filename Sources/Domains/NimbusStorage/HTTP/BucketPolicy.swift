import Foundation

/// Bucket policies, reduced to what Nimbus enforces: whether anyone may read the bucket's
/// objects. A policy allowing `s3:GetObject` (or `s3:*`) to `*` makes the bucket public-read;
/// anything else is stored as private.
enum BucketPolicy {
    static func grantsPublicRead(_ document: [UInt8], bucket: String) throws -> Bool {
        guard let json = try? JSONSerialization.jsonObject(with: Data(document)) as? [String: Any],
              let statements = json["Statement"] else {
            throw S3Error("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", status: 400)
        }
        let list = (statements as? [[String: Any]]) ?? ((statements as? [String: Any]).map { [$0] } ?? [])
        return list.contains { statement in
            guard statement["Effect"] as? String == "Allow" else { return false }
            let principal = statement["Principal"]
            let anyone = (principal as? String) == "*" || ((principal as? [String: Any])?["AWS"] as? String) == "*"
                || (((principal as? [String: Any])?["AWS"] as? [String])?.contains("*") ?? false)
            let actions = (statement["Action"] as? [String]) ?? ((statement["Action"] as? String).map { [$0] } ?? [])
            return anyone && actions.contains { $0 == "s3:GetObject" || $0 == "s3:*" }
        }
    }

    static func publicRead(bucket: String) -> String {
        #"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::\#(bucket)/*"]}]}"#
    }
}
