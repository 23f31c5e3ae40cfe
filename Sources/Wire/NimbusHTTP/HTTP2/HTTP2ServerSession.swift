import CNGHTTP2
import CNimbusShims
import NimbusEventLoop
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// HTTP/2 settings a server advertises and enforces.
public struct HTTP2Settings: Sendable {
    public var maxConcurrentStreams: UInt32 = 1024
    /// Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE).
    public var initialWindowSize: UInt32 = 1 << 20
    /// Connection-level receive window.
    public var connectionWindowSize: Int32 = 16 << 20
    public var maxHeaderListSize: UInt32 = 64 << 10
    /// Send a PING when the connection was quiet this long; nil disables keepalive.
    public var keepaliveInterval: Duration? = .seconds(60)
    /// Close when a keepalive PING is not answered within this time.
    public var keepaliveTimeout: Duration = .seconds(20)
    /// Close (GOAWAY) after this long without open streams; nil keeps idle connections.
    public var idleTimeout: Duration? = .seconds(300)

    public init() {}
}

/// One nghttp2 server session: confined to its connection's loop, fed by `receive`, drained
/// by `produceOutput` at tick end (so a tick's frames leave in one write).
final class HTTP2ServerSession: ConnectionCodec {
    let session: OpaquePointer
    /// The allocator behind `session` (freed after it).
    private let blockPool: OpaquePointer
    /// Strong on purpose (was `unowned`): handler tasks may keep streams, and through them this
    /// session, alive after the connection closed; every link here is then still valid memory.
    /// The cycle with `ServerConnection.codec` is broken by `ServerConnection.close()`.
    let connection: ServerConnection
    let router: any HTTP2RequestRouter
    let settings: HTTP2Settings
    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    /// The open streams (owning them until nghttp2 closes them), unordered: each knows its
    /// slot, so opening and closing one is an append and a swap-remove, no hashing.
    @exclusivity(unchecked) private var streams: [HTTP2ServerStream] = []
    /// The stream whose request header block is being received (0: none). Its object is made
    /// by the router once the block is complete.
    @exclusivity(unchecked) private var headerStreamID: Int32 = 0
    @exclusivity(unchecked) private var draining = false
    @exclusivity(unchecked) private var failed = false
    @exclusivity(unchecked) private var lastActivity = MonotonicTime.now()
    @exclusivity(unchecked) private var pingSentAt: UInt64?
    @exclusivity(unchecked) private var idleSince: UInt64? = MonotonicTime.now()
    @exclusivity(unchecked) private var timer: EventLoopTimer?
    /// The connection is gone (`connection` must not be touched any more).
    @exclusivity(unchecked) private var closed = false
    /// The header fields of recent request blocks by position, with their Strings: a client
    /// sends nearly the same block on every request of a connection (path, authority,
    /// user-agent, content-type …), so a field that matches the one at its position reuses
    /// the Strings instead of building (and, past 15 bytes, allocating) them again.
    @exclusivity(unchecked) private var recentHeaders: [RecentHeader] = []
    @exclusivity(unchecked) private var headerPosition = 0
    /// The request head being received. Header blocks never interleave, so one per session
    /// suffices, and its field array keeps its capacity from request to request.
    @exclusivity(unchecked) private var pendingHead = HTTP2RequestHead()
    /// Fields of `pendingHead` filled for the current block; entries past it are the previous
    /// request's, overwritten in place (destroying them all first went through the generic,
    /// unspecialized tuple-destroy path for every field).
    @exclusivity(unchecked) private var pendingFieldCount = 0
    /// The request block's rule state: pseudo-headers seen (`HTTP2RequestRules.Kind.pseudoBit`),
    /// whether a regular field came, the declared content-length, and whether it was refused.
    @exclusivity(unchecked) private var blockPseudo: UInt8 = 0
    @exclusivity(unchecked) private var blockSawRegular = false
    @exclusivity(unchecked) private var blockConnect = false
    @exclusivity(unchecked) private var blockAsteriskPath = false
    @exclusivity(unchecked) private var blockContentLength = -1
    @exclusivity(unchecked) private var blockRefused = false
    /// Which version of a recent field (`RecentHeader.generation`) each slot of `pendingHead`
    /// holds — regular fields by position, pseudo-headers by `pseudoBit` — so a repeated field
    /// is recognised by an integer, without touching (retaining, comparing) its Strings.
    @exclusivity(unchecked) private var pendingSources: [UInt64] = []
    @exclusivity(unchecked) private var pseudoSources: [UInt64] = [0, 0, 0, 0]
    /// The last `RecentHeader.generation` handed out (0 means "not a recent field").
    @exclusivity(unchecked) private var lastGeneration: UInt64 = 0
    /// The stream the last callback was about: consecutive callbacks (headers, data, end,
    /// the response's data reads, close) mostly concern the same stream, and this saves a
    /// hashed dictionary lookup each time.
    @exclusivity(unchecked) private var lastStream: HTTP2ServerStream?
    /// Emptied response buffers of closed streams, handed to new ones (no allocation per response).
    @exclusivity(unchecked) private var spareOutbound: [[UInt8]] = []
    private static let maxRecentHeaders = 24

    init(connection: ServerConnection, router: any HTTP2RequestRouter, settings: HTTP2Settings) throws {
        self.connection = connection
        self.router = router
        self.settings = settings
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Backpressure: windows reopen only as the application consumes what it read.
        nghttp2_option_set_no_auto_window_update(option, 1)
        // gRPC has no use for RFC 7540 stream priorities: no priority tree, and closed streams
        // are freed at once instead of being retained for it.
        nghttp2_option_set_no_closed_streams(option, 1)
        // RFC 9113 §8 request checks are ours (`HTTP2RequestRules`), made once per distinct
        // header field instead of nghttp2's on every field of every request.
        nghttp2_option_set_no_http_messaging(option, 1)
        var raw: OpaquePointer?
        // nghttp2's small allocations (streams, outbound items, header arrays: several per
        // request) come from a block cache of this session's own; nghttp2 copies `mem`.
        guard let pool = CNimbusShims_BlockPool_create() else { throw SocketError(call: "CNimbusShims_BlockPool_create", errno: 12) }
        var mem = nghttp2_mem(
            mem_user_data: UnsafeMutableRawPointer(pool), malloc: CNimbusShims_BlockPool_malloc, free: CNimbusShims_BlockPool_free,
            calloc: CNimbusShims_BlockPool_calloc, realloc: CNimbusShims_BlockPool_realloc)
        // The session's user data is set below, once `self` is fully initialized.
        guard nghttp2_session_server_new3(&raw, HTTP2ServerCallbacks.shared.callbacks, nil, option, &mem) == 0, let raw else {
            CNimbusShims_BlockPool_destroy(pool)
            throw SocketError(call: "nghttp2_session_server_new3", errno: 12)
        }
        blockPool = pool
        session = raw
        nghttp2_session_set_user_data(session, Unmanaged.passUnretained(self).toOpaque())
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialWindowSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindowSize)
        scheduleTimer()
    }

    deinit {
        // The held header buffers first: they free themselves with the session's allocator.
        for index in recentHeaders.indices { recentHeaders[index].release() }
        nghttp2_session_del(session)
        CNimbusShims_BlockPool_destroy(blockPool)
    }

    // MARK: ConnectionCodec

    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        lastActivity = MonotonicTime.now()
        let rc = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rc < 0 { throw HTTP2Error(operation: "receive", code: Int32(rc)) }
    }

    func produceOutput(into buffer: inout OutboundBuffer) throws {
        while buffer.pendingCount < 256 << 10 {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n < 0 { throw HTTP2Error(operation: "send", code: Int32(n)) }
            if n == 0 { return }
            buffer.append(UnsafeRawBufferPointer(start: data, count: n))
        }
    }

    var hasMoreOutput: Bool { nghttp2_session_want_write(session) != 0 }

    var wantsClose: Bool {
        failed || (nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0)
    }

    var isIdle: Bool { streams.isEmpty }

    func beginGracefulShutdown() {
        guard !draining else { return }
        draining = true
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session), UInt32(NGHTTP2_NO_ERROR.rawValue), nil, 0)
        // nghttp2 stops wanting to read once GOAWAY is out and no stream remains open.
        connection.scheduleFlush()
    }

    func connectionClosed() {
        closed = true
        if let timer { connection.loop.cancelTimer(timer) }
        timer = nil
        let open = streams
        streams.removeAll()
        lastStream = nil
        headerStreamID = 0
        for stream in open { stream.slot = -1 }
        for stream in open where !stream.isClosed {
            stream.isClosed = true
            stream.streamClosed(errorCode: UInt32(NGHTTP2_CANCEL.rawValue))
            stream.onOutboundDrained = nil
        }
    }

    // MARK: keepalive and idle

    private func scheduleTimer() {
        var period = Duration.seconds(3600)
        if let keepalive = settings.keepaliveInterval { period = min(period, keepalive) }
        if let idle = settings.idleTimeout { period = min(period, idle) }
        period = min(period, settings.keepaliveTimeout)
        // A strong capture, not `[weak self]`: a weak reference gives the session a side table,
        // which sends every retain/release of it (several per header callback) down the slow
        // path (~8% of a unary call). The cycle is broken by `connectionClosed`, which cancels
        // the timer; a cancelled timer's body never runs.
        timer = connection.loop.scheduleTimer(after: period) { [self] in
            timer = nil
            if closed { return }
            checkTimers()
            if !closed { scheduleTimer() }
        }
    }

    private func checkTimers() {
        let now = MonotonicTime.now()
        if let sent = pingSentAt, now - sent > settings.keepaliveTimeout.nanoseconds {
            connection.close()  // the peer stopped answering
            return
        }
        if pingSentAt == nil, let keepalive = settings.keepaliveInterval, now - lastActivity >= keepalive.nanoseconds {
            pingSentAt = now
            nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
            connection.scheduleFlush()
        }
        if let idle = settings.idleTimeout, let since = idleSince, now - since >= idle.nanoseconds {
            beginGracefulShutdown()
        }
    }

    // MARK: stream operations (called by HTTP2ServerStream)

    func submitResponse(_ stream: HTTP2ServerStream, headers: HTTP2HeaderBlock, withBody: Bool) {
        let rc: Int32 = headers.withNVs { nvs, count in
            if withBody {
                // The stream rides along as the data source (unretained: `streams` holds it until
                // nghttp2 closes the stream, after which it never reads again): no lookup per read.
                let source = nghttp2_data_source(ptr: Unmanaged.passUnretained(stream).toOpaque())
                var provider = nghttp2_data_provider(source: source, read_callback: http2ReadResponseData)
                return nghttp2_submit_response(session, stream.id, nvs, count, &provider)
            }
            return nghttp2_submit_response(session, stream.id, nvs, count, nil)
        }
        if rc != 0 { nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, UInt32(NGHTTP2_INTERNAL_ERROR.rawValue)) }
        connection.scheduleFlush()
    }

    func resumeIfDeferred(_ stream: HTTP2ServerStream) {
        if stream.dataDeferred {
            stream.dataDeferred = false
            nghttp2_session_resume_data(session, stream.id)
        }
        connection.scheduleFlush()
    }

    func consume(_ stream: HTTP2ServerStream, _ count: Int) {
        nghttp2_session_consume(session, stream.id, count)
        connection.scheduleFlush()
    }

    func reset(_ stream: HTTP2ServerStream, errorCode: UInt32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, errorCode)
        connection.scheduleFlush()
    }

    // MARK: callbacks from nghttp2 (during receive / produceOutput)

    fileprivate func beginHeaders(streamID: Int32) {
        headerStreamID = streamID
        headerPosition = 0
        blockPseudo = 0
        blockSawRegular = false
        blockConnect = false
        blockAsteriskPath = false
        blockContentLength = -1
        blockRefused = false
        // The pseudo-header Strings stay from the last request (most requests repeat them and
        // then cost no write); the ones this block lacks are cleared once it is complete.
        pendingFieldCount = 0
        idleSince = nil
    }

    /// One header field, as nghttp2's reference-counted buffers: a field the peer sends from
    /// its HPACK table arrives in the same buffer every time, so a recent field is recognised
    /// by pointer (the buffers are held, so an address cannot be reused for other bytes).
    fileprivate func header(streamID: Int32, name nameBuffer: OpaquePointer, value valueBuffer: OpaquePointer) {
        guard streamID == headerStreamID else {
            // A trailer block (they have no begin-headers callback): no pseudo-headers, valid fields.
            let kind = HTTP2RequestRules.classify(name: Self.bytes(nameBuffer), value: Self.bytes(valueBuffer)).kind
            if kind == .invalid || kind.pseudoBit != 0, let stream = stream(streamID) { refuse(stream) }
            return
        }
        if blockRefused { return }
        // Fields are used in place in `recentHeaders` (copying the struct out retained and
        // released its three references per field).
        let position = headerPosition
        headerPosition += 1
        if position < recentHeaders.count,
           recentHeaders[position].nameBuffer == nameBuffer && recentHeaders[position].valueBuffer == valueBuffer {
            return acceptRecent(position, streamID: streamID)
        }
        let name = Self.bytes(nameBuffer)
        let value = Self.bytes(valueBuffer)
        if position < recentHeaders.count {
            if recentHeaders[position].matches(name, value) {
                recentHeaders[position].hold(name: nameBuffer, value: valueBuffer)
                return acceptRecent(position, streamID: streamID)
            }
        }
        let (kind, contentLength) = HTTP2RequestRules.classify(name: name, value: value)
        if kind == .invalid { return refuseBlock(streamID) }
        let nameString = HTTP2CommonHeaders.name(name) ?? String(decoding: name, as: UTF8.self)
        let valueString = HTTP2CommonHeaders.value(value) ?? String(decoding: value, as: UTF8.self)
        let tag = kind.pseudoBit == 0 ? router.tag(headerName: nameString) : 0
        var generation: UInt64 = 0
        if position <= recentHeaders.count && position < Self.maxRecentHeaders {
            lastGeneration += 1  // 64 bits: never wraps
            generation = lastGeneration
            var field = RecentHeader(name: nameString, value: valueString, kind: kind, contentLength: contentLength,
                                     tag: tag, generation: generation, nameBytes: name, valueBytes: value)
            field.hold(name: nameBuffer, value: valueBuffer)
            if position < recentHeaders.count {
                recentHeaders[position].release()
                recentHeaders[position] = field
            } else {
                recentHeaders.append(field)
            }
        }
        if !admit(kind, contentLength: contentLength, streamID: streamID) { return }
        if kind.pseudoBit == 0 {
            storeField(name: nameString, value: valueString, tag: tag, generation: generation)
        } else {
            storePseudo(kind, value: valueString, generation: generation)
        }
    }

    /// A recent field again: when its slot already holds this version, nothing is written.
    @inline(__always)
    private func acceptRecent(_ position: Int, streamID: Int32) {
        let kind = recentHeaders[position].kind
        guard admit(kind, contentLength: recentHeaders[position].contentLength, streamID: streamID) else { return }
        let generation = recentHeaders[position].generation
        if kind.pseudoBit == 0 {
            if pendingFieldCount < pendingSources.count && pendingSources[pendingFieldCount] == generation {
                pendingFieldCount += 1
                return
            }
            storeField(name: recentHeaders[position].name, value: recentHeaders[position].value,
                       tag: recentHeaders[position].tag, generation: generation)
        } else {
            if pseudoSources[Self.pseudoSlot(kind)] == generation { return }
            storePseudo(kind, value: recentHeaders[position].value, generation: generation)
        }
    }

    /// The block rules for one more field: pseudo-headers before every regular field and at
    /// most once each, one content-length. False (and the block refused) when broken.
    @inline(__always)
    private func admit(_ kind: HTTP2RequestRules.Kind, contentLength: Int, streamID: Int32) -> Bool {
        switch kind {
        case .invalid:
            refuseBlock(streamID)
            return false
        case .regular, .contentLength:
            if kind == .contentLength {
                if blockContentLength >= 0 && blockContentLength != contentLength {
                    refuseBlock(streamID)
                    return false
                }
                blockContentLength = contentLength
            }
            blockSawRegular = true
            return true
        default:
            let bit = kind.pseudoBit
            if blockSawRegular || blockPseudo & bit != 0 {
                refuseBlock(streamID)
                return false
            }
            blockPseudo |= bit
            if kind == .method || kind == .connectMethod { blockConnect = kind == .connectMethod }
            if kind == .path || kind == .asteriskPath { blockAsteriskPath = kind == .asteriskPath }
            return true
        }
    }

    @inline(__always)
    private func storeField(name: String, value: String, tag: UInt8, generation: UInt64) {
        if pendingFieldCount < pendingHead.fields.count {
            pendingHead.fields[pendingFieldCount] = (name, value)
            pendingHead.fieldTags[pendingFieldCount] = tag
            pendingSources[pendingFieldCount] = generation
        } else {
            pendingHead.fields.append((name, value))
            pendingHead.fieldTags.append(tag)
            pendingSources.append(generation)
        }
        pendingFieldCount += 1
    }

    @inline(__always)
    private func storePseudo(_ kind: HTTP2RequestRules.Kind, value: String, generation: UInt64) {
        pseudoSources[Self.pseudoSlot(kind)] = generation
        switch kind {
        case .method, .connectMethod: pendingHead.method = value
        case .scheme: pendingHead.scheme = value
        case .authority: pendingHead.authority = value
        default: pendingHead.path = value
        }
    }

    @inline(__always)
    private static func pseudoSlot(_ kind: HTTP2RequestRules.Kind) -> Int {
        kind.pseudoBit.trailingZeroBitCount
    }

    @inline(__always)
    private static func bytes(_ buffer: OpaquePointer) -> UnsafeBufferPointer<UInt8> {
        let vector = nghttp2_rcbuf_get_buf(buffer)
        return UnsafeBufferPointer(start: vector.base, count: vector.len)
    }

    /// The request block being received breaks the rules: RST_STREAM(PROTOCOL_ERROR), and the
    /// request is never routed.
    private func refuseBlock(_ streamID: Int32) {
        blockRefused = true
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, UInt32(NGHTTP2_PROTOCOL_ERROR.rawValue))
    }

    /// An open stream breaks the rules (its trailers, its content-length): RST_STREAM
    /// (PROTOCOL_ERROR); nothing more reaches it but the close.
    private func refuse(_ stream: HTTP2ServerStream) {
        guard !stream.refusedByRules else { return }
        stream.refusedByRules = true
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, UInt32(NGHTTP2_PROTOCOL_ERROR.rawValue))
        connection.scheduleFlush()
    }

    private func removeOpenStream(_ stream: HTTP2ServerStream) {
        let last = streams.removeLast()
        if last !== stream {
            streams[stream.slot] = last
            last.slot = stream.slot
        }
        stream.slot = -1
    }

    /// A response buffer for a stream's first write.
    func takeOutboundBuffer() -> [UInt8] { spareOutbound.popLast() ?? [] }

    private func recycleOutbound(_ stream: HTTP2ServerStream) {
        let capacity = stream.outbound.capacity
        guard capacity > 0, capacity <= 16 << 10, spareOutbound.count < 64 else { return }
        var buffer = stream.outbound
        stream.outbound = []
        stream.outboundOffset = 0
        buffer.removeAll(keepingCapacity: true)
        spareOutbound.append(buffer)
    }

    @inline(__always)
    private func stream(_ id: Int32) -> HTTP2ServerStream? {
        if let last = lastStream, last.id == id { return last }
        // nghttp2's own stream map (set in `beginHeaders`) instead of hashing into `streams`.
        guard let pointer = nghttp2_session_get_stream_user_data(session, id) else { return nil }
        let found = Unmanaged<HTTP2ServerStream>.fromOpaque(pointer).takeUnretainedValue()
        lastStream = found
        return found
    }

    fileprivate func requestHeadersComplete(streamID: Int32, endStream: Bool) {
        let stream: HTTP2ServerStream
        if streamID == headerStreamID {
            headerStreamID = 0
            if pendingHead.fields.count > pendingFieldCount {
                pendingHead.fields.removeSubrange(pendingFieldCount...)
                pendingHead.fieldTags.removeSubrange(pendingFieldCount...)
                pendingSources.removeSubrange(pendingFieldCount...)
            }
            if !blockRefused && !HTTP2RequestRules.isCompleteRequest(
                seen: blockPseudo, connect: blockConnect, asteriskPath: blockAsteriskPath, method: pendingHead.method) {
                refuseBlock(streamID)
            }
            if blockRefused { return }
            if blockPseudo != 15 {
                if blockPseudo & 1 == 0 { pendingHead.method = ""; pseudoSources[0] = 0 }
                if blockPseudo & 2 == 0 { pendingHead.scheme = ""; pseudoSources[1] = 0 }
                if blockPseudo & 4 == 0 { pendingHead.authority = ""; pseudoSources[2] = 0 }
                if blockPseudo & 8 == 0 { pendingHead.path = ""; pseudoSources[3] = 0 }
            }
            let opening = HTTP2StreamOpening(
                id: streamID, session: self, loop: connection.loop, peer: connection.peerDescription,
                peerCertificateSubject: connection.peerCertificateSubject)
            stream = router.openStream(opening, head: &pendingHead)
            stream.declaredContentLength = blockContentLength
            register(stream)
        } else {
            guard let open = self.stream(streamID) else { return }
            stream = open
            // Trailers end the request (RFC 9113 §8.1).
            if !endStream { return refuse(stream) }
        }
        if endStream { receivedEnd(stream) }
    }

    private func register(_ stream: HTTP2ServerStream) {
        stream.slot = streams.count
        streams.append(stream)
        // Unretained: `streams` owns it until nghttp2's close callback, the last time nghttp2
        // hands this stream back.
        nghttp2_session_set_stream_user_data(session, stream.id, Unmanaged.passUnretained(stream).toOpaque())
        lastStream = stream
    }

    fileprivate func dataChunk(streamID: Int32, bytes: UnsafeRawBufferPointer) {
        guard let stream = stream(streamID), !stream.isClosed, !stream.refusedByRules else {
            // Nobody will consume these: return them to the connection window at once.
            nghttp2_session_consume_connection(session, bytes.count)
            return
        }
        stream.receivedBodyBytes += bytes.count
        if stream.declaredContentLength >= 0 && stream.receivedBodyBytes > stream.declaredContentLength {
            nghttp2_session_consume_connection(session, bytes.count)
            return refuse(stream)
        }
        stream.unconsumed += bytes.count
        stream.streamReceivedData(bytes)
    }

    fileprivate func dataEnded(streamID: Int32) {
        guard let stream = stream(streamID) else { return }
        receivedEnd(stream)
    }

    private func receivedEnd(_ stream: HTTP2ServerStream) {
        guard !stream.receivedEnd, !stream.refusedByRules else { return }
        if stream.declaredContentLength >= 0 && stream.receivedBodyBytes != stream.declaredContentLength {
            return refuse(stream)
        }
        stream.receivedEnd = true
        if !stream.isClosed { stream.streamReceivedEnd() }
    }

    fileprivate func pingAcknowledged() { pingSentAt = nil }

    fileprivate func streamClosed(streamID: Int32, errorCode: UInt32) {
        if streamID == headerStreamID { headerStreamID = 0 }  // reset before its block completed
        guard let stream = stream(streamID), stream.slot >= 0 else {
            if streams.isEmpty && idleSince == nil { idleSince = MonotonicTime.now() }
            return
        }
        if lastStream === stream { lastStream = nil }
        removeOpenStream(stream)
        if stream.unconsumed > 0 {
            nghttp2_session_consume_connection(session, stream.unconsumed)
            stream.unconsumed = 0
        }
        stream.isClosed = true
        stream.onOutboundDrained = nil
        stream.streamClosed(errorCode: errorCode)
        stream.onOutboundDrained = nil
        recycleOutbound(stream)
        if streams.isEmpty { idleSince = MonotonicTime.now() }
    }

    /// After our END_STREAM went out: if the client has not finished sending, tell it to stop
    /// with RST_STREAM(NO_ERROR) (gRPC's rule for trailers that precede the request's end).
    fileprivate func sentEndStream(streamID: Int32) {
        guard let stream = stream(streamID), !stream.receivedEnd else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, UInt32(NGHTTP2_NO_ERROR.rawValue))
    }

    /// Copies queued response bytes into nghttp2's frame buffer; defers when empty, and ends
    /// with trailers (or END_STREAM) once everything is out.
    fileprivate func readResponseData(stream: HTTP2ServerStream, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                                      flags: UnsafeMutablePointer<UInt32>) -> Int {
        let streamID = stream.id
        let available = stream.outbound.count - stream.outboundOffset
        let n = min(available, length)
        if n > 0 {
            stream.outbound.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + stream.outboundOffset, count: n)
            }
            stream.outboundOffset += n
        }
        if stream.outboundOffset == stream.outbound.count {
            stream.outbound.removeAll(keepingCapacity: stream.outbound.capacity <= 64 << 10)
            stream.outboundOffset = 0
            if let trailers = stream.pendingTrailers {
                stream.pendingTrailers = nil
                stream.endAfterData = true
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                let rc = trailers.withNVs { nghttp2_submit_trailer(session, streamID, $0, $1) }
                if rc != 0 { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
            } else if stream.endAfterData {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            } else {
                if let drained = stream.onOutboundDrained { connection.loop.executeInLoop(drained) }
                if n == 0 {
                    stream.dataDeferred = true
                    return Int(NGHTTP2_ERR_DEFERRED.rawValue)
                }
            }
        }
        return n
    }
}

/// An nghttp2 call failed.
public struct HTTP2Error: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var description: String {
        "HTTP/2 \(operation) failed: \(String(cString: nghttp2_strerror(code))) (\(code))"
    }
}

/// The callback table, built once; nghttp2 copies it into each session.
final class HTTP2ServerCallbacks: @unchecked Sendable {
    static let shared = HTTP2ServerCallbacks()
    let callbacks: OpaquePointer

    private init() {
        var raw: OpaquePointer?
        precondition(nghttp2_session_callbacks_new(&raw) == 0, "nghttp2_session_callbacks_new")
        callbacks = raw!
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, http2OnBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback2(callbacks, http2OnHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, http2OnFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, http2OnDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, http2OnStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, http2OnFrameSend)
    }
}

/// Runs `body` with the session nghttp2 calls back for, without a retain/release pair around
/// it (a dozen callbacks per request): the connection owns the session for as long as nghttp2
/// can call back into it.
@inline(__always)
private func withServerSession<R>(_ userData: UnsafeMutableRawPointer?, _ body: (HTTP2ServerSession) -> R) -> R {
    Unmanaged<HTTP2ServerSession>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
}

private func http2OnBeginHeaders(_: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let hd = frame!.pointee.hd  // the frame header only, not a copy of the whole frame union
    if hd.type == UInt8(NGHTTP2_HEADERS.rawValue) && frame!.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
        withServerSession(userData) { $0.beginHeaders(streamID: hd.stream_id) }
    }
    return 0
}

private func http2OnHeader(
    _: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ name: OpaquePointer?, _ value: OpaquePointer?,
    _: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    let hd = frame!.pointee.hd  // the frame header only, not a copy of the whole frame union
    guard hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    withServerSession(userData) { $0.header(streamID: hd.stream_id, name: name!, value: value!) }
    return 0
}

private func http2OnFrameRecv(_: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let hd = frame!.pointee.hd  // the frame header only, not a copy of the whole frame union
    let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    withServerSession(userData) { session in
        switch UInt32(hd.type) {
        case NGHTTP2_HEADERS.rawValue:
            session.requestHeadersComplete(streamID: hd.stream_id, endStream: endStream)
        case NGHTTP2_DATA.rawValue:
            if endStream { session.dataEnded(streamID: hd.stream_id) }
        case NGHTTP2_PING.rawValue:
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { session.pingAcknowledged() }
        default:
            break
        }
    }
    return 0
}

private func http2OnDataChunk(
    _: OpaquePointer?, _: UInt8, _ streamID: Int32, _ data: UnsafePointer<UInt8>?, _ length: Int, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    withServerSession(userData) { $0.dataChunk(streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length)) }
    return 0
}

private func http2OnStreamClose(_: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    withServerSession(userData) { $0.streamClosed(streamID: streamID, errorCode: errorCode) }
    return 0
}

private func http2OnFrameSend(_: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let hd = frame!.pointee.hd  // the frame header only, not a copy of the whole frame union
    let type = UInt32(hd.type)
    if (type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue)
        && hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
        withServerSession(userData) { $0.sentEndStream(streamID: hd.stream_id) }
    }
    return 0
}

private func http2ReadResponseData(
    _: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?, _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let pointer = source?.pointee.ptr else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
    let stream = Unmanaged<HTTP2ServerStream>.fromOpaque(pointer).takeUnretainedValue()
    return withServerSession(userData) { $0.readResponseData(stream: stream, into: buffer!, length: length, flags: flags!) }
}

/// One remembered request header field: its bytes (name then value), its Strings and its
/// classification under `HTTP2RequestRules`.
private struct RecentHeader {
    let name: String
    let value: String
    let kind: HTTP2RequestRules.Kind
    let contentLength: Int
    /// The router's tag for the name.
    let tag: UInt8
    /// This content's version at its position (a new one whenever the position gets new bytes).
    let generation: UInt64
    let bytes: [UInt8]
    let nameCount: Int
    /// nghttp2's buffers these bytes last arrived in, held (`nghttp2_rcbuf_incref`) until
    /// replaced or the session ends.
    private(set) var nameBuffer: OpaquePointer?
    private(set) var valueBuffer: OpaquePointer?

    mutating func hold(name: OpaquePointer, value: OpaquePointer) {
        nghttp2_rcbuf_incref(name)
        nghttp2_rcbuf_incref(value)
        release()
        nameBuffer = name
        valueBuffer = value
    }

    mutating func release() {
        if let nameBuffer { nghttp2_rcbuf_decref(nameBuffer) }
        if let valueBuffer { nghttp2_rcbuf_decref(valueBuffer) }
        nameBuffer = nil
        valueBuffer = nil
    }

    init(name: String, value: String, kind: HTTP2RequestRules.Kind, contentLength: Int, tag: UInt8, generation: UInt64,
         nameBytes: UnsafeBufferPointer<UInt8>, valueBytes: UnsafeBufferPointer<UInt8>) {
        self.generation = generation
        self.name = name
        self.value = value
        self.kind = kind
        self.contentLength = contentLength
        self.tag = tag
        var bytes = [UInt8]()
        bytes.reserveCapacity(nameBytes.count + valueBytes.count)
        bytes.append(contentsOf: nameBytes)
        bytes.append(contentsOf: valueBytes)
        self.bytes = bytes
        self.nameCount = nameBytes.count
    }

    @inline(__always)
    func matches(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard name.count == nameCount, value.count == bytes.count - nameCount else { return false }
        return bytes.withUnsafeBufferPointer { stored in
            (name.count == 0 || memcmp(stored.baseAddress!, name.baseAddress!, name.count) == 0)
                && (value.count == 0 || memcmp(stored.baseAddress! + nameCount, value.baseAddress!, value.count) == 0)
        }
    }
}
