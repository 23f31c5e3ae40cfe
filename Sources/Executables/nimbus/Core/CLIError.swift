import ArgumentParser
import NimbusRPCCore

/// Failures the CLI reports itself, each with its exit code.
enum CLIError: Error, CustomStringConvertible {
    case configuration(String)
    case usage(String)
    case failed(String)

    var description: String {
        switch self {
        case .configuration(let message), .usage(let message), .failed(let message): message
        }
    }

    var exitCode: Int32 {
        switch self {
        case .configuration: 78
        case .usage: 64
        case .failed: 1
        }
    }
}

enum ExitCodes {
    /// The exit code for an RPC status (see `nimbus --help`).
    static func forRPC(_ code: RPCCode) -> Int32 {
        switch code {
        case .notFound: 2
        case .unauthenticated, .permissionDenied: 3
        case .invalidArgument, .failedPrecondition, .outOfRange, .alreadyExists, .aborted: 4
        case .unavailable, .deadlineExceeded, .resourceExhausted, .cancelled: 5
        default: 1
        }
    }
}

/// Runs a command body, printing failures as one line on stderr and exiting with the code
/// that says what kind of failure it was.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        Terminal.error(error.description)
        throw ExitCode(error.exitCode)
    } catch let error as RPCError {
        var line = "\(error.code): \(error.message)"
        if let requestID = error.metadata["x-request-id"] { line += " (request id \(requestID))" }
        if error.code == .unauthenticated { line += "\nhint: run `nimbus login` or `nimbus configure --api-key …`" }
        if let retry = error.metadata["retry-after"] { line += "\nhint: retry after \(retry)s" }
        Terminal.error(line)
        throw ExitCode(ExitCodes.forRPC(error.code))
    } catch let error as ExitCode {
        throw error
    } catch {
        Terminal.error("\(error)")
        throw ExitCode(1)
    }
}
