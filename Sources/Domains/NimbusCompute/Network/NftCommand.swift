import Foundation

/// Runs nft with arguments and optional standard input.
public protocol NftRunner: Sendable {
    func run(_ arguments: [String], input: String?) async throws -> NftResult
}

public struct NftResult: Sendable, Equatable {
    public var status: Int32
    public var output: String
    public var error: String

    public init(status: Int32, output: String = "", error: String = "") {
        self.status = status
        self.output = output
        self.error = error
    }
}

/// The real `nft` binary (needs CAP_NET_ADMIN in the host's network namespace).
public struct NftCommand: NftRunner {
    public let path: String

    public init(path: String? = nil) {
        self.path = path ?? ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "nft"
    }

    public func run(_ arguments: [String], input: String?) async throws -> NftResult {
        let path = self.path
        // Off the cooperative pool: the pipes are read with blocking calls.
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: path)
                process.arguments = arguments
                let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
                process.standardInput = stdin
                process.standardOutput = stdout
                process.standardError = stderr
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: FirewallError("run \(path)", "\(error)"))
                    return
                }
                // Drain stderr alongside stdout: a full pipe would stall nft.
                let errorData = DrainedData()
                let drained = DispatchSemaphore(value: 0)
                DispatchQueue.global().async {
                    errorData.data = stderr.fileHandleForReading.readDataToEndOfFile()
                    drained.signal()
                }
                if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
                try? stdin.fileHandleForWriting.close()
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                drained.wait()
                process.waitUntilExit()
                continuation.resume(returning: NftResult(
                    status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                    error: String(decoding: errorData.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
    }
}

/// Written by the draining thread before it signals, read after the wait.
private final class DrainedData: @unchecked Sendable {
    var data = Data()
}
