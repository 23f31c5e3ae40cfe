import CNGHTTP2

/// Header fields to hand to nghttp2. Static fields point at constant storage (NO_COPY);
/// dynamic ones are packed into one buffer that lives for the duration of the submit call
/// (nghttp2 copies them).
public struct HTTP2HeaderBlock {
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

    /// Calls `body` with an `nghttp2_nv` array valid only for the call.
    func withNVs<R>(_ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R) -> R {
        var storage: [UInt8] = []
        var hasDynamic = false
        for case .dynamic(let name, let value) in fields {
            storage.append(contentsOf: name.utf8)
            storage.append(contentsOf: value.utf8)
            hasDynamic = true
        }
        let noCopy = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        return storage.withUnsafeMutableBufferPointer { buffer in
            var nvs: [nghttp2_nv] = []
            nvs.reserveCapacity(fields.count)
            var offset = 0
            for field in fields {
                switch field {
                case .constant(let name, let value):
                    nvs.append(nghttp2_nv(
                        name: UnsafeMutablePointer(mutating: name.utf8Start), value: UnsafeMutablePointer(mutating: value.utf8Start),
                        namelen: name.utf8CodeUnitCount, valuelen: value.utf8CodeUnitCount, flags: noCopy))
                case .dynamic(let name, let value):
                    let base = hasDynamic ? buffer.baseAddress! : UnsafeMutablePointer<UInt8>(bitPattern: 1)!
                    let nameLength = name.utf8.count, valueLength = value.utf8.count
                    nvs.append(nghttp2_nv(
                        name: base + offset, value: base + offset + nameLength,
                        namelen: nameLength, valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                    offset += nameLength + valueLength
                }
            }
            return nvs.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}
