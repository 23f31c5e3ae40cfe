import CCurl
import Foundation
import Synchronization

/// One HTTP exchange with libcurl's easy API over a unix socket. `run()` blocks and is called
/// on a dedicated thread; the libcurl callbacks run on that same thread, so the buffers below
/// are confined to it. Only `cancelled` is touched from other threads (hence the atomic).
final class CurlTransfer: @unchecked Sendable {
    private let socketPath: String
    private let connectTimeout: Duration
    private let request: EngineRequest
    private let sink: (@Sendable (Data) -> Bool)?
    private let cancelled = Atomic<Bool>(false)

    // Confined to the transfer thread.
    private var responseBody = Data()
    private var uploadData = Data()
    private var uploadOffset = 0
    private var uploadFile: FileHandle?
    private var handle: UnsafeMutableRawPointer?
    private var status = 0
    private var sinkStopped = false

    init(socketPath: String, connectTimeout: Duration, request: EngineRequest, sink: (@Sendable (Data) -> Bool)?) {
        self.socketPath = socketPath
        self.connectTimeout = connectTimeout
        self.request = request
        self.sink = sink
    }

    func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }

    private static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    private func failure(_ code: ContainerRuntimeError.Code, _ message: String) -> Result<EngineResponse, any Error> {
        .failure(ContainerRuntimeError(code, operation: request.operation, message: message))
    }

    func run() -> Result<EngineResponse, any Error> {
        guard Self.globalInit, let curl = curl_easy_init() else {
            return failure(.engineFailure, "libcurl could not be initialised")
        }
        handle = curl
        defer {
            curl_easy_cleanup(curl)
            handle = nil
            try? uploadFile?.close()
        }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        // curl adds "Expect: 100-continue" to large bodies; the engine does not need the round trip.
        headers = curl_slist_append(headers, "Expect:")

        let me = Unmanaged.passUnretained(self).toOpaque()
        var ok = true
        func set(_ result: CURLcode) { ok = ok && result == CURLE_OK }

        set(CNimbusCurl_setopt_string(curl, CURLOPT_URL, "http://localhost" + request.path))
        set(CNimbusCurl_setopt_string(curl, CURLOPT_UNIX_SOCKET_PATH, socketPath))
        // Never a proxy from the environment: the request goes to the socket or nowhere.
        set(CNimbusCurl_setopt_string(curl, CURLOPT_PROXY, ""))
        set(CNimbusCurl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, "http"))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_NOSIGNAL, 1))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.milliseconds)))
        if let timeout = request.timeout {
            set(CNimbusCurl_setopt_long(curl, CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds)))
        }
        set(CNimbusCurl_setopt_write_function(curl, curlTransferWrite))
        set(CNimbusCurl_setopt_pointer(curl, CURLOPT_WRITEDATA, me))
        set(CNimbusCurl_setopt_xferinfo_function(curl, curlTransferProgress))
        set(CNimbusCurl_setopt_pointer(curl, CURLOPT_XFERINFODATA, me))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_NOPROGRESS, 0))

        switch request.method {
        case "GET": break
        case "POST", "PUT":
            var size: Int64 = 0
            switch request.body {
            case .none:
                break
            case .json(let data):
                uploadData = data
                size = Int64(data.count)
                headers = curl_slist_append(headers, "Content-Type: application/json")
            case .file(let path, let contentType):
                guard let file = FileHandle(forReadingAtPath: path) else {
                    return failure(.invalidRequest, "cannot read \(path)")
                }
                uploadFile = file
                let attributes = try? FileManager.default.attributesOfItem(atPath: path)
                size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
                headers = curl_slist_append(headers, "Content-Type: \(contentType)")
            }
            if request.method == "POST" {
                set(CNimbusCurl_setopt_long(curl, CURLOPT_POST, 1))
                set(CNimbusCurl_setopt_offset(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(size)))
            } else {
                set(CNimbusCurl_setopt_long(curl, CURLOPT_UPLOAD, 1))
                set(CNimbusCurl_setopt_offset(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(size)))
            }
            set(CNimbusCurl_setopt_read_function(curl, curlTransferRead))
            set(CNimbusCurl_setopt_pointer(curl, CURLOPT_READDATA, me))
        default:
            set(CNimbusCurl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method))
        }
        set(CNimbusCurl_setopt_slist(curl, CURLOPT_HTTPHEADER, headers))
        guard ok else { return failure(.engineFailure, "libcurl rejected an option") }

        let code = curl_easy_perform(curl)
        var responseCode = 0
        _ = CNimbusCurl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &responseCode)

        if cancelled.load(ordering: .relaxed) && !sinkStopped {
            return .failure(CancellationError())
        }
        switch code {
        case CURLE_OK:
            return .success(EngineResponse(status: responseCode, body: responseBody))
        case CURLE_WRITE_ERROR where sinkStopped, CURLE_ABORTED_BY_CALLBACK where sinkStopped:
            // The consumer had enough (a followed log stream that was closed).
            return .success(EngineResponse(status: responseCode, body: responseBody))
        case CURLE_COULDNT_CONNECT:
            let reason = FileManager.default.fileExists(atPath: socketPath) ? "nothing accepts connections" : "the socket does not exist"
            return failure(.engineUnreachable, "cannot connect to the engine at unix://\(socketPath): \(reason)")
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            return failure(.engineUnreachable, "lost the connection to the engine at unix://\(socketPath): \(String(cString: curl_easy_strerror(code)))")
        case CURLE_OPERATION_TIMEDOUT:
            return failure(.timeout, "no answer from the engine within \(request.timeout.map { "\($0)" } ?? "the connect timeout")")
        case CURLE_READ_ERROR:
            return failure(.invalidRequest, "could not read the request body")
        default:
            return failure(.engineFailure, "libcurl: \(String(cString: curl_easy_strerror(code)))")
        }
    }

    /// Response bytes: buffered, or handed to the sink once the status says success.
    fileprivate func receive(_ bytes: UnsafeRawBufferPointer) -> Int {
        if cancelled.load(ordering: .relaxed) { return 0 }
        guard let sink else {
            responseBody.append(contentsOf: bytes)
            return bytes.count
        }
        if status == 0, let handle {
            var code = 0
            _ = CNimbusCurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
            status = code
        }
        if status >= 300 {
            responseBody.append(contentsOf: bytes)
            return bytes.count
        }
        if !sink(Data(bytes)) {
            sinkStopped = true
            cancelled.store(true, ordering: .relaxed)
            return 0
        }
        return bytes.count
    }

    /// Request body bytes, from memory or from the file.
    fileprivate func send(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        if let uploadFile {
            guard let chunk = try? uploadFile.read(upToCount: buffer.count) else { return readAbort }
            chunk.copyBytes(to: buffer)
            return chunk.count
        }
        let count = min(buffer.count, uploadData.count - uploadOffset)
        guard count > 0 else { return 0 }
        let start = uploadData.startIndex + uploadOffset
        uploadData.copyBytes(to: buffer, from: start..<(start + count))
        uploadOffset += count
        return count
    }

    /// Called by libcurl at least once a second, also while idle: the place to abort.
    fileprivate var shouldAbort: Bool { cancelled.load(ordering: .relaxed) }
}

private let readAbort = Int(CURL_READFUNC_ABORT)

private func curlTransferWrite(_ pointer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let user else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    return transfer.receive(UnsafeRawBufferPointer(start: pointer, count: size * count))
}

private func curlTransferRead(_ pointer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let user, let pointer else { return readAbort }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    return transfer.send(into: UnsafeMutableRawBufferPointer(start: pointer, count: size * count))
}

private func curlTransferProgress(_ user: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let user else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue().shouldAbort ? 1 : 0
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
