/// Rolls keys (in bytewise order) up into a listing page: objects, and with a delimiter the
/// common prefixes that stand for every key under them. Pure: the store feeds it rows and
/// follows `seek` to skip past a common prefix's keys without reading them.
public struct ListingAccumulator<Item: Sendable>: Sendable {
    public enum Entry: Sendable {
        case item(Item)
        case commonPrefix(String)
    }

    public enum Step: Sendable, Equatable {
        /// Keep feeding rows.
        case next
        /// Skip every key below this bound: the next read starts at `key >= from`.
        case seek(from: String)
        /// The page is full; `isTruncated` tells whether more follows.
        case done
    }

    public let prefix: String
    public let delimiter: String?
    public let maxKeys: Int
    public private(set) var entries: [Entry] = []
    public private(set) var isTruncated = false
    /// The last key or common prefix placed on the page (NextMarker / continuation).
    public private(set) var last: String?
    private var lastPrefix: String?

    /// `marker`: where the previous page ended; when it is a common prefix itself, keys under
    /// it were already summarized and are skipped.
    public init(prefix: String, delimiter: String?, maxKeys: Int, marker: String?) {
        self.prefix = prefix
        self.delimiter = (delimiter?.isEmpty ?? true) ? nil : delimiter
        self.maxKeys = maxKeys
        if let marker, let d = self.delimiter, marker.hasPrefix(prefix), marker.hasSuffix(d),
           commonPrefix(of: marker) == marker {
            lastPrefix = marker
        }
    }

    public var count: Int { entries.count }

    /// The common prefix `key` rolls up into, if any.
    public func commonPrefix(of key: String) -> String? {
        guard let delimiter, key.hasPrefix(prefix) else { return nil }
        let bytes = Array(key.utf8)
        let d = Array(delimiter.utf8)
        var i = prefix.utf8.count
        while i + d.count <= bytes.count {
            if bytes[i] == d[0] && bytes[i..<(i + d.count)].elementsEqual(d) {
                return String(decoding: bytes[..<(i + d.count)], as: UTF8.self)
            }
            i += 1
        }
        return nil
    }

    /// Feeds the next row (keys ascending; versions of one key consecutive).
    public mutating func feed(key: String, item: Item) -> Step {
        if let cp = commonPrefix(of: key) {
            if cp == lastPrefix { return Self.seekBound(cp).map { .seek(from: $0) } ?? .next }
            guard entries.count < maxKeys else {
                isTruncated = true
                return .done
            }
            entries.append(.commonPrefix(cp))
            lastPrefix = cp
            last = cp
            return Self.seekBound(cp).map { .seek(from: $0) } ?? .next
        }
        guard entries.count < maxKeys else {
            isTruncated = true
            return .done
        }
        entries.append(.item(item))
        last = key
        return .next
    }

    /// A string greater than every key starting with `prefix` and smaller than any other key
    /// after it: the prefix with its last byte incremented, when that stays valid UTF-8 (an
    /// ASCII last byte below DEL); else nil (the caller reads through the prefix's keys).
    static func seekBound(_ prefix: String) -> String? {
        var bytes = Array(prefix.utf8)
        guard let last = bytes.last, last < 0x7E else { return nil }
        bytes[bytes.count - 1] = last + 1
        return String(decoding: bytes, as: UTF8.self)
    }
}
