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

    public init() { fields.reserveCapacity(8) }

    public mutating func add(_ name: StaticString, _ value: StaticString) {
        fields.append(.constant(name, value))
    }

    /// `name` must already be lowercase (HTTP/2 requires it).
    public mutating func add(_ name: String, _ value: String) {
        fields.append(.dynamic(name, value))
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// Calls `body` with an `nghttp2_nv` array valid only for the call (stack memory when small).
    func withNVs<R>(_ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R) -> R {
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
