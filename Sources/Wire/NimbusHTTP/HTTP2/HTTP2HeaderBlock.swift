import CNGHTTP2

/// Header fields to hand to nghttp2. Static fields point at constant storage (NO_COPY);
/// dynamic ones are packed into one buffer that lives for the duration of the submit call
/// (nghttp2 copies them).
public struct HTTP2HeaderBlock: @unchecked Sendable {  // StaticStrings and Strings only
    enum Field {
        case constant(StaticString, StaticString)
        case dynamic(String, String)
    }
    var fields: [Field] = []
    /// The `nghttp2_nv` array of an all-constant block, built once (`constant(_:)`): the
    /// blocks sent with nearly every gRPC response need no per-call conversion.
    private var prebuilt: PrebuiltNVs?

    public init() { fields.reserveCapacity(8) }

    /// A block of constant fields whose nghttp2 form is built now, once; for blocks kept in a
    /// `static let` and sent over and over. Adding to a copy falls back to per-call building.
    public static func constant(_ pairs: [(StaticString, StaticString)]) -> HTTP2HeaderBlock {
        var block = HTTP2HeaderBlock()
        for (name, value) in pairs { block.add(name, value) }
        block.prebuilt = PrebuiltNVs(block.fields)
        return block
    }

    public mutating func add(_ name: StaticString, _ value: StaticString) {
        prebuilt = nil
        fields.append(.constant(name, value))
    }

    /// `name` must already be lowercase (HTTP/2 requires it).
    public mutating func add(_ name: String, _ value: String) {
        prebuilt = nil
        fields.append(.dynamic(name, value))
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// Calls `body` with an `nghttp2_nv` array valid only for the call (stack memory when small).
    func withNVs<R>(_ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R) -> R {
        if let prebuilt { return body(prebuilt.nvs, prebuilt.count) }
        var dynamicBytes = 0
        for case .dynamic(let name, let value) in fields { dynamicBytes += name.utf8.count + value.utf8.count }
        let noCopy = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        let copy = UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
        return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(fields.count, 1)) { nvs in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(dynamicBytes, 1)) { storage in
                var offset = 0
                for (index, field) in fields.enumerated() {
                    switch field {
                    case .constant(let name, let value):
                        nvs[index] = nghttp2_nv(
                            name: UnsafeMutablePointer(mutating: name.utf8Start), value: UnsafeMutablePointer(mutating: value.utf8Start),
                            namelen: name.utf8CodeUnitCount, valuelen: value.utf8CodeUnitCount, flags: noCopy)
                    case .dynamic(let name, let value):
                        let namePart = UnsafeMutableBufferPointer(rebasing: storage[offset...])
                        let nameLength = namePart.initialize(fromContentsOf: name.utf8)
                        let valuePart = UnsafeMutableBufferPointer(rebasing: storage[(offset + nameLength)...])
                        let valueLength = valuePart.initialize(fromContentsOf: value.utf8)
                        nvs[index] = nghttp2_nv(
                            name: namePart.baseAddress!, value: valuePart.baseAddress!,
                            namelen: nameLength, valuelen: valueLength, flags: copy)
                        offset += nameLength + valueLength
                    }
                }
                return body(nvs.baseAddress!, fields.count)
            }
        }
    }
}

/// A constant block's `nghttp2_nv` array (NO_COPY: it points at static strings), immutable and
/// alive as long as the block that holds it. nghttp2 only reads it.
final class PrebuiltNVs: @unchecked Sendable {
    let nvs: UnsafeMutablePointer<nghttp2_nv>
    let count: Int

    init(_ fields: [HTTP2HeaderBlock.Field]) {
        count = fields.count
        nvs = .allocate(capacity: max(fields.count, 1))
        let noCopy = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        for (index, field) in fields.enumerated() {
            guard case .constant(let name, let value) = field else { preconditionFailure("PrebuiltNVs: dynamic field") }
            (nvs + index).initialize(to: nghttp2_nv(
                name: UnsafeMutablePointer(mutating: name.utf8Start), value: UnsafeMutablePointer(mutating: value.utf8Start),
                namelen: name.utf8CodeUnitCount, valuelen: value.utf8CodeUnitCount, flags: noCopy))
        }
    }

    deinit { nvs.deallocate() }
}
