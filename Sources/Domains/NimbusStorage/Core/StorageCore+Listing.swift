import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusPostgres

extension StorageCore {
    /// ListObjects (V1 and V2): latest versions that are not delete markers, rolled up by the
    /// delimiter. `after` is the exclusive start (marker, start-after or the token's key).
    public func listObjects(_ caller: Principal?, bucket name: String, prefix: String, delimiter: String?, after: String?,
                            maxKeys: Int) async throws -> S3Shapes.ListResult {
        let bucket = try await authorize(caller, bucket: name, .read)
        var page = ListingAccumulator<ObjectVersion>(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: after)
        guard maxKeys > 0 else { return S3Shapes.ListResult(objects: [], commonPrefixes: [], isTruncated: false, next: nil) }
        var cursorAfter = after.map { $0 < prefix ? nil : $0 } ?? nil
        var cursorFrom: String? = nil
        let batch = min(maxKeys + 1, 1001)
        reading: while true {
            let rows = try await read { try await ObjectStore.listLatest($0, bucketID: bucket.id, prefix: prefix, after: cursorAfter, from: cursorFrom, limit: batch) }
            if rows.isEmpty { break }
            for row in rows {
                switch page.feed(key: row.key, item: row) {
                case .next:
                    cursorAfter = row.key
                    cursorFrom = nil
                case .seek(let bound):
                    cursorAfter = nil
                    cursorFrom = bound
                    continue reading
                case .done:
                    break reading
                }
            }
            if rows.count < batch { break }
        }
        return Self.result(page)
    }

    static func result(_ page: ListingAccumulator<ObjectVersion>) -> S3Shapes.ListResult {
        var objects: [ObjectVersion] = []
        var prefixes: [String] = []
        for entry in page.entries {
            switch entry {
            case .item(let object): objects.append(object)
            case .commonPrefix(let prefix): prefixes.append(prefix)
            }
        }
        return S3Shapes.ListResult(objects: objects, commonPrefixes: prefixes, isTruncated: page.isTruncated, next: page.last,
                                   nextVersionID: objects.last.map(\.versionID))
    }

    /// ListObjectVersions: every version and delete marker, newest first per key.
    public func listVersions(_ caller: Principal?, bucket name: String, prefix: String, delimiter: String?, keyMarker: String?,
                             versionIDMarker: String?, maxKeys: Int) async throws -> S3Shapes.ListResult {
        let bucket = try await authorize(caller, bucket: name, .read)
        guard maxKeys > 0 else { return S3Shapes.ListResult(objects: [], commonPrefixes: [], isTruncated: false, next: nil) }
        var afterRowID: Int64? = nil
        if let keyMarker, let versionIDMarker, !versionIDMarker.isEmpty {
            guard let marker = try await read({ try await ObjectStore.version($0, bucketID: bucket.id, key: keyMarker, versionID: versionIDMarker) }) else {
                throw S3Error.invalidArgument("Invalid version id specified")
            }
            afterRowID = marker.id
        }
        var page = ListingAccumulator<ObjectVersion>(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: afterRowID == nil ? keyMarker : nil)
        var cursorKey = keyMarker.flatMap { $0.isEmpty ? nil : $0 }
        var cursorRow = afterRowID
        var cursorFrom: String? = nil
        let batch = min(maxKeys + 1, 1001)
        var lastVersion: ObjectVersion?
        reading: while true {
            let rows = try await read {
                try await ObjectStore.listVersions($0, bucketID: bucket.id, prefix: prefix, afterKey: cursorKey, afterRowID: cursorRow, from: cursorFrom, limit: batch)
            }
            if rows.isEmpty { break }
            for row in rows {
                switch page.feed(key: row.key, item: row) {
                case .next:
                    cursorKey = row.key
                    cursorRow = row.id
                    cursorFrom = nil
                    lastVersion = row
                case .seek(let bound):
                    cursorKey = nil
                    cursorRow = nil
                    cursorFrom = bound
                    continue reading
                case .done:
                    break reading
                }
            }
            if rows.count < batch { break }
        }
        var result = Self.result(page)
        // Versions of one key may straddle pages: the next page starts after this version.
        if page.isTruncated, case .item(let last)? = page.entries.last {
            result.next = last.key
            result.nextVersionID = last.versionID
        } else if page.isTruncated {
            result.nextVersionID = nil
        }
        _ = lastVersion
        return result
    }
}
