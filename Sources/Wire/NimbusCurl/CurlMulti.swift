import CCurl
import NimbusEventLoop

/// libcurl's multi-socket interface driven by one `EventLoop`: libcurl says which sockets it
/// wants watched for what and when it next needs a timeout (the two callbacks below), the loop
/// watches them and calls `curl_multi_socket_action` when they are ready, and finished
/// transfers are collected with `curl_multi_info_read`. Any number of transfers share the loop
/// thread, and idle connections stay in the multi handle's cache for the next transfer.
/// Everything below runs on `loop`; other threads come in through `loop.execute`.
final class CurlMulti: @unchecked Sendable {
    let loop: EventLoop
    private let multi: UnsafeMutableRawPointer
    private var transfers: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var sockets: [Int32: CurlSocket] = [:]
    private var timer: EventLoopTimer?

    init(loop: EventLoop) throws {
        guard CurlGlobal.initialised, let multi = curl_multi_init() else {
            throw CurlError(kind: .other, message: "libcurl could not be initialised")
        }
        self.loop = loop
        self.multi = multi
        // The multi handle lives as long as the process (see CurlClient.shared): unretained.
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = CNimbusCurl_multi_setopt_socket_function(multi, curlMultiSocket)
        _ = CNimbusCurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        _ = CNimbusCurl_multi_setopt_timer_function(multi, curlMultiTimer)
        _ = CNimbusCurl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
    }

    func start(_ transfer: CurlTransfer) {
        guard transfer.prepare(), let handle = transfer.handle else {
            transfer.release()
            return
        }
        transfers[handle] = transfer
        let code = curl_multi_add_handle(multi, handle)
        if code != CURLM_OK {
            transfers[handle] = nil
            transfer.finish(CURLE_FAILED_INIT)
            transfer.release()
        }
    }

    func cancel(_ transfer: CurlTransfer) {
        guard let handle = transfer.handle, transfers.removeValue(forKey: handle) != nil else { return }
        curl_multi_remove_handle(multi, handle)
        transfer.cancelled()
        transfer.release()
    }

    /// libcurl's socket callback: watch `fd` for `what`, or stop watching it.
    fileprivate func watch(_ fd: Int32, _ what: Int32) {
        if what == CURL_POLL_REMOVE {
            if sockets.removeValue(forKey: fd) != nil { loop.deregister(fd) }
            return
        }
        var events: IOEvents = []
        if what == CURL_POLL_IN || what == CURL_POLL_INOUT { events.insert(.readable) }
        if what == CURL_POLL_OUT || what == CURL_POLL_INOUT { events.insert(.writable) }
        if sockets[fd] != nil {
            try? loop.modify(fd, events: events)
        } else {
            let socket = CurlSocket(fd: fd, multi: self)
            sockets[fd] = socket
            do {
                try loop.register(fd, events: events, handler: socket)
            } catch {
                sockets[fd] = nil  // libcurl's own timeout then ends the transfer
            }
        }
    }

    /// libcurl's timer callback: call back after `milliseconds` (-1: no timer wanted). Never
    /// acts at once: libcurl must not be re-entered from its own callback.
    fileprivate func setTimer(_ milliseconds: Int) {
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        guard milliseconds >= 0 else { return }
        timer = loop.scheduleTimer(after: .milliseconds(milliseconds)) { [self] in
            timer = nil
            act(on: CURL_SOCKET_TIMEOUT, mask: 0)
        }
    }

    fileprivate func act(on fd: Int32, mask: Int32) {
        var running: Int32 = 0
        _ = curl_multi_socket_action(multi, fd, mask, &running)
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = transfers.removeValue(forKey: handle) else { continue }
            curl_multi_remove_handle(multi, handle)  // `message` is invalid from here on
            transfer.finish(code)
            transfer.release()
        }
    }
}

/// Readiness of one of libcurl's sockets, handed back to the multi handle.
private final class CurlSocket: EventLoopIOHandler {
    let fd: Int32
    unowned let multi: CurlMulti

    init(fd: Int32, multi: CurlMulti) {
        self.fd = fd
        self.multi = multi
    }

    func handleIO(readable: Bool, writable: Bool, hangup: Bool) {
        var mask: Int32 = 0
        if readable { mask |= CURL_CSELECT_IN }
        if writable { mask |= CURL_CSELECT_OUT }
        if hangup { mask |= CURL_CSELECT_ERR }
        multi.act(on: fd, mask: mask)
    }
}

enum CurlGlobal {
    static let initialised: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

private func curlMultiSocket(_ easy: UnsafeMutableRawPointer?, _ fd: curl_socket_t, _ what: Int32,
                             _ user: UnsafeMutableRawPointer?, _ socketData: UnsafeMutableRawPointer?) -> Int32 {
    guard let user else { return -1 }
    Unmanaged<CurlMulti>.fromOpaque(user).takeUnretainedValue().watch(fd, what)
    return 0
}

private func curlMultiTimer(_ multi: UnsafeMutableRawPointer?, _ milliseconds: Int, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let user else { return -1 }
    Unmanaged<CurlMulti>.fromOpaque(user).takeUnretainedValue().setTimer(milliseconds)
    return 0
}
