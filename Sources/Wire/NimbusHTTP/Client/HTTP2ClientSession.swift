import CNGHTTP2

/// A client-side HTTP/2 session over libnghttp2, sans I/O: bytes from the peer go in through
/// `receive(_:)`, bytes for the peer come out of `drainOutput(into:)`, and what happened comes out
/// as `HTTP2ClientEvent`s from `takeEvents()`. It never touches a socket, so the same code runs
/// over plain TCP, TLS or an in-memory pipe in tests.
///
/// Confined to one thread (the connection's event loop): nghttp2 sessions are not thread-safe.
/// Automatic WINDOW_UPDATE is off — the owner calls `consume(streamID:count:)` as the application
/// takes response bytes, so a slow reader back-pressures the server.
public final class HTTP2ClientSession {
    public struct Settings: Sendable {
        /// Receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE).
        public var initialStreamWindow: Int32 = 1 << 20
        /// Receive window of the whole connection.
        public var connectionWindow: Int32 = 16 << 20
        /// Request bodies buffered per stream before `HTTP2ClientEvent.writable` stops firing.
        public var outboundLowWater = 64 << 10
        public init() {}
    }

    var session: OpaquePointer?
    let settings: Settings
    var events: [HTTP2ClientEvent] = []
    /// Streams this session knows, by id: pending header fields and the request body queue.
    var streams: [Int32: StreamState] = [:]
    /// The highest stream whose HEADERS frame has left through `drainOutput`.
    public internal(set) var lastHeadersSentStreamID: Int32 = 0

    final class StreamState {
        var headerFields: [HTTP2ClientHeader] = []
        var body = HTTP2ClientOutboundQueue()
        /// The data provider returned NGHTTP2_ERR_DEFERRED and waits for `resume_data`.
        var deferred = false
        /// Response DATA bytes received and not yet handed back with `consume`.
        var unconsumed = 0
        var wantsWritable = false
    }

    public init(settings: Settings = Settings()) throws {
        self.settings = settings
        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0 else { throw HTTP2ClientError.sessionSetup("nghttp2_option_new") }
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_no_auto_window_update(option, 1)

        let callbacks = HTTP2ClientSession.callbacks
        var session: OpaquePointer?
        let rv = nghttp2_session_client_new2(&session, callbacks.pointer, Unmanaged.passUnretained(self).toOpaque(), option)
        guard rv == 0, let session else { throw HTTP2ClientError.sessionSetup("nghttp2_session_client_new2: \(rv)") }
        self.session = session

        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(settings.initialStreamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: 64 << 10),
        ]
        // The client preface (magic + SETTINGS) is queued here and leaves with the first drain.
        try check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count), "submit_settings")
        if settings.connectionWindow > 65_535 {
            try check(nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindow),
                      "set_local_window_size")
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: - Requests

    /// Opens a stream with `headers` (pseudo-headers first) and a request body fed by
    /// `sendData(streamID:_:endStream:)`. nghttp2 queues the stream while the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS is reached, so this never fails for being busy.
    public func submitRequest(headers: [HTTP2ClientHeader]) throws -> Int32 {
        try submitRequest(headers: HTTP2ClientRequestHeaders(headers))
    }

    /// `submitRequest` with a prebuilt header block: no per-request String or array building
    /// for the fields every request of its kind shares.
    public func submitRequest(headers: HTTP2ClientRequestHeaders) throws -> Int32 {
        guard let session else { throw HTTP2ClientError.sessionClosed }
        let state = StreamState()
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: httpClientReadBody)
        let streamID = headers.withNVs { nva, count in
            nghttp2_submit_request(session, nil, nva, count, &provider, nil)
        }
        guard streamID > 0 else {
            throw HTTP2ClientError.submitFailed("nghttp2_submit_request: \(String(cString: nghttp2_strerror(streamID)))")
        }
        streams[streamID] = state
        return streamID
    }

    /// Queues request body bytes; `endStream` half-closes after them. Returns the bytes still
    /// queued for the stream (the caller's back-pressure signal).
    @discardableResult
    public func sendData(streamID: Int32, _ bytes: [UInt8], endStream: Bool) -> Int {
        guard let state = streams[streamID], !state.body.ended else { return 0 }
        state.body.append(bytes)
        if endStream { state.body.ended = true }
        if state.deferred {
            state.deferred = false
            nghttp2_session_resume_data(session, streamID)
        }
        return state.body.count
    }

    /// Asks for a `.writable(streamID)` event once the queued body drops below the low-water mark.
    public func notifyWhenWritable(streamID: Int32) {
        guard let state = streams[streamID] else { return }
        if state.body.count < settings.outboundLowWater {
            events.append(.writable(streamID: streamID))
        } else {
            state.wantsWritable = true
        }
    }

    public func queuedBodyBytes(streamID: Int32) -> Int { streams[streamID]?.body.count ?? 0 }

    /// Hands `count` response bytes back to the peer's flow-control windows (stream and connection).
    public func consume(streamID: Int32, count: Int) {
        guard count > 0, let state = streams[streamID] else { return }
        let n = min(count, state.unconsumed)
        guard n > 0 else { return }
        state.unconsumed -= n
        nghttp2_session_consume(session, streamID, n)
    }

    /// RST_STREAM, e.g. CANCEL when the caller gives up.
    public func resetStream(streamID: Int32, errorCode: HTTP2ClientErrorCode = .cancel) {
        guard let session, streams[streamID] != nil else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode.rawValue)
    }

    public func ping() {
        guard let session else { return }
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// GOAWAY(NO_ERROR): we open no more streams; the open ones may finish. (Not
    /// `terminate_session`, which stops the session at once.) A client accepts no pushed
    /// streams, so the last stream id it processed is 0.
    public func goAway() {
        guard let session else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, NGHTTP2_NO_ERROR.rawValue, nil, 0)
    }

    // MARK: - Bytes in and out

    /// Feeds bytes read from the peer. Throws when the peer broke the protocol.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard let session else { throw HTTP2ClientError.sessionClosed }
        guard bytes.count > 0 else { return }
        let rv = nghttp2_session_mem_recv(session, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rv < 0 { throw HTTP2ClientError.protocolError("nghttp2_session_mem_recv: \(String(cString: nghttp2_strerror(Int32(rv))))") }
    }

    public func receive(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try receive($0) }
    }

    /// Appends every frame nghttp2 has ready to `buffer` (coalesced, so the caller writes once),
    /// stopping early once `buffer` holds `limit` bytes.
    public func drainOutput(into buffer: inout [UInt8], limit: Int = 256 << 10) throws {
        guard let session else { return }
        while buffer.count < limit {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 { throw HTTP2ClientError.protocolError("nghttp2_session_mem_send: \(String(cString: nghttp2_strerror(Int32(n))))") }
            if n == 0 { break }
            buffer.append(contentsOf: UnsafeBufferPointer(start: chunk, count: n))
        }
    }

    /// `drainOutput` straight into the connection's outbound buffer (no staging array),
    /// stopping once it holds `limit` unsent bytes.
    public func drainOutput(into outbound: inout OutboundBuffer, limit: Int = 256 << 10) throws {
        guard let session else { return }
        while outbound.pendingCount < limit {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 { throw HTTP2ClientError.protocolError("nghttp2_session_mem_send: \(String(cString: nghttp2_strerror(Int32(n))))") }
            if n == 0 { break }
            outbound.append(UnsafeRawBufferPointer(start: chunk, count: n))
        }
    }

    /// What happened since the last call, in order.
    public func takeEvents() -> [HTTP2ClientEvent] {
        if events.isEmpty { return [] }
        var taken: [HTTP2ClientEvent] = []
        swap(&taken, &events)
        return taken
    }

    /// `takeEvents` into the caller's buffer, which comes back empty (its capacity kept) and
    /// serves as the next batch's storage: no array allocated per read or flush.
    public func takeEvents(into batch: inout [HTTP2ClientEvent]) {
        batch.removeAll(keepingCapacity: true)
        swap(&batch, &events)
    }

    public var hasEvents: Bool { !events.isEmpty }

    public var wantsRead: Bool { session.map { nghttp2_session_want_read($0) != 0 } ?? false }
    public var wantsWrite: Bool { session.map { nghttp2_session_want_write($0) != 0 } ?? false }
    /// Streams opened (or queued) and not yet closed.
    public var openStreams: Int { streams.count }

    /// Stream ids run out at 2^31: a long-lived connection retires itself well before.
    public var nearlyOutOfStreamIDs: Bool {
        guard let session else { return true }
        return nghttp2_session_get_next_stream_id(session) > UInt32(Int32.max) - (1 << 20)
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (unbounded until it says otherwise).
    public var peerMaxConcurrentStreams: UInt32 {
        guard let session else { return 0 }
        return nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
    }

    func check(_ rv: Int32, _ what: String) throws {
        if rv != 0 { throw HTTP2ClientError.sessionSetup("nghttp2_\(what): \(String(cString: nghttp2_strerror(rv)))") }
    }
}
