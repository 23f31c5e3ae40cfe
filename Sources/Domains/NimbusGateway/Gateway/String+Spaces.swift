extension String {
    func trimmingSpaces() -> String {
        // The common case, nothing to trim, copies nothing.
        guard utf8.first == 0x20 || utf8.last == 0x20 else { return self }
        return Substring(self).trimmingSpaces()
    }
}

extension Substring {
    /// Without leading and trailing spaces. Byte-wise (a space is one UTF-8 byte and never part
    /// of another character), so it costs a scan, not generic Character iteration: it runs on
    /// every request's credentials.
    func trimmingSpaces() -> String {
        let bytes = utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 { start = bytes.index(after: start) }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == 0x20 else { break }
            end = last
        }
        return String(self[start..<end])
    }
}
