import Foundation

/// The two date forms S3 speaks: RFC 7231 IMF-fixdate in headers (`Last-Modified`) and ISO
/// 8601 with milliseconds in XML (`LastModified`). Written by arithmetic: DateFormatter is
/// neither fast nor safe to share across threads on Linux.
public enum S3Date {
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    static func civil(_ z: Int) -> (year: Int, month: Int, day: Int) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    public static func http(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let day = Int((Double(seconds) / 86400).rounded(.down))
        let (y, m, d) = civil(day)
        let rem = seconds - day * 86400
        let weekday = days[((day % 7) + 7) % 7]
        return "\(weekday), \(two(d)) \(months[m - 1]) \(y) \(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60)) GMT"
    }

    public static func iso(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = Int(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        let ms = Int(millis - Int64(seconds) * 1000)
        let day = Int((Double(seconds) / 86400).rounded(.down))
        let (y, m, d) = civil(day)
        let rem = seconds - day * 86400
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60)).\(msText)Z"
    }

    /// Parses IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 and asctime forms are
    /// not sent by S3 clients; ISO 8601 (`2024-01-02T03:04:05Z`) is accepted too.
    public static func parse(_ text: String) -> Date? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let comma = t.firstIndex(of: ",") {
            let parts = t[t.index(after: comma)...].split(separator: " ")
            guard parts.count == 5, let d = Int(parts[0]), let m = months.firstIndex(of: String(parts[1])), let y = Int(parts[2]),
                  parts[4] == "GMT" || parts[4] == "UTC" else { return nil }
            let hms = parts[3].split(separator: ":")
            guard hms.count == 3, let hh = Int(hms[0]), let mm = Int(hms[1]), let ss = Int(hms[2]) else { return nil }
            return Date(timeIntervalSince1970: Double(daysFromCivil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss))
        }
        // ISO 8601: YYYY-MM-DDTHH:MM:SS(.fff)Z
        let u = Array(t.utf8)
        guard u.count >= 20, u[4] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"), u.last == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int? { Int(String(decoding: u[r], as: UTF8.self)) }
        guard let y = num(0..<4), let m = num(5..<7), let d = num(8..<10), let hh = num(11..<13), let mm = num(14..<16), let ss = num(17..<19) else { return nil }
        var fraction = 0.0
        if u.count > 21, u[19] == UInt8(ascii: ".") { fraction = Double("0." + String(decoding: u[20..<(u.count - 1)], as: UTF8.self)) ?? 0 }
        return Date(timeIntervalSince1970: Double(daysFromCivil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss) + fraction)
    }
}
