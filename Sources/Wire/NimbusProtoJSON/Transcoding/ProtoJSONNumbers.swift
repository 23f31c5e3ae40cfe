/// Exact number handling for proto3 JSON: integers never pass through a Double, so int64 keeps
/// all its digits; exponent and fraction forms (`1e3`, `5.0`) are accepted when the value is whole.
enum ProtoJSONNumbers {
    /// Sign and magnitude of an integral JSON number literal, or nil when it is not a whole
    /// number or does not fit in 64 bits of magnitude.
    static func integer(_ literal: String) -> (negative: Bool, magnitude: UInt64)? {
        var bytes = Substring(literal).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                digits.append(byte - UInt8(ascii: "0"))
                if seenPoint { exponent -= 1 }
            } else if byte == UInt8(ascii: ".") && !seenPoint {
                seenPoint = true
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                let rest = String(decoding: bytes[bytes.index(after: index)...], as: UTF8.self)
                guard let e = Int(rest.hasPrefix("+") ? String(rest.dropFirst()) : rest), abs(e) < 1000 else { return nil }
                exponent += e
                break
            } else {
                return nil
            }
            index = bytes.index(after: index)
        }
        guard !digits.isEmpty else { return nil }
        while let first = digits.first, first == 0, digits.count > 1 { digits.removeFirst() }
        while exponent < 0, let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty || digits == [0] { return (false, 0) }
        guard exponent >= 0 else { return nil }
        guard digits.count + exponent <= 20 else { return nil }
        digits.append(contentsOf: repeatElement(0, count: exponent))
        var value: UInt64 = 0
        for digit in digits {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return (negative, value)
    }

    static func signed(_ literal: String, bits: Int) -> Int64? {
        guard let (negative, magnitude) = integer(literal) else { return nil }
        let limit: UInt64 = bits == 32 ? UInt64(Int32.max) : UInt64(Int64.max)
        if negative {
            guard magnitude <= limit + 1 else { return nil }
            return magnitude == limit + 1 ? (bits == 32 ? Int64(Int32.min) : Int64.min) : -Int64(magnitude)
        }
        guard magnitude <= limit else { return nil }
        return Int64(magnitude)
    }

    static func unsigned(_ literal: String, bits: Int) -> UInt64? {
        guard let (negative, magnitude) = integer(literal) else { return nil }
        guard !negative || magnitude == 0 else { return nil }
        if bits == 32 && magnitude > UInt64(UInt32.max) { return nil }
        return magnitude
    }

    /// A JSON number literal (checked by the parser) or one of the special strings.
    static func floatingPoint(_ text: String, isString: Bool) -> Double? {
        if isString {
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                // Strings must still follow the JSON number grammar (no "inf", hex or spaces).
                guard case .number = try? JSONParser.parse(text) else { return nil }
            }
        }
        return Double(text)
    }

    static func format(_ value: Double) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        return .number(jsonNumberText(value.description))
    }

    static func format(_ value: Float) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        return .number(jsonNumberText(value.description))
    }

    /// Swift prints whole numbers as `5.0` and large ones as `1e+20`: both valid JSON; whole
    /// values lose the `.0` so they read as integers.
    private static func jsonNumberText(_ text: String) -> String {
        text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}
