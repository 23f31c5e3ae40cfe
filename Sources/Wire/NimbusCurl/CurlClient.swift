import Foundation
import NimbusEventLoop
import Synchronization

/// HTTP/1.1 through libcurl on an event loop, over TCP or a unix socket (the container
/// engine's API). A transfer costs no thread: the loop watches its socket (see `CurlMulti`), and
/// the awaiting task is resumed when it ends. Cancelling the task aborts the transfer.
public final class CurlClient: Sendable {
    let multi: CurlMulti

    public init(loop: EventLoop) throws {
        multi = try CurlMulti(loop: loop)
    }

    /// The process's client on a loop thread of its own ("nimbus-curl"), started on first use.
    public static func shared() throws -> CurlClient {
        try sharedClient.get()
    }

    private static let sharedClient: Result<CurlClient, any Error> = Result {
        let group = try EventLoopGroup(threads: 1, name: "nimbus-curl")
        return try CurlClient(loop: group.loops[0])
    }

    /// Sends a request and buffers the whole response.
    public func send(_ request: CurlRequest) async throws -> CurlResponse {
        let handle = CurlTransferHandle(multi: multi)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CurlResponse, any Error>) in
                handle.start(CurlTransfer(request: request, sink: nil) { continuation.resume(with: $0) })
            }
        } onCancel: {
            handle.cancel()
        }
    }

    /// Sends a request whose successful (2xx) response body is handed to `onData` as it
    /// arrives, on the loop thread (so it must not block); `onData` returns false to stop, which
    /// ends the transfer successfully. An error status is returned buffered, as by `send`.
    /// `completion` runs once, when the transfer ends.
    @discardableResult
    public func stream(
        _ request: CurlRequest,
        onData: @escaping @Sendable (Data) -> Bool,
        completion: @escaping @Sendable (Result<CurlResponse, any Error>) -> Void
    ) -> CurlTransferHandle {
        let handle = CurlTransferHandle(multi: multi)
        handle.start(CurlTransfer(request: request, sink: onData, completion: completion))
        return handle
    }
}

/// Aborts a transfer from any thread (also before it started: it then never starts).
public final class CurlTransferHandle: Sendable {
    private let multi: CurlMulti
    private let state = Mutex<(transfer: CurlTransfer?, cancelled: Bool)>((nil, false))

    init(multi: CurlMulti) {
        self.multi = multi
    }

    func start(_ transfer: CurlTransfer) {
        let cancelled = state.withLock { state -> Bool in
            state.transfer = transfer
            return state.cancelled
        }
        if cancelled {
            transfer.cancelled()
            return
        }
        let multi = self.multi
        multi.loop.execute { multi.start(transfer) }
    }

    public func cancel() {
        let transfer = state.withLock { state -> CurlTransfer? in
            state.cancelled = true
            return state.transfer
        }
        guard let transfer else { return }
        let multi = self.multi
        multi.loop.execute { multi.cancel(transfer) }
    }
}
