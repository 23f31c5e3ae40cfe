import ArgumentParser
import Foundation
import NimbusPlatform

/// Objects in buckets. `presign` works offline: it signs a URL with the S3 credentials
/// (`nimbus keys create --s3`) for the configured endpoint, which serves S3 too.
struct ObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects", abstract: "Objects in buckets (S3).", subcommands: [Presign.self])

    struct Presign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a presigned URL (SigV4, computed here) that lets anyone holding it GET or PUT one object until it expires.",
            discussion: "Credentials from --access-key-id and the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; the secret is never taken as a flag).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "s3://bucket/key") var target: String
        @Option(help: "Seconds the URL stays valid (1 to 604800, S3's 7-day limit).") var expires = 3600
        @Option(help: "GET or PUT.") var method = "GET"
        @Option(help: "S3 access key id (env AWS_ACCESS_KEY_ID).") var accessKeyId: String?
        @Option(help: "Region of the signature (env AWS_REGION, default us-east-1).") var region: String?

        func run() async throws {
            try await runReporting {
                let settings = try global.resolved(requireKey: false)
                Terminal.print(try url(endpoint: settings.endpoint, environment: ProcessInfo.processInfo.environment))
            }
        }

        func url(endpoint: String, environment: [String: String], date: Date = Date()) throws -> String {
            guard (1...SigV4.maximumExpiry).contains(expires) else { throw CLIError.usage("--expires must be between 1 and \(SigV4.maximumExpiry) seconds") }
            let method = method.uppercased()
            guard method == "GET" || method == "PUT" else { throw CLIError.usage("--method must be GET or PUT") }
            guard target.hasPrefix("s3://") else { throw CLIError.usage("the object must be written s3://bucket/key") }
            let path = target.dropFirst("s3://".count)
            guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
                throw CLIError.usage("the object must be written s3://bucket/key")
            }
            func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            guard let id = accessKeyId ?? value("AWS_ACCESS_KEY_ID") else {
                throw CLIError.configuration("no S3 access key id: pass --access-key-id or set AWS_ACCESS_KEY_ID (`nimbus keys create --s3` makes one)")
            }
            guard let secret = value("AWS_SECRET_ACCESS_KEY") else {
                throw CLIError.configuration("no S3 secret: set AWS_SECRET_ACCESS_KEY")
            }
            guard let base = URL(string: endpoint), let scheme = base.scheme, let host = base.host else {
                throw CLIError.configuration("the endpoint \(endpoint) is not a URL")
            }
            let authority = base.port.map { "\(host):\($0)" } ?? host
            let bucket = path[..<slash], key = path[path.index(after: slash)...]
            // Path-style: /bucket/key, the key encoded once by S3's rules ('/' kept).
            let encodedPath = "/" + SigV4.uriEncode(Array(bucket.utf8), keepSlash: false) + "/" + SigV4.uriEncode(Array(key.utf8), keepSlash: true)
            let signer = SigV4Signer(accessKeyID: id, secret: secret, region: region ?? value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1")
            let query = signer.presign(method: method, host: authority, path: encodedPath, expires: expires, date: date)
            return "\(scheme)://\(authority)\(encodedPath)?\(query)"
        }
    }
}
