import CNGHTTP2

/// nghttp2 copies the callback table into every session, so one table serves all of them.
final class HTTP2ClientCallbacks: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

extension HTTP2ClientSession {
    static let callbacks: HTTP2ClientCallbacks = {
        var table: OpaquePointer?
        precondition(nghttp2_session_callbacks_new(&table) == 0, "nghttp2_session_callbacks_new")
        nghttp2_session_callbacks_set_on_begin_headers_callback(table, httpClientOnBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(table, httpClientOnHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(table, httpClientOnFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(table, httpClientOnDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(table, httpClientOnStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(table, httpClientOnFrameSend)
        return HTTP2ClientCallbacks(table!)
    }()
}

@inline(__always)
private func clientSession(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientSession {
    Unmanaged<HTTP2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
}

// The callbacks are global functions: they must not capture anything to be @convention(c), and
// they never call mem_send/mem_recv (nghttp2 forbids re-entry).

private func httpClientOnBeginHeaders(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
                                      _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let hd = frame!.pointee.hd
    if hd.type == UInt8(NGHTTP2_HEADERS.rawValue) {
        clientSession(userData).streams[hd.stream_id]?.headerFields.removeAll(keepingCapacity: true)
    }
    return 0
}

private func httpClientOnHeader(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
                                _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
                                _ value: UnsafePointer<UInt8>?, _ valueLength: Int, _ flags: UInt8,
                                _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let hd = frame!.pointee.hd
    guard hd.type == UInt8(NGHTTP2_HEADERS.rawValue), let state = clientSession(userData).streams[hd.stream_id] else { return 0 }
    let name = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
    let value = HTTP2ClientHeader.internedValue(UnsafeBufferPointer(start: value, count: valueLength))
        ?? String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
    if state.headerFields.capacity == 0 { state.headerFields.reserveCapacity(4) }
    state.headerFields.append(HTTP2ClientHeader(name, value))
    return 0
}

private func httpClientOnFrameRecv(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
                                   _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let client = clientSession(userData)
    let frame = frame!
    let hd = frame.pointee.hd
    let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    switch UInt32(hd.type) {
    case NGHTTP2_HEADERS.rawValue:
        if let state = client.streams[hd.stream_id] {
            client.events.append(.headers(streamID: hd.stream_id, fields: state.headerFields, endStream: endStream))
            state.headerFields = []
        }
    case NGHTTP2_DATA.rawValue:
        if endStream, client.streams[hd.stream_id] != nil { client.events.append(.endOfData(streamID: hd.stream_id)) }
    case NGHTTP2_GOAWAY.rawValue:
        let goaway = frame.pointee.goaway
        client.events.append(.goAway(lastStreamID: goaway.last_stream_id,
                                     errorCode: HTTP2ClientErrorCode(rawValue: goaway.error_code)))
    case NGHTTP2_SETTINGS.rawValue:
        if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { client.events.append(.settings) }
    case NGHTTP2_PING.rawValue:
        if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { client.events.append(.pingAck) }
    default:
        break
    }
    return 0
}

/// Records which streams' HEADERS have been serialized (they may have reached the server).
private func httpClientOnFrameSend(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
                                   _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let hd = frame!.pointee.hd
    if hd.type == UInt8(NGHTTP2_HEADERS.rawValue) {
        let client = clientSession(userData)
        client.lastHeadersSentStreamID = max(client.lastHeadersSentStreamID, hd.stream_id)
    }
    return 0
}

private func httpClientOnDataChunk(_ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32,
                                   _ data: UnsafePointer<UInt8>?, _ length: Int,
                                   _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let client = clientSession(userData)
    guard let state = client.streams[streamID] else {
        // Nobody will read it: give the connection window back at once.
        nghttp2_session_consume_connection(session, length)
        return 0
    }
    state.unconsumed += length
    client.events.append(.data(streamID: streamID, bytes: Array(UnsafeBufferPointer(start: data, count: length))))
    return 0
}

private func httpClientOnStreamClose(_ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32,
                                     _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let client = clientSession(userData)
    guard let state = client.streams.removeValue(forKey: streamID) else { return 0 }
    // Bytes the application never consumed still count against the connection window.
    if state.unconsumed > 0 { nghttp2_session_consume_connection(session, state.unconsumed) }
    client.events.append(.closed(streamID: streamID, errorCode: HTTP2ClientErrorCode(rawValue: errorCode)))
    return 0
}

/// The request-body data provider: copies queued bytes, defers when the queue is empty and the
/// caller has more to send, and ends the stream once the queue is empty and closed.
func httpClientReadBody(_ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?,
                        _ length: Int, _ dataFlags: UnsafeMutablePointer<UInt32>?,
                        _ source: UnsafeMutablePointer<nghttp2_data_source>?,
                        _ userData: UnsafeMutableRawPointer?) -> Int {
    let client = clientSession(userData)
    guard let state = client.streams[streamID] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
    if state.body.isEmpty && !state.body.ended {
        state.deferred = true
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }
    let n = state.body.read(into: buffer!, capacity: length)
    if state.body.isEmpty && state.body.ended {
        dataFlags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
    }
    if state.wantsWritable && state.body.count < client.settings.outboundLowWater {
        state.wantsWritable = false
        client.events.append(.writable(streamID: streamID))
    }
    return n
}
