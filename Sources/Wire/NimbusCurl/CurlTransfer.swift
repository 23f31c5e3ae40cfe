import CCurl
import Foundation

/// One exchange on a libcurl easy handle, driven by a `CurlMulti`. Every method and libcurl
/// callback runs on the multi's event loop thread, so the buffers need no lock.
final class CurlTransfer: @unchecked Sendable {
    let request: CurlRequest
    private let sink: (@Sendable (Data) -> Bool)?
    private let completion: @Sendable (Result<CurlResponse, any Error>) -> Void

    private(set) var handle: UnsafeMutableRawPointer?
    private var headers: UnsafeMutablePointer<curl_slist>?
    private var responseBody = Data()
    private var uploadData = Data()
    private var uploadOffset = 0
    private var uploadFile: FileHandle?
    private var status = 0
    private(set) var sinkStopped = false
    private var finished = false

    init(request: CurlRequest, sink: (@Sendable (Data) -> Bool)?, completion: @escaping @Sendable (Result<CurlResponse, any Error>) -> Void) {
        self.request = request
        self.sink = sink
        self.completion = completion
    }

    /// Creates and configures the easy handle; a failure is reported through `completion`.
    func prepare() -> Bool {
        guard let curl = curl_easy_init() else { return fail(.other, "libcurl could not create a transfer") }
        handle = curl
        // curl adds "Expect: 100-continue" to large bodies; local servers do not need the round trip.
        headers = curl_slist_append(headers, "Expect:")
        let me = Unmanaged.passUnretained(self).toOpaque()
        var ok = true
        func set(_ result: CURLcode) { ok = ok && result == CURLE_OK }

        set(CNimbusCurl_setopt_string(curl, CURLOPT_URL, request.url))
        if let path = request.unixSocketPath { set(CNimbusCurl_setopt_string(curl, CURLOPT_UNIX_SOCKET_PATH, path)) }
        // Never a proxy from the environment.
        set(CNimbusCurl_setopt_string(curl, CURLOPT_PROXY, ""))
        set(CNimbusCurl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, "http"))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_NOSIGNAL, 1))
        set(CNimbusCurl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout.milliseconds)))
        if let timeout = request.timeout {
            set(CNimbusCurl_setopt_long(curl, CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds)))
        }
        set(CNimbusCurl_setopt_write_function(curl, curlTransferWrite))
        set(CNimbusCurl_setopt_pointer(curl, CURLOPT_WRITEDATA, me))

        switch request.method {
        case "GET": break
        case "POST", "PUT":
            var size: Int64 = 0
            switch request.body {
            case .none:
                break
            case .bytes(let data, let contentType):
                uploadData = data
                size = Int64(data.count)
                headers = curl_slist_append(headers, "Content-Type: \(contentType)")
            case .file(let path, let contentType):
                guard let file = FileHandle(forReadingAtPath: path) else { return fail(.requestBodyUnreadable, "cannot read \(path)") }
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
        guard ok else { return fail(.other, "libcurl rejected an option") }
        return true
    }

    /// libcurl finished the exchange with `code`.
    func finish(_ code: CURLcode) {
        var responseCode = 0
        if let handle { _ = CNimbusCurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &responseCode) }
        switch code {
        case CURLE_OK:
            complete(.success(CurlResponse(status: responseCode, body: responseBody)))
        case CURLE_WRITE_ERROR where sinkStopped:
            // The consumer had enough (a followed log stream that was closed).
            complete(.success(CurlResponse(status: responseCode, body: responseBody)))
        case CURLE_COULDNT_CONNECT:
            let path = request.unixSocketPath ?? request.url
            let reason = request.unixSocketPath.map { FileManager.default.fileExists(atPath: $0) } == false
                ? "the socket does not exist" : "nothing accepts connections"
            _ = fail(.couldNotConnect, "cannot connect to unix://\(path): \(reason)")
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            _ = fail(.connectionLost, "lost the connection to \(request.unixSocketPath.map { "unix://\($0)" } ?? request.url): \(String(cString: curl_easy_strerror(code)))")
        case CURLE_OPERATION_TIMEDOUT:
            _ = fail(.timedOut, "no answer within \(request.timeout.map { "\($0)" } ?? "the connect timeout")")
        case CURLE_READ_ERROR, CURLE_ABORTED_BY_CALLBACK:
            _ = fail(.requestBodyUnreadable, "could not read the request body")
        default:
            _ = fail(.other, "libcurl: \(String(cString: curl_easy_strerror(code)))")
        }
    }

    func cancelled() {
        complete(.failure(CancellationError()))
    }

    /// Frees the easy handle (after the multi let go of it).
    func release() {
        if let handle { curl_easy_cleanup(handle) }
        handle = nil
        curl_slist_free_all(headers)
        headers = nil
        try? uploadFile?.close()
        uploadFile = nil
    }

    private func fail(_ kind: CurlError.Kind, _ message: String) -> Bool {
        complete(.failure(CurlError(kind: kind, message: message)))
        return false
    }

    private func complete(_ result: Result<CurlResponse, any Error>) {
        guard !finished else { return }
        finished = true
        completion(result)
    }

    /// Response bytes: buffered, or handed to the sink once the status says success.
    fileprivate func receive(_ bytes: UnsafeRawBufferPointer) -> Int {
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
            return 0
        }
        return bytes.count
    }

    /// Request body bytes, from memory or from the file (a local file read: short, and the
    /// page cache usually has it).
    fileprivate func send(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        if let uploadFile {
            guard let chunk = try? uploadFile.read(upToCount: buffer.count) else { return Int(CURL_READFUNC_ABORT) }
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
}

private func curlTransferWrite(_ pointer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let user else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    return transfer.receive(UnsafeRawBufferPointer(start: pointer, count: size * count))
}

private func curlTransferRead(_ pointer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let user, let pointer else { return Int(CURL_READFUNC_ABORT) }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    return transfer.send(into: UnsafeMutableRawBufferPointer(start: pointer, count: size * count))
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
