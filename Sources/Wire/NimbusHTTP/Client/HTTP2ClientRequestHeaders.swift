import CNGHTTP2

/// Request header fields that are the same on every request of a kind (for gRPC: `:method`,
/// `:scheme`, `:path`, `:authority`, `content-type`, `te`, `user-agent`, `grpc-accept-encoding` of one method on one
/// endpoint), packed once into one byte buffer with their `nghttp2_nv` array, so a request
/// needs no String or array building for them. Immutable; nghttp2 copies the fields on submit.
public final class HTTP2ClientHeaderPrefix: @unchecked Sendable {
    let nvs: UnsafeMutablePointer<nghttp2_nv>
    let count: Int
    private let bytes: UnsafeMutablePointer<UInt8>

    /// `fields` in wire order, pseudo-headers first, names lowercase.
    public init(_ fields: [(name: String, value: String)]) {
        count = fields.count
        let total = fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        bytes = .allocate(capacity: max(total, 1))
        nvs = .allocate(capacity: max(fields.count, 1))
        var offset = 0
        for (index, field) in fields.enumerated() {
            let name = bytes + offset
            offset += UnsafeMutableBufferPointer(start: name, count: field.name.utf8.count).initialize(fromContentsOf: field.name.utf8)
            let value = bytes + offset
            offset += UnsafeMutableBufferPointer(start: value, count: field.value.utf8.count).initialize(fromContentsOf: field.value.utf8)
            (nvs + index).initialize(to: nghttp2_nv(name: name, value: value, namelen: field.name.utf8.count,
                                                    valuelen: field.value.utf8.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
    }

    deinit {
        nvs.deinitialize(count: count)
        nvs.deallocate()
        bytes.deallocate()
    }

    /// The fields, for tests and diagnostics.
    public var fields: [HTTP2ClientHeader] {
        (0..<count).map { index in
            let nv = nvs[index]
            return HTTP2ClientHeader(String(decoding: UnsafeBufferPointer(start: nv.name, count: nv.namelen), as: UTF8.self),
                                     String(decoding: UnsafeBufferPointer(start: nv.value, count: nv.valuelen), as: UTF8.self))
        }
    }
}

/// The header block of one request: a shared `HTTP2ClientHeaderPrefix` plus the fields of this
/// request, written straight into one byte buffer (the only allocation per request).
public struct HTTP2ClientRequestHeaders: Sendable {
    public let prefix: HTTP2ClientHeaderPrefix
    /// Per-request fields, each as: name length (2 bytes), value length (4 bytes), name, value.
    private(set) var packed: [UInt8] = []
    public private(set) var extraCount = 0

    /// `capacity`: the bytes the per-request fields will take (a guess is fine).
    public init(prefix: HTTP2ClientHeaderPrefix, capacity: Int = 0) {
        self.prefix = prefix
        if capacity > 0 { packed.reserveCapacity(capacity + 8 * 6) }
    }

    /// Plain fields (no shared prefix), e.g. from an `[HTTP2ClientHeader]`.
    public init(_ headers: [HTTP2ClientHeader]) {
        self.init(prefix: Self.emptyPrefix, capacity: headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 6 })
        for header in headers { add(header.name, header.value) }
    }

    private static let emptyPrefix = HTTP2ClientHeaderPrefix([])

    public var count: Int { prefix.count + extraCount }

    /// `name` must be lowercase.
    public mutating func add(_ name: String, _ value: String) {
        add(name, valueLength: value.utf8.count) { $0.initialize(fromContentsOf: value.utf8) }
    }

    /// Adds a field whose value `write` puts into exactly `valueLength` bytes (e.g. base64 of
    /// binary metadata, encoded in place).
    public mutating func add(_ name: String, valueLength: Int, write: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        let nameLength = name.utf8.count
        precondition(nameLength <= UInt16.max && valueLength <= UInt32.max, "header field too large")
        let start = packed.count
        packed.append(contentsOf: repeatElement(0, count: 6 + nameLength + valueLength))
        packed.withUnsafeMutableBufferPointer { buffer in
            buffer[start] = UInt8(truncatingIfNeeded: nameLength >> 8)
            buffer[start + 1] = UInt8(truncatingIfNeeded: nameLength)
            buffer[start + 2] = UInt8(truncatingIfNeeded: valueLength >> 24)
            buffer[start + 3] = UInt8(truncatingIfNeeded: valueLength >> 16)
            buffer[start + 4] = UInt8(truncatingIfNeeded: valueLength >> 8)
            buffer[start + 5] = UInt8(truncatingIfNeeded: valueLength)
            let nameStart = start + 6
            _ = UnsafeMutableBufferPointer(rebasing: buffer[nameStart..<(nameStart + nameLength)]).initialize(fromContentsOf: name.utf8)
            let valueStart = nameStart + nameLength
            let written = write(UnsafeMutableBufferPointer(rebasing: buffer[valueStart..<(valueStart + valueLength)]))
            precondition(written == valueLength, "a header value writer wrote \(written) of \(valueLength) bytes")
        }
        extraCount += 1
    }

    /// Every field in order, for tests and diagnostics.
    public var fields: [HTTP2ClientHeader] {
        var fields = prefix.fields
        forEachExtra { name, value in
            fields.append(HTTP2ClientHeader(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return fields
    }

    private func forEachExtra(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) {
        packed.withUnsafeBufferPointer { Self.forEachField(in: $0, body) }
    }

    private static func forEachField(in buffer: UnsafeBufferPointer<UInt8>,
                                     _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) {
        var offset = 0
        while offset < buffer.count {
            let nameLength = Int(buffer[offset]) << 8 | Int(buffer[offset + 1])
            let valueLength = Int(buffer[offset + 2]) << 24 | Int(buffer[offset + 3]) << 16 | Int(buffer[offset + 4]) << 8 | Int(buffer[offset + 5])
            let nameStart = offset + 6
            let valueStart = nameStart + nameLength
            body(UnsafeBufferPointer(rebasing: buffer[nameStart..<valueStart]),
                 UnsafeBufferPointer(rebasing: buffer[valueStart..<(valueStart + valueLength)]))
            offset = valueStart + valueLength
        }
    }

    /// The fields as nghttp2 receives them (read back from the `nghttp2_nv` array), for tests.
    var submittedFields: [HTTP2ClientHeader] {
        withNVs { nvs, count in
            (0..<count).map { i in
                HTTP2ClientHeader(String(decoding: UnsafeBufferPointer(start: nvs[i].name, count: nvs[i].namelen), as: UTF8.self),
                                  String(decoding: UnsafeBufferPointer(start: nvs[i].value, count: nvs[i].valuelen), as: UTF8.self))
            }
        }
    }

    /// Calls `body` with the `nghttp2_nv` array, valid only during the call (nghttp2 copies it).
    func withNVs<R>(_ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R) -> R {
        if extraCount == 0 { return body(prefix.nvs, prefix.count) }
        let prefix = prefix
        return packed.withUnsafeBufferPointer { buffer in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: prefix.count + extraCount) { nvs in
                let base = nvs.baseAddress!
                base.initialize(from: prefix.nvs, count: prefix.count)
                var index = prefix.count
                Self.forEachField(in: buffer) { name, value in
                    (base + index).initialize(to: nghttp2_nv(
                        name: UnsafeMutablePointer(mutating: name.baseAddress!),
                        value: UnsafeMutablePointer(mutating: value.baseAddress ?? name.baseAddress!),
                        namelen: name.count, valuelen: value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                    index += 1
                }
                return body(base, index)
            }
        }
    }
}
