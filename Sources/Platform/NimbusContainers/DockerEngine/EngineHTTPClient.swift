import Foundation
import NimbusCurl

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

/// HTTP/1.1 to the engine over its unix socket, through NimbusCurl: transfers run on an
/// event loop (no thread per transfer, connections reused); callers just `await`. Cancelling
/// the awaiting task aborts the transfer.
final class EngineHTTPClient: Sendable {
    let socketPath: String
    let connectTimeout: Duration

    init(socketPath: String, connectTimeout: Duration = .seconds(3)) {
        self.socketPath = socketPath
        self.connectTimeout = connectTimeout
    }

    /// Sends a request and buffers the whole response.
    func send(_ request: EngineRequest) async throws -> EngineResponse {
        do {
            let response = try await Self.client(request).send(curlRequest(request))
            return EngineResponse(status: response.status, body: response.body)
        } catch let error as CurlError {
            throw Self.runtimeError(error, request)
        }
    }

    /// Sends a request whose successful (2xx) response body is handed to `onData` as it
    /// arrives (on the transfer's loop: it must not block); `onData` returns false to stop. An
    /// error status is returned buffered, as by `send`. `completion` runs when the transfer
    /// ends. Returns a handle whose `cancel()` aborts the transfer.
    @discardableResult
    func stream(
        _ request: EngineRequest,
        onData: @escaping @Sendable (Data) -> Bool,
        completion: @escaping @Sendable (Result<EngineResponse, any Error>) -> Void
    ) -> StreamHandle {
        let client: CurlClient
        do {
            client = try Self.client(request)
        } catch {
            completion(.failure(error))
            return StreamHandle(handle: nil)
        }
        let handle = client.stream(curlRequest(request), onData: onData) { result in
            completion(result.map { EngineResponse(status: $0.status, body: $0.body) }.mapError { error in
                (error as? CurlError).map { Self.runtimeError($0, request) } ?? error
            })
        }
        return StreamHandle(handle: handle)
    }

    struct StreamHandle: Sendable {
        fileprivate let handle: CurlTransferHandle?
        func cancel() { handle?.cancel() }
    }

    private static func client(_ request: EngineRequest) throws -> CurlClient {
        do {
            return try CurlClient.shared()
        } catch {
            throw ContainerRuntimeError(.engineFailure, operation: request.operation, message: "\(error)")
        }
    }

    private func curlRequest(_ request: EngineRequest) -> CurlRequest {
        let body: CurlRequest.Body = switch request.body {
        case .none: .none
        case .json(let data): .bytes(data, contentType: "application/json")
        case .file(let path, let contentType): .file(path: path, contentType: contentType)
        }
        return CurlRequest(method: request.method, url: "http://localhost" + request.path, unixSocketPath: socketPath, body: body,
                           connectTimeout: connectTimeout, timeout: request.timeout)
    }

    private static func runtimeError(_ error: CurlError, _ request: EngineRequest) -> ContainerRuntimeError {
        let code: ContainerRuntimeError.Code = switch error.kind {
        case .couldNotConnect, .connectionLost: .engineUnreachable
        case .timedOut: .timeout
        case .requestBodyUnreadable: .invalidRequest
        case .other: .engineFailure
        }
        let message = error.kind == .couldNotConnect ? error.message.replacingOccurrences(of: "cannot connect to", with: "cannot connect to the engine at") : error.message
        return ContainerRuntimeError(code, operation: request.operation, message: message)
    }
}
