import Foundation
import NimbusPlatform
import Testing
@testable import NimbusStorage

@Suite("S3 protocol: pure parts")
struct S3ProtocolTests {
    @Test("checksums match their published check values for \"123456789\"")
    func checkValues() {
        let input = Array("123456789".utf8)
        #expect(CRC32.checksum(input) == 0xCBF4_3926)
        #expect(CRC32C.checksum(input) == 0xE306_9283)
        var crc64 = CRC64NVME()
        input.withUnsafeBytes { crc64.update($0) }
        #expect(crc64.value == 0xAE8B_1486_0A79_9888)
        #expect(Hex.encode(StreamingDigest.hash(.md5, input)) == "25f9e794323b453885f5181f1b624d0b")
        #expect(Hex.encode(StreamingDigest.hash(.sha1, input)) == "f7c3bc1d808e04732adf679965ccc34ca7ae3441")
    }

    @Test("incremental hashing in uneven chunks equals one-shot hashing")
    func incremental() {
        let data = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = ObjectHasher(Set(ChecksumAlgorithm.allCases))
        whole.update(data)
        let pieces = ObjectHasher(Set(ChecksumAlgorithm.allCases))
        var offset = 0
        for size in [1, 7, 8, 9, 4096, 65_537] where offset < data.count {
            let end = min(data.count, offset + size)
            pieces.update(data[offset..<end])
            offset = end
        }
        pieces.update(data[offset...])
        let a = whole.finalize(), b = pieces.finalize()
        #expect(a.md5 == b.md5)
        #expect(a.checksums == b.checksums)
        #expect(a.checksums["CRC32"] == Data(withUnsafeBytes(of: CRC32.checksum(data).bigEndian) { Array($0) }).base64EncodedString())
    }

    @Test("bucket names follow S3's rules", arguments: [
        ("my-bucket", true), ("a.b.c", true), ("abc", true), (String(repeating: "a", count: 63), true),
        ("ab", false), (String(repeating: "a", count: 64), false), ("My-Bucket", false), ("-abc", false), ("abc-", false),
        ("a..b", false), ("192.168.5.4", false), ("xn--abc", false), ("abc-s3alias", false), ("a_b", false), ("a.-b", false),
    ])
    func bucketNames(name: String, valid: Bool) {
        #expect((BucketName.problem(name) == nil) == valid, "\(name): \(BucketName.problem(name) ?? "valid")")
    }

    @Test("Range headers resolve against the length")
    func ranges() throws {
        #expect(try S3Range.resolve("bytes=0-9", length: 100) == .partial(0...9))
        #expect(try S3Range.resolve("bytes=90-", length: 100) == .partial(90...99))
        #expect(try S3Range.resolve("bytes=-10", length: 100) == .partial(90...99))
        #expect(try S3Range.resolve("bytes=-500", length: 100) == .partial(0...99))
        #expect(try S3Range.resolve("bytes=50-500", length: 100) == .partial(50...99))
        #expect(try S3Range.resolve(nil, length: 100) == .whole)
        #expect(try S3Range.resolve("bytes=0-1,5-6", length: 100) == .whole, "several ranges: S3 sends the whole object")
        #expect(try S3Range.resolve("items=0-1", length: 100) == .whole)
        #expect(throws: S3Error.invalidRange) { try S3Range.resolve("bytes=100-", length: 100) }
        #expect(throws: S3Error.invalidRange) { try S3Range.resolve("bytes=0-0", length: 0) }
    }

    @Test("conditional reads: If-Match/If-Unmodified-Since → 412, If-None-Match/If-Modified-Since → 304")
    func readConditions() {
        let etag = "\"abc\""
        let modified = Date(timeIntervalSince1970: 1_700_000_000.4)
        #expect(S3Conditions(ifMatch: "\"abc\"").evaluateRead(etag: etag, lastModified: modified) == nil)
        #expect(S3Conditions(ifMatch: "\"zzz\"").evaluateRead(etag: etag, lastModified: modified) == .preconditionFailed)
        #expect(S3Conditions(ifMatch: "*").evaluateRead(etag: etag, lastModified: modified) == nil)
        #expect(S3Conditions(ifNoneMatch: "abc").evaluateRead(etag: etag, lastModified: modified) == .notModified)
        #expect(S3Conditions(ifModifiedSince: Date(timeIntervalSince1970: 1_700_000_000)).evaluateRead(etag: etag, lastModified: modified) == .notModified)
        #expect(S3Conditions(ifModifiedSince: Date(timeIntervalSince1970: 1_699_999_999)).evaluateRead(etag: etag, lastModified: modified) == nil)
        #expect(S3Conditions(ifUnmodifiedSince: Date(timeIntervalSince1970: 1_699_999_999)).evaluateRead(etag: etag, lastModified: modified) == .preconditionFailed)
        // If-Match holding overrides a failing If-Unmodified-Since (RFC 9110 §13.2.2).
        #expect(S3Conditions(ifMatch: etag, ifUnmodifiedSince: Date(timeIntervalSince1970: 0)).evaluateRead(etag: etag, lastModified: modified) == nil)
        #expect(S3Conditions(ifMatch: "\"zzz\"").evaluateCopySource(etag: etag, lastModified: modified) == .preconditionFailed)
    }

    @Test("conditional writes: If-None-Match: * fails on an existing object, If-Match needs one")
    func writeConditions() {
        let current = (etag: "\"abc\"", lastModified: Date())
        #expect(S3Conditions(ifNoneMatch: "*").evaluateWrite(current: current) == .preconditionFailed)
        #expect(S3Conditions(ifNoneMatch: "*").evaluateWrite(current: nil) == nil)
        #expect(S3Conditions(ifMatch: "\"abc\"").evaluateWrite(current: current) == nil)
        #expect(S3Conditions(ifMatch: "\"abd\"").evaluateWrite(current: current) == .preconditionFailed)
        #expect(S3Conditions(ifMatch: "\"abc\"").evaluateWrite(current: nil) == .noSuchKey)
    }

    @Test("dates in S3's two forms, both ways")
    func dates() {
        let date = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(S3Date.http(date) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(S3Date.parse("Sun, 06 Nov 1994 08:49:37 GMT") == date)
        #expect(S3Date.iso(Date(timeIntervalSince1970: 1_700_000_000.123)) == "2023-11-14T22:13:20.123Z")
        #expect(S3Date.parse("2023-11-14T22:13:20.000Z") == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(S3Date.parse("yesterday") == nil)
    }

    @Test("multipart ETag is the MD5 of the parts' MD5s with -N")
    func multipartETag() {
        let a = StreamingDigest.hash(.md5, Array("a".utf8)), b = StreamingDigest.hash(.md5, Array("b".utf8))
        let expected = Hex.encode(StreamingDigest.hash(.md5, a + b))
        #expect(ETag.multipart(partETags: [ETag.single(md5: a), ETag.single(md5: b)]) == "\"\(expected)-2\"")
    }

    @Test("CompleteMultipartUpload parts: order, ETags and the 5 MiB minimum except the last")
    func multipartValidation() throws {
        func part(_ n: Int, _ size: Int64) -> UploadedPart {
            UploadedPart(number: n, size: size, etag: "\"e\(n)\"", checksums: ["CRC32": "c\(n)"], blob: "b\(n)", createdAt: Date())
        }
        let uploaded = [1: part(1, 5 << 20), 2: part(2, 5 << 20), 3: part(3, 1)]
        func req(_ n: Int, etag: String? = nil, crc: String? = nil) -> S3Shapes.CompletedPart {
            S3Shapes.CompletedPart(number: n, etag: etag ?? "e\(n)", checksums: crc.map { ["CRC32": $0] } ?? [:])
        }
        #expect(try MultipartRules.validate([req(1), req(2), req(3)], uploaded: uploaded).map(\.number) == [1, 2, 3])
        #expect(try MultipartRules.validate([req(1), req(3)], uploaded: uploaded).map(\.number) == [1, 3])
        #expect(throws: S3Error.invalidPartOrder) { try MultipartRules.validate([req(2), req(1)], uploaded: uploaded) }
        #expect(throws: S3Error.invalidPart) { try MultipartRules.validate([req(1), req(4)], uploaded: uploaded) }
        #expect(throws: S3Error.invalidPart) { try MultipartRules.validate([req(1, etag: "nope")], uploaded: uploaded) }
        #expect(throws: S3Error.invalidPart) { try MultipartRules.validate([req(1, crc: "other")], uploaded: uploaded) }
        let small = [3: part(3, 1), 4: part(4, 1)]
        #expect(throws: S3Error.entityTooSmall) { try MultipartRules.validate([req(3), req(4)], uploaded: small) }
    }

    @Test("routing: path style, virtual host style, sub-resources")
    func routing() throws {
        func route(_ method: String, _ target: String, host: String = "127.0.0.1:7003") throws -> S3Route {
            let q = target.firstIndex(of: "?")
            return try S3Route.resolve(method: method, host: host, path: q.map { target[..<$0] } ?? target[...],
                                       rawQuery: q.map { target[target.index(after: $0)...] }, baseDomains: ["s3.localhost"])
        }
        #expect(try route("GET", "/").operation == .listBuckets)
        #expect(try route("PUT", "/b1").operation == .createBucket)
        #expect(try route("GET", "/b1?list-type=2&prefix=a%2Fb").operation == .listObjectsV2)
        #expect(try route("GET", "/b1?list-type=2&prefix=a%2Fb").query["prefix"] == "a/b")
        #expect(try route("GET", "/b1?versions").operation == .listObjectVersions)
        #expect(try route("POST", "/b1?delete").operation == .deleteObjects)
        let object = try route("GET", "/b1/dir/with%20space/%E2%82%AC.txt")
        #expect(object.operation == .getObject && object.bucket == "b1" && object.key == "dir/with space/€.txt")
        #expect(try route("GET", "/b1/a//b").key == "a//b")
        #expect(try route("POST", "/b1/k?uploads").operation == .createMultipartUpload)
        #expect(try route("PUT", "/b1/k?partNumber=2&uploadId=x").operation == .uploadPart)
        #expect(try route("POST", "/b1/k?uploadId=x").operation == .completeMultipartUpload)
        #expect(try route("DELETE", "/b1/k?uploadId=x").operation == .abortMultipartUpload)
        #expect(try route("GET", "/b1/k?uploadId=x").operation == .listParts)
        let virtual = try route("GET", "/some/key", host: "b2.s3.localhost:7003")
        #expect(virtual.bucket == "b2" && virtual.key == "some/key" && virtual.operation == .getObject)
        #expect(try route("GET", "/?versioning", host: "b2.s3.localhost").operation == .getBucketVersioning)
        #expect(throws: S3Error.self) { try route("GET", "/b1?cors") }
    }

    @Test("XML: parses request documents, refuses malformed ones, escapes answers")
    func xml() throws {
        let doc = Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
              <Object><Key>a &amp; b &lt;c&gt; &#x20AC;</Key><VersionId>v1</VersionId></Object>
              <Object><Key><![CDATA[x<y]]></Key></Object>
            </Delete>
            """.utf8)
        let request = try S3Shapes.parseDelete(doc)
        #expect(request.quiet)
        #expect(request.objects.map(\.key) == ["a & b <c> €", "x<y"])
        #expect(request.objects.map(\.versionID) == ["v1", nil])
        #expect(throws: S3Error.malformedXML) { try S3Shapes.parseDelete(Array("<Delete><Object><Key>a</Key></Delete>".utf8)) }
        #expect(throws: S3Error.malformedXML) { try S3Shapes.parseDelete(Array("<Delete></Delete>".utf8)) }
        #expect(throws: S3Error.malformedXML) { try S3Shapes.parseDelete(Array("not xml".utf8)) }
        #expect(XMLWriter.escape("a<b>&\"'\n\u{1}") == "a&lt;b&gt;&amp;&quot;&apos;&#10;&#1;")
        let roundTrip = try XMLNode.parse(Array("<K>\(XMLWriter.escape("tab\there\r\nnul-ish\u{7} €"))</K>".utf8))
        #expect(roundTrip.text == "tab\there\r\nnul-ish\u{7} €")
        let complete = try S3Shapes.parseCompleteMultipart(Array("""
            <CompleteMultipartUpload><Part><ETag>"e1"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>
            """.utf8))
        #expect(complete == [S3Shapes.CompletedPart(number: 1, etag: "\"e1\"", checksums: ["CRC32": "AAAAAA=="])])
        #expect(try S3Shapes.parseVersioning(Array("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>".utf8)) == .suspended)
    }

    @Test("listing: delimiters roll keys into common prefixes; a page ends where S3's does")
    func listing() {
        func run(_ keys: [String], prefix: String = "", delimiter: String? = "/", maxKeys: Int, marker: String? = nil) -> ([String], Bool) {
            var page = ListingAccumulator<String>(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: marker)
            var i = 0
            let sorted = keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.filter { $0.hasPrefix(prefix) && (marker == nil || $0 > marker!) }
            loop: while i < sorted.count {
                switch page.feed(key: sorted[i], item: sorted[i]) {
                case .next: i += 1
                case .seek(let bound): while i < sorted.count && sorted[i] < bound { i += 1 }
                case .done: break loop
                }
            }
            return (page.entries.map { entry in
                switch entry {
                case .item(let key): key
                case .commonPrefix(let p): "P:" + p
                }
            }, page.isTruncated)
        }
        let keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d"]
        #expect(run(keys, maxKeys: 10) == (["P:a/", "b", "P:c/", "d"], false))
        #expect(run(keys, maxKeys: 2) == (["P:a/", "b"], true))
        #expect(run(keys, maxKeys: 4) == (["P:a/", "b", "P:c/", "d"], false))
        #expect(run(keys, maxKeys: 3) == (["P:a/", "b", "P:c/"], true))
        #expect(run(keys, maxKeys: 10, marker: "a/") == (["b", "P:c/", "d"], false), "a marker that is a prefix skips its keys")
        #expect(run(keys, prefix: "c/", maxKeys: 10) == (["P:c/x/", "c/y"], false))
        #expect(run(keys, delimiter: nil, maxKeys: 10).0 == keys)
        #expect(run(["a-b-c", "a-b-d", "a-c"], delimiter: "-b", maxKeys: 10) == (["P:a-b", "a-c"], false), "multi-character delimiters")
        #expect(run(["x€1", "x€2", "y"], delimiter: "€", maxKeys: 10) == (["P:x€", "y"], false), "a non-ASCII delimiter reads through")
    }

    @Test("copy source header forms")
    func copySource() throws {
        #expect(try S3Handler.copySource("src/dir/k%20y") == ("src", "dir/k y", nil))
        #expect(try S3Handler.copySource("/src/k?versionId=abc") == ("src", "k", "abc"))
        #expect(throws: S3Error.self) { try S3Handler.copySource("onlybucket") }
    }
}
