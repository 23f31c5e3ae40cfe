/// An S3 error answer: the code clients switch on, a message safe to show, the HTTP status,
/// and the resource it concerns. Encoded as S3's `<Error>` document (S3XML).
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var status: Int
    public var resource: String?
    /// Extra headers the answer carries (e.g. `x-amz-delete-marker` on a 404 for a marker).
    public var headers: [(String, String)] = []

    public init(_ code: String, _ message: String, status: Int, resource: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.resource = resource
    }

    public static func == (a: S3Error, b: S3Error) -> Bool {
        a.code == b.code && a.status == b.status && a.message == b.message && a.resource == b.resource
    }

    public var description: String { "\(status) \(code): \(message)" }

    func with(resource: String) -> S3Error {
        var copy = self
        copy.resource = resource
        return copy
    }

    func with(header name: String, _ value: String) -> S3Error {
        var copy = self
        copy.headers.append((name, value))
        return copy
    }

    // The codes Nimbus answers with (AWS S3 API reference, "Error responses").
    public static func accessDenied(_ message: String = "Access Denied") -> S3Error { S3Error("AccessDenied", message, status: 403) }
    public static let noSuchBucket = S3Error("NoSuchBucket", "The specified bucket does not exist", status: 404)
    public static let noSuchKey = S3Error("NoSuchKey", "The specified key does not exist.", status: 404)
    public static let noSuchVersion = S3Error("NoSuchVersion", "The specified version does not exist.", status: 404)
    public static let noSuchUpload = S3Error("NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", status: 404)
    public static let noSuchTagSet = S3Error("NoSuchTagSet", "The TagSet does not exist", status: 404)
    public static let noSuchLifecycle = S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", status: 404)
    public static let noSuchBucketPolicy = S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", status: 404)
    public static let bucketAlreadyExists = S3Error("BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.", status: 409)
    public static let bucketAlreadyOwnedByYou = S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", status: 409)
    public static let bucketNotEmpty = S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", status: 409)
    public static func invalidBucketName(_ why: String) -> S3Error { S3Error("InvalidBucketName", "The specified bucket is not valid: \(why)", status: 400) }
    public static func invalidArgument(_ message: String) -> S3Error { S3Error("InvalidArgument", message, status: 400) }
    public static func invalidRequest(_ message: String) -> S3Error { S3Error("InvalidRequest", message, status: 400) }
    public static let malformedXML = S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", status: 400)
    public static let preconditionFailed = S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", status: 412)
    public static let notModified = S3Error("NotModified", "Not Modified", status: 304)
    public static let invalidRange = S3Error("InvalidRange", "The requested range is not satisfiable", status: 416)
    public static let invalidPart = S3Error("InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", status: 400)
    public static let invalidPartOrder = S3Error("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", status: 400)
    public static let entityTooSmall = S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", status: 400)
    public static let entityTooLarge = S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", status: 400)
    public static let badDigest = S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", status: 400)
    public static let invalidDigest = S3Error("InvalidDigest", "The Content-MD5 you specified is not valid.", status: 400)
    public static func checksumMismatch(_ algorithm: String) -> S3Error {
        S3Error("BadDigest", "The \(algorithm) you specified did not match the calculated checksum.", status: 400)
    }
    public static let incompleteBody = S3Error("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", status: 400)
    public static let missingContentLength = S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.", status: 411)
    public static let methodNotAllowed = S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", status: 405)
    public static func notImplemented(_ what: String) -> S3Error { S3Error("NotImplemented", "\(what) is not implemented", status: 501) }
    public static let internalError = S3Error("InternalError", "We encountered an internal error. Please try again.", status: 500)
    public static let serviceUnavailable = S3Error("ServiceUnavailable", "Please reduce your request rate.", status: 503)
    public static let slowDown = S3Error("SlowDown", "Please reduce your request rate.", status: 503)
    /// A full disk: nothing was stored, retry later (507 Insufficient Storage maps badly in
    /// clients; S3 has no such case, so a retryable 503 with its own code).
    public static let insufficientStorage = S3Error("InsufficientStorage", "The server does not have enough free space to store the object; nothing was stored.", status: 503)
    public static let quotaExceeded = S3Error("QuotaExceeded", "The tenant's storage quota does not allow this request.", status: 403)
    public static let tooManyBuckets = S3Error("TooManyBuckets", "You have attempted to create more buckets than allowed.", status: 400)
    public static let invalidObjectState = S3Error("InvalidObjectState", "The operation is not valid for the object's state.", status: 403)
    public static let keyTooLong = S3Error("KeyTooLongError", "Your key is too long", status: 400)
    public static let metadataTooLarge = S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", status: 400)
    public static let invalidStorageClass = S3Error("InvalidStorageClass", "The storage class you specified is not valid", status: 400)
    public static let illegalVersioningConfiguration = S3Error("IllegalVersioningConfigurationException", "The versioning configuration specified in the request is invalid.", status: 400)
    public static let invalidTag = S3Error("InvalidTag", "The tag provided was not a valid tag.", status: 400)
}
