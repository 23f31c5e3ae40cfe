/// `grpc-message` percent-encoding: bytes outside printable ASCII (0x20–0x7E) and `%` itself
/// are sent as `%XX` of the UTF-8 bytes.
public enum GRPCStatusMessage {
    /// A leading or trailing space is encoded too: HTTP/2 field values may not begin or end
    /// with whitespace, and nghttp2 peers reset the stream (PROTOCOL_ERROR) on one.
    public static func encode(_ message: String) -> String {
        let utf8 = message.utf8
        var needsEncoding = utf8.first == UInt8(ascii: " ") || utf8.last == UInt8(ascii: " ")
        for byte in utf8 where byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "%") {
            needsEncoding = true
            break
        }
        if !needsEncoding { return message }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count * 3)
        let count = utf8.count
        for (index, byte) in utf8.enumerated() {
            let edgeSpace = byte == UInt8(ascii: " ") && (index == 0 || index == count - 1)
            if byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "%") || edgeSpace {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes leniently, as the spec asks: a malformed `%` sequence is kept as is.
    public static func decode(_ value: String) -> String {
        let bytes = Array(value.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
