import Foundation

/// timestamptz in PostgreSQL's ISO text form. Sessions run with `TimeZone=UTC, DateStyle=ISO`, so
/// the server prints `2024-01-02 03:04:05.123456+00`; parsing also accepts other offsets.
enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded(.toNearestOrEven)
        var seconds = Int64((micros / 1_000_000).rounded(.down))
        var fraction = Int64(micros) - seconds * 1_000_000
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v); return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let frac = String(fraction)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - frac.count) + frac + "Z"
    }

    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ digits: Int) -> Int? {
            guard i + digits <= b.count else { return nil }
            var v = 0
            for k in 0..<digits {
                let c = b[i + k]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += digits
            return v
        }
        func expect(_ c: UInt8) -> Bool { guard i < b.count, b[i] == c else { return false }; i += 1; return true }
        // Years may have more than four digits; take digits up to '-'.
        var yearDigits = 0
        while i + yearDigits < b.count, b[i + yearDigits] != UInt8(ascii: "-") { yearDigits += 1 }
        guard yearDigits >= 4, let year = number(yearDigits), expect(UInt8(ascii: "-")),
              let month = number(2), expect(UInt8(ascii: "-")), let day = number(2) else { return nil }
        var hour = 0, minute = 0, second = 0
        var micros = 0.0
        if i < b.count, b[i] == UInt8(ascii: " ") || b[i] == UInt8(ascii: "T") {
            i += 1
            guard let h = number(2), expect(UInt8(ascii: ":")), let m = number(2), expect(UInt8(ascii: ":")),
                  let s = number(2) else { return nil }
            hour = h; minute = m; second = s
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var scale = 100_000.0
                while i < b.count, b[i] >= 48, b[i] <= 57 { micros += Double(b[i] - 48) * scale; scale /= 10; i += 1 }
            }
        }
        var offset = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") { i += 1 } else {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") else { return nil }
                i += 1
                guard let oh = number(2) else { return nil }
                var om = 0, os = 0
                if expect(UInt8(ascii: ":")) { guard let m = number(2) else { return nil }; om = m }
                if expect(UInt8(ascii: ":")) { guard let s = number(2) else { return nil }; os = s }
                offset = sign * (oh * 3600 + om * 60 + os)
            }
        }
        guard i == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        let epoch = Int(timegm(&parts)) - offset
        return Date(timeIntervalSince1970: Double(epoch) + micros / 1_000_000)
    }
}

/// bytea in hex form (`\x0a1b…`), the server's default output.
enum PostgresBytea {
    private static let digits = Array("0123456789abcdef".utf8)
    static func hex(_ data: Data) -> String {
        var out = [UInt8](repeating: 0, count: 2 + data.count * 2)
        out[0] = UInt8(ascii: "\\"); out[1] = UInt8(ascii: "x")
        var k = 2
        for byte in data { out[k] = digits[Int(byte >> 4)]; out[k + 1] = digits[Int(byte & 15)]; k += 2 }
        return String(decoding: out, as: UTF8.self)
    }
    static func parse(_ text: String) -> Data? {
        let b = Array(text.utf8)
        guard b.count >= 2, b[0] == UInt8(ascii: "\\"), b[1] == UInt8(ascii: "x"), b.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = Data(capacity: (b.count - 2) / 2)
        var k = 2
        while k < b.count {
            guard let hi = nibble(b[k]), let lo = nibble(b[k + 1]) else { return nil }
            out.append(hi << 4 | lo); k += 2
        }
        return out
    }
}

/// One-dimensional array literals (`{a,"b c",NULL}`), which is what Nimbus columns use.
enum PostgresArrayText {
    static func format(_ elements: [String?]) -> String {
        var out = "{"
        for (n, element) in elements.enumerated() {
            if n > 0 { out += "," }
            guard let element else { out += "NULL"; continue }
            out += "\""
            for ch in element.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    /// Elements as text (nil for NULL), or nil when the literal is not a one-dimensional array.
    static func parse(_ text: String) -> [String?]? {
        let s = Array(text.unicodeScalars)
        guard s.first == "{", s.last == "}" else { return nil }
        var elements: [String?] = []
        var i = 1
        let end = s.count - 1
        if end == 1 { return [] }
        while i <= end {
            var value = String.UnicodeScalarView()
            var quoted = false
            if i < end, s[i] == "\"" {
                quoted = true
                i += 1
                while i < end, s[i] != "\"" {
                    if s[i] == "\\" { i += 1; guard i < end else { return nil } }
                    value.append(s[i]); i += 1
                }
                guard i < end else { return nil }
                i += 1  // closing quote
            } else {
                while i < end, s[i] != "," {
                    if s[i] == "{" { return nil }  // nested arrays are not supported
                    value.append(s[i]); i += 1
                }
            }
            let string = String(value)
            elements.append(!quoted && string.uppercased() == "NULL" ? nil : string)
            guard i == end || s[i] == "," else { return nil }
            i += 1
        }
        return elements
    }
}
