import Foundation
import Synchronization

/// A request to the engine's HTTP API.
struct EngineRequest: Sendable {
    enum Body: Sendable {
        case none
        case json(Data)
        /// Streamed from a file (image tarballs), never loaded whole into memory.
        case file(path: String, contentType: String)
    }

    var method: String
    /// Path and query, e.g. `/v1.41/containers/json?all=1`.
    var path: String
    var body: Body = .none
    /// nil: no limit (followed log streams).
    var timeout: Duration? = .seconds(60)
    /// For error messages, e.g. "start container 3f2a".
    var operation: String
}

struct EngineResponse: Sendable {
    var status: Int
    var body: Data
}

/// HTTP/1.1 to the engine over its unix socket. libcurl's easy API blocks, so every transfer
/// runs on its own thread, never on a Swift concurrency thread; callers just `await`.
/// Cancelling the awaiting task aborts the transfer.
final class EngineHTTPClient: Sendable {
    let socketPath: String
    let connectTimeout: Duration

    init(socketPath: String, connectTimeout: Duration = .seconds(3)) {
        self.socketPath = socketPath
        self.connectTimeout = connectTimeout
    }

    /// Sends a request and buffers the whole response.
    func send(_ request: EngineRequest) async throws -> EngineResponse {
        let transfer = CurlTransfer(socketPath: socketPath, connectTimeout: connectTimeout, request: request, sink: nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<EngineResponse, any Error>) in
                Thread.detachNewThread {
                    continuation.resume(with: transfer.run())
                }
            }
        } onCancel: {
            transfer.cancel()
        }
    }

    /// Sends a request whose successful (2xx) response body is handed to `onData` as it
    /// arrives; `onData` returns false to stop. An error status is returned buffered, as by
    /// `send`. `completion` runs on the transfer's thread when it ends. Returns a handle whose
    /// `cancel()` aborts the transfer.
    @discardableResult
    func stream(
        _ request: EngineRequest,
        onData: @escaping @Sendable (Data) -> Bool,
        completion: @escaping @Sendable (Result<EngineResponse, any Error>) -> Void
    ) -> StreamHandle {
        let transfer = CurlTransfer(socketPath: socketPath, connectTimeout: connectTimeout, request: request, sink: onData)
        Thread.detachNewThread {
            completion(transfer.run())
        }
        return StreamHandle(transfer: transfer)
    }

    struct StreamHandle: Sendable {
        fileprivate let transfer: CurlTransfer
        func cancel() { transfer.cancel() }
    }
}
