import Foundation
import NimbusHTTP
import NimbusPlatform
import NimbusPostgres
import Testing
@testable import NimbusStorage

/// The S3 face over the core, a real PostgreSQL and a real data directory: what S3 clients
/// see, request by request (sockets and SigV4 are covered by the Python suite).
@Suite(.serialized) struct S3FaceTests {
    static func bytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) } }

    @Test func bucketsAreTenantOwnedNamedGloballyAndDeletedOnlyEmpty() async throws {
        let h = try await StorageHarness.start()
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal(), bob = StorageHarness.principal()
        #expect(await h.send(alice, "PUT", "/team-a").status == 200)
        #expect(h.quota.used(alice.tenantID).buckets == 1)
        #expect(await h.send(alice, "PUT", "/team-a").errorCode == "BucketAlreadyOwnedByYou")
        let taken = await h.send(bob, "PUT", "/team-a")
        #expect(taken.status == 409 && taken.errorCode == "BucketAlreadyExists")
        #expect(await h.send(alice, "PUT", "/Bad_Name").errorCode == "InvalidBucketName")
        #expect(await h.send(alice, "HEAD", "/team-a").status == 200)
        #expect(await h.send(bob, "HEAD", "/team-a").status == 403, "another tenant cannot see into it")
        #expect(await h.send(bob, "GET", "/team-a?list-type=2").errorCode == "AccessDenied")
        #expect(await h.send(nil, "GET", "/team-a?list-type=2").errorCode == "AccessDenied", "anonymous: private by default")
        #expect(await h.send(alice, "GET", "/missing-bucket/k").errorCode == "NoSuchBucket")
        let list = try await h.send(alice, "GET", "/").xml()
        #expect(list.child("Buckets")?.children("Bucket").compactMap { $0.value("Name") } == ["team-a"])
        #expect(try await h.send(bob, "GET", "/").xml().child("Buckets")?.children.isEmpty == true)

        #expect(await h.send(alice, "PUT", "/team-a/k", body: [1, 2, 3]).status == 200)
        #expect(await h.send(alice, "DELETE", "/team-a").errorCode == "BucketNotEmpty")
        #expect(await h.send(alice, "DELETE", "/team-a/k").status == 204)
        #expect(await h.send(alice, "DELETE", "/team-a").status == 204)
        #expect(await h.send(alice, "HEAD", "/team-a").status == 404)
        #expect(h.quota.used(alice.tenantID).buckets == 0, "deleting releases the bucket's quota")
        let actions = try await h.pool.query("SELECT payload->>'action' AS action FROM storage.outbox WHERE topic = 'audit' ORDER BY id").map { try $0.decode(String.self, column: "action") }
        #expect(actions == ["bucket.create", "object.delete", "bucket.delete"])
        let viewer = StorageHarness.principal(tenant: alice.tenantID, permissions: [.bucketRead])
        #expect(await h.send(viewer, "PUT", "/viewer-bucket").errorCode == "AccessDenied")
    }

    @Test func objectsRoundTripWithMetadataRangesAndConditions() async throws {
        let h = try await StorageHarness.start()
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal()
        _ = await h.send(alice, "PUT", "/objs")
        let data = Self.bytes(300_000)
        let md5 = Data(StreamingDigest.hash(.md5, data)).base64EncodedString()
        let crc = Data(withUnsafeBytes(of: CRC32.checksum(data).bigEndian) { Array($0) }).base64EncodedString()
        let put = await h.send(alice, "PUT", "/objs/dir/naïve%20file.bin", headers: [
            ("content-type", "application/x-test"), ("content-md5", md5), ("x-amz-checksum-crc32", crc),
            ("x-amz-meta-Greeting", "grüße"), ("cache-control", "max-age=60"),
        ], body: data)
        #expect(put.status == 200, "\(put.text)")
        #expect(put.headers["etag"] == "\"\(Hex.encode(StreamingDigest.hash(.md5, data)))\"")
        #expect(put.headers["x-amz-checksum-crc32"] == crc)

        let get = await h.send(alice, "GET", "/objs/dir/na%C3%AFve%20file.bin", headers: [("x-amz-checksum-mode", "ENABLED")])
        #expect(get.status == 200 && get.body == data)
        #expect(get.headers["content-type"] == "application/x-test")
        #expect(get.headers["x-amz-meta-greeting"] == "grüße")
        #expect(get.headers["cache-control"] == "max-age=60")
        #expect(get.headers["x-amz-checksum-crc32"] == crc)
        #expect(get.headers["content-length"] == "300000")

        let range = await h.send(alice, "GET", "/objs/dir/naïve%20file.bin", headers: [("range", "bytes=100-199")])
        #expect(range.status == 206 && range.body == Array(data[100...199]))
        #expect(range.headers["content-range"] == "bytes 100-199/300000")
        let unsatisfiable = await h.send(alice, "GET", "/objs/dir/naïve%20file.bin", headers: [("range", "bytes=400000-")])
        #expect(unsatisfiable.status == 416 && unsatisfiable.errorCode == "InvalidRange")
        let etag = put.headers["etag"]!
        #expect(await h.send(alice, "GET", "/objs/dir/naïve%20file.bin", headers: [("if-none-match", etag)]).status == 304)
        #expect(await h.send(alice, "GET", "/objs/dir/naïve%20file.bin", headers: [("if-match", "\"nope\"")]).status == 412)
        let head = await h.send(alice, "HEAD", "/objs/dir/naïve%20file.bin")
        #expect(head.status == 200 && head.body.isEmpty && head.headers["content-length"] == "300000")

        // Integrity: a wrong Content-MD5 or checksum stores nothing.
        let files = h.blobFiles().count
        #expect(await h.send(alice, "PUT", "/objs/bad", headers: [("content-md5", md5)], body: [1]).errorCode == "BadDigest")
        #expect(await h.send(alice, "PUT", "/objs/bad", headers: [("x-amz-checksum-crc32", crc)], body: [1]).errorCode == "BadDigest")
        #expect(await h.send(alice, "PUT", "/objs/bad", headers: [("x-amz-checksum-crc32", "!!")], body: [1]).errorCode == "InvalidRequest")
        #expect(await h.send(alice, "GET", "/objs/bad").errorCode == "NoSuchKey")
        #expect(h.blobFiles().count == files, "refused bodies leave no bytes behind")

        // Conditional writes.
        #expect(await h.send(alice, "PUT", "/objs/dir/naïve%20file.bin", headers: [("if-none-match", "*")], body: [9]).status == 412)
        #expect(await h.send(alice, "PUT", "/objs/new", headers: [("if-none-match", "*")], body: [9]).status == 200)
        #expect(await h.send(alice, "PUT", "/objs/new", headers: [("if-match", "\"0000\"")], body: [8]).status == 412)
        #expect(await h.send(alice, "PUT", "/objs/absent", headers: [("if-match", etag)], body: [8]).errorCode == "NoSuchKey")
        #expect(await h.send(alice, "GET", "/objs/new").body == [9])

        // Overwrite: the last write wins, the replaced bytes go to the janitor.
        #expect(await h.send(alice, "PUT", "/objs/new", body: [7, 7]).status == 200)
        #expect(await h.send(alice, "GET", "/objs/new").body == [7, 7])
        let pending = try await h.pool.query("SELECT count(*)::bigint AS n FROM storage.blob_tombstones").first!.decode(Int64.self, column: "n")
        #expect(pending >= 1)

        // Server-side copy, with metadata kept or replaced.
        let copy = await h.send(alice, "PUT", "/objs/copy", headers: [("x-amz-copy-source", "/objs/dir/na%C3%AFve%20file.bin")])
        #expect(copy.status == 200, "\(copy.text)")
        #expect(try copy.xml().value("ETag") == etag)
        let copied = await h.send(alice, "GET", "/objs/copy")
        #expect(copied.body == data && copied.headers["x-amz-meta-greeting"] == "grüße")
        let replaced = await h.send(alice, "PUT", "/objs/copy2", headers: [
            ("x-amz-copy-source", "objs/copy"), ("x-amz-metadata-directive", "REPLACE"), ("x-amz-meta-other", "1"),
        ])
        #expect(replaced.status == 200)
        let copy2 = await h.send(alice, "HEAD", "/objs/copy2")
        #expect(copy2.headers["x-amz-meta-other"] == "1" && copy2.headers["x-amz-meta-greeting"] == nil)
        #expect(await h.send(alice, "PUT", "/objs/copy", headers: [("x-amz-copy-source", "objs/copy")]).errorCode == "InvalidRequest")

        // DeleteObjects with a CRC32 checksum instead of Content-MD5 (current boto3).
        let xml = Array("<Delete><Object><Key>copy</Key></Object><Object><Key>never-existed</Key></Object></Delete>".utf8)
        let xmlCRC = Data(withUnsafeBytes(of: CRC32.checksum(xml).bigEndian) { Array($0) }).base64EncodedString()
        let deleted = await h.send(alice, "POST", "/objs?delete", headers: [("x-amz-checksum-crc32", xmlCRC)], body: xml)
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(try deleted.xml().children("Deleted").compactMap { $0.value("Key") } == ["copy", "never-existed"])
        #expect(await h.send(alice, "GET", "/objs/copy").errorCode == "NoSuchKey")
        #expect(await h.send(alice, "GET", "/objs/copy2").body == data, "the shared bytes stay while a copy references them")
    }

    @Test func versioningKeepsVersionsAndDeleteMarkers() async throws {
        let h = try await StorageHarness.start()
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal()
        _ = await h.send(alice, "PUT", "/vers")
        _ = await h.send(alice, "PUT", "/vers/k", body: [0])  // before versioning: the null version
        let enable = Array("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>".utf8)
        #expect(await h.send(alice, "PUT", "/vers?versioning", body: enable).status == 200)
        #expect(try await h.send(alice, "GET", "/vers?versioning").xml().value("Status") == "Enabled")
        let v1 = await h.send(alice, "PUT", "/vers/k", body: [1])
        let v2 = await h.send(alice, "PUT", "/vers/k", body: [2])
        let id1 = try #require(v1.headers["x-amz-version-id"]), id2 = try #require(v2.headers["x-amz-version-id"])
        #expect(id1 != id2)
        #expect(await h.send(alice, "GET", "/vers/k").body == [2])
        #expect(await h.send(alice, "GET", "/vers/k?versionId=\(id1)").body == [1])
        #expect(await h.send(alice, "GET", "/vers/k?versionId=null").body == [0])

        let delete = await h.send(alice, "DELETE", "/vers/k")
        #expect(delete.status == 204 && delete.headers["x-amz-delete-marker"] == "true")
        let markerID = try #require(delete.headers["x-amz-version-id"])
        let gone = await h.send(alice, "GET", "/vers/k")
        #expect(gone.status == 404 && gone.headers["x-amz-delete-marker"] == "true")
        #expect(await h.send(alice, "GET", "/vers/k?versionId=\(markerID)").status == 405)
        #expect(try await h.send(alice, "GET", "/vers?list-type=2").xml().children("Contents").isEmpty)

        let versions = try await h.send(alice, "GET", "/vers?versions").xml()
        #expect(versions.children("Version").compactMap { $0.value("VersionId") } == [id2, id1, "null"])
        #expect(versions.children("DeleteMarker").first?.value("IsLatest") == "true")

        // Deleting the marker brings the object back.
        #expect(await h.send(alice, "DELETE", "/vers/k?versionId=\(markerID)").headers["x-amz-delete-marker"] == "true")
        #expect(await h.send(alice, "GET", "/vers/k").body == [2])

        // Suspended: new writes are the null version, replacing the earlier null one.
        let suspend = Array("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>".utf8)
        _ = await h.send(alice, "PUT", "/vers?versioning", body: suspend)
        let nullPut = await h.send(alice, "PUT", "/vers/k", body: [3])
        #expect(nullPut.headers["x-amz-version-id"] == nil || nullPut.headers["x-amz-version-id"] == "null")
        let after = try await h.send(alice, "GET", "/vers?versions").xml()
        #expect(after.children("Version").compactMap { $0.value("VersionId") } == ["null", id2, id1])
        #expect(await h.send(alice, "GET", "/vers/k?versionId=null").body == [3])
    }

    @Test func listsPaginateWithPrefixDelimiterAndTokens() async throws {
        let h = try await StorageHarness.start()
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal()
        _ = await h.send(alice, "PUT", "/lists")
        var keys: [String] = []
        for i in 0..<1500 { keys.append("logs/\(i % 3)/file-\(String(format: "%04d", i))") }
        keys += ["top-a", "top-b", "ünïcode key", "logs/2"]
        for key in keys {
            let encoded = key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
            #expect(await h.send(alice, "PUT", "/lists/\(encoded)", body: [1]).status == 200)
        }
        // Every key once, in bytewise order, over pages of 1000 then the rest.
        var seen: [String] = []
        var token: String?
        var pages = 0
        repeat {
            let target = "/lists?list-type=2" + (token.map { "&continuation-token=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" } ?? "")
            let page = try await h.send(alice, "GET", target).xml()
            seen += page.children("Contents").compactMap { $0.value("Key") }
            token = page.value("IsTruncated") == "true" ? page.value("NextContinuationToken") : nil
            pages += 1
        } while token != nil
        #expect(pages == 2)
        #expect(seen == keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })

        let rolled = try await h.send(alice, "GET", "/lists?list-type=2&delimiter=/").xml()
        #expect(rolled.children("CommonPrefixes").compactMap { $0.value("Prefix") } == ["logs/"])
        #expect(rolled.children("Contents").compactMap { $0.value("Key") } == ["top-a", "top-b", "ünïcode key"])
        let nested = try await h.send(alice, "GET", "/lists?list-type=2&prefix=logs/&delimiter=/&max-keys=2").xml()
        #expect(nested.children("CommonPrefixes").compactMap { $0.value("Prefix") } == ["logs/0/", "logs/1/"])
        #expect(nested.value("IsTruncated") == "true" && nested.value("KeyCount") == "2")
        let rest = try await h.send(alice, "GET", "/lists?list-type=2&prefix=logs/&delimiter=/&continuation-token=\(nested.value("NextContinuationToken")!.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)").xml()
        #expect(rest.children("CommonPrefixes").compactMap { $0.value("Prefix") } == ["logs/2/"])
        #expect(rest.children("Contents").compactMap { $0.value("Key") } == ["logs/2"])
        // V1 with a marker, start-after and max-keys=0.
        let v1 = try await h.send(alice, "GET", "/lists?prefix=top&marker=top-a").xml()
        #expect(v1.children("Contents").compactMap { $0.value("Key") } == ["top-b"])
        let after = try await h.send(alice, "GET", "/lists?list-type=2&start-after=top-a&max-keys=1").xml()
        #expect(after.children("Contents").compactMap { $0.value("Key") } == ["top-b"] && after.value("IsTruncated") == "true")
        let none = try await h.send(alice, "GET", "/lists?list-type=2&max-keys=0").xml()
        #expect(none.children("Contents").isEmpty && none.value("IsTruncated") == "false")
        let encoded = try await h.send(alice, "GET", "/lists?list-type=2&prefix=%C3%BC&encoding-type=url").xml()
        #expect(encoded.children("Contents").compactMap { $0.value("Key") } == ["%C3%BCn%C3%AFcode%20key"])
    }

    @Test func multipartUploadsCompleteFromPartsAndValidateThem() async throws {
        let h = try await StorageHarness.start()
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal()
        _ = await h.send(alice, "PUT", "/mpu")
        let create = try await h.send(alice, "POST", "/mpu/big?uploads", headers: [("x-amz-checksum-algorithm", "CRC32"), ("x-amz-meta-kind", "big")]).xml()
        let uploadID = try #require(create.value("UploadId"))
        let part1 = Self.bytes(5 << 20, seed: 1), part2 = Self.bytes(1234, seed: 2)
        let r1 = await h.send(alice, "PUT", "/mpu/big?partNumber=1&uploadId=\(uploadID)", body: part1)
        let r2 = await h.send(alice, "PUT", "/mpu/big?partNumber=2&uploadId=\(uploadID)", body: part2)
        #expect(r1.status == 200 && r2.status == 200)
        let crc1 = try #require(r1.headers["x-amz-checksum-crc32"]), crc2 = try #require(r2.headers["x-amz-checksum-crc32"])
        let parts = try await h.send(alice, "GET", "/mpu/big?uploadId=\(uploadID)").xml()
        #expect(parts.children("Part").compactMap { $0.value("Size") } == ["5242880", "1234"])
        let uploads = try await h.send(alice, "GET", "/mpu?uploads").xml()
        #expect(uploads.children("Upload").compactMap { $0.value("UploadId") } == [uploadID])

        let badOrder = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\(r2.headers["etag"]!)</ETag></Part><Part><PartNumber>1</PartNumber><ETag>\(r1.headers["etag"]!)</ETag></Part></CompleteMultipartUpload>"
        #expect(await h.send(alice, "POST", "/mpu/big?uploadId=\(uploadID)", body: Array(badOrder.utf8)).errorCode == "InvalidPartOrder")
        let complete = """
            <CompleteMultipartUpload>
              <Part><PartNumber>1</PartNumber><ETag>\(r1.headers["etag"]!)</ETag><ChecksumCRC32>\(crc1)</ChecksumCRC32></Part>
              <Part><PartNumber>2</PartNumber><ETag>\(r2.headers["etag"]!)</ETag><ChecksumCRC32>\(crc2)</ChecksumCRC32></Part>
            </CompleteMultipartUpload>
            """
        let done = await h.send(alice, "POST", "/mpu/big?uploadId=\(uploadID)", body: Array(complete.utf8))
        #expect(done.status == 200, "\(done.text)")
        let etag = try #require(try done.xml().value("ETag"))
        #expect(etag.hasSuffix("-2\""))
        #expect(try done.xml().value("ChecksumCRC32")?.hasSuffix("-2") == true)
        let get = await h.send(alice, "GET", "/mpu/big")
        #expect(get.body == part1 + part2 && get.headers["etag"] == etag && get.headers["x-amz-meta-kind"] == "big")
        let second = await h.send(alice, "GET", "/mpu/big?partNumber=2")
        #expect(second.status == 206 && second.body == part2 && second.headers["x-amz-mp-parts-count"] == "2")
        #expect(await h.send(alice, "GET", "/mpu/big?uploadId=\(uploadID)").errorCode == "NoSuchUpload", "completing ends the upload")

        // Too-small parts, and aborting.
        let small = try await h.send(alice, "POST", "/mpu/small?uploads").xml().value("UploadId")!
        let s1 = await h.send(alice, "PUT", "/mpu/small?partNumber=1&uploadId=\(small)", body: [1])
        let s2 = await h.send(alice, "PUT", "/mpu/small?partNumber=2&uploadId=\(small)", body: [2])
        let smallXML = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(s1.headers["etag"]!)</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\(s2.headers["etag"]!)</ETag></Part></CompleteMultipartUpload>"
        #expect(await h.send(alice, "POST", "/mpu/small?uploadId=\(small)", body: Array(smallXML.utf8)).errorCode == "EntityTooSmall")
        #expect(await h.send(alice, "DELETE", "/mpu/small?uploadId=\(small)").status == 204)
        #expect(await h.send(alice, "PUT", "/mpu/small?partNumber=3&uploadId=\(small)", body: [3]).errorCode == "NoSuchUpload")

        // UploadPartCopy from an existing object's range.
        let pc = try await h.send(alice, "POST", "/mpu/pc?uploads").xml().value("UploadId")!
        let copied = await h.send(alice, "PUT", "/mpu/pc?partNumber=1&uploadId=\(pc)", headers: [("x-amz-copy-source", "mpu/big"), ("x-amz-copy-source-range", "bytes=0-99")])
        #expect(copied.status == 200, "\(copied.text)")
        let copyETag = try #require(try copied.xml().value("ETag"))
        let pcXML = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(copyETag)</ETag></Part></CompleteMultipartUpload>"
        #expect(await h.send(alice, "POST", "/mpu/pc?uploadId=\(pc)", body: Array(pcXML.utf8)).status == 200)
        #expect(await h.send(alice, "GET", "/mpu/pc").body == Array(part1[0...99]))
    }

    @Test func theJanitorReclaimsBytesACrashLeftBehindAndNothingElse() async throws {
        let h = try await StorageHarness.start(grace: .zero)
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal()
        _ = await h.send(alice, "PUT", "/jan")
        _ = await h.send(alice, "PUT", "/jan/keep", body: Self.bytes(1000))
        // A put that crashed after its bytes were durable but before the metadata commit: the
        // tombstone is committed first, the blob written, no row.
        let orphan = try await h.core.writeBlob(ByteSource(bytes: Self.bytes(5000)), integrity: BodyIntegrity(), maxSize: 1 << 20)
        #expect(await h.core.blobs.exists(orphan.id))
        // A write interrupted mid-way leaves a temporary file under the same id.
        let unfinished = StorageCore.newBlobID()
        _ = try await h.core.transaction { try await ObjectStore.tombstone($0, [unfinished], grace: .zero) }
        let writer = try await h.core.blobs.create(unfinished)
        try await writer.write([1, 2, 3][...])
        _ = await h.send(alice, "PUT", "/jan/overwritten", body: [1])
        _ = await h.send(alice, "PUT", "/jan/overwritten", body: [2])
        let before = h.blobFiles().count
        let janitor = StorageJanitor(core: h.core)
        let removed = try await janitor.sweepBlobs()
        #expect(removed == 3, "the orphan, the unfinished write and the overwritten version")
        #expect(!(await h.core.blobs.exists(orphan.id)))
        #expect(!FileSystem.exists(h.dataDir + "/tmp/" + unfinished))
        #expect(h.blobFiles().count == before - 2)
        #expect(await h.send(alice, "GET", "/jan/keep").body == Self.bytes(1000))
        #expect(await h.send(alice, "GET", "/jan/overwritten").body == [2])
        #expect(try await janitor.sweepBlobs() == 0)
    }

    @Test func publicReadBucketsServeAnonymousReadsOnly() async throws {
        let h = try await StorageHarness.start()
        defer { Task { await h.stop() } }
        let alice = StorageHarness.principal()
        _ = await h.send(alice, "PUT", "/pub")
        _ = await h.send(alice, "PUT", "/pub/page.html", headers: [("content-type", "text/html")], body: Array("<p>hi</p>".utf8))
        #expect(await h.send(nil, "GET", "/pub/page.html").status == 403)
        #expect(await h.send(alice, "PUT", "/pub?acl", headers: [("x-amz-acl", "public-read")]).status == 200)
        let anonymous = await h.send(nil, "GET", "/pub/page.html")
        #expect(anonymous.status == 200 && anonymous.text == "<p>hi</p>")
        #expect(await h.send(nil, "PUT", "/pub/page.html", body: [1]).status == 403, "public-read is not public-write")
        #expect(await h.send(nil, "DELETE", "/pub/page.html").status == 403)
        let policy = try await h.send(alice, "GET", "/pub?policy")
        #expect(policy.text.contains("s3:GetObject"))
        #expect(await h.send(alice, "DELETE", "/pub?policy").status == 204)
        #expect(await h.send(nil, "GET", "/pub/page.html").status == 403)
    }
}
