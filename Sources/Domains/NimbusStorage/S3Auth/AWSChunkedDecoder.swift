import NimbusPlatform

/// Decodes an `aws-chunked` body as it arrives: a state machine fed whatever bytes the socket
/// gave (any split, one byte at a time included), answering with the payload bytes among them
/// and checking each chunk's signature when the chunk ends.
///
/// ```
/// signed:    <hex size>;chunk-signature=<sig>\r\n <data> \r\n … 0;chunk-signature=<sig>\r\n [trailers] \r\n
/// unsigned:  <hex size>\r\n <data> \r\n … 0\r\n [x-amz-checksum-crc32:<b64>\r\n …] \r\n
/// trailers (signed): … x-amz-checksum-crc32:<b64>\r\n x-amz-trailer-signature:<sig>\r\n \r\n
/// ```
/// A chunk's payload is handed out before its signature is checked (at the chunk's end), so
/// nothing may be committed before `finish()` succeeds: a consumer writes to a temporary file
/// and renames only then. Memory stays bounded by the longest framing line, not the chunk size.
public struct AWSChunkedDecoder {
    /// Longest size line or trailer line accepted (a size line with a signature is ~90 bytes).
    public static let maximumLineLength = 4_096
    /// Most trailer lines accepted.
    public static let maximumTrailers = 16

    private enum State {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailerLine
        case done
        case failed(S3AuthError)
    }

    private let signing: S3ChunkSigning?
    private let expectsTrailer: Bool
    private var state = State.sizeLine
    private var line: [UInt8] = []
    private var previousSignature: String
    private var chunkSignature: Substring = ""
    private var chunkHash: StreamingDigest?
    private var trailerText = ""
    private var trailerSignature: Substring?
    public private(set) var trailers: [(name: String, value: String)] = []
    /// Payload bytes handed out so far.
    public private(set) var decodedCount = 0

    public init(signing: S3ChunkSigning?, expectsTrailer: Bool) {
        self.signing = signing
        self.expectsTrailer = expectsTrailer
        self.previousSignature = signing?.seedSignature ?? ""
    }

    /// True once the terminating empty line arrived (the body must end there).
    public var isComplete: Bool { if case .done = state { true } else { false } }

    /// Feeds received bytes; returns the payload bytes among them, in order (slices of `bytes`).
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(S3AuthError) -> [ArraySlice<UInt8>] {
        var output: [ArraySlice<UInt8>] = []
        var index = bytes.startIndex
        do throws(S3AuthError) {
            while index < bytes.endIndex {
                switch state {
                case .failed(let error):
                    throw error
                case .done:
                    throw S3AuthError.malformedChunks("bytes after the final chunk")
                case .data(let remaining):
                    let end = min(bytes.endIndex, index + remaining)
                    let piece = bytes[index..<end]
                    chunkHash?.update(piece)
                    output.append(piece)
                    decodedCount += piece.count
                    index = end
                    if remaining == piece.count {
                        try endOfChunkData()
                        state = .dataEnd
                    } else {
                        state = .data(remaining: remaining - piece.count)
                    }
                case .sizeLine, .dataEnd, .trailerLine:
                    // Bytes up to and including the next LF join the pending line.
                    let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n"))
                    let end = newline.map { $0 + 1 } ?? bytes.endIndex
                    line.append(contentsOf: bytes[index..<end])
                    index = end
                    guard line.count <= Self.maximumLineLength else {
                        throw S3AuthError.malformedChunks("a framing line longer than \(Self.maximumLineLength) bytes")
                    }
                    if newline != nil {
                        guard line.count >= 2, line[line.count - 2] == UInt8(ascii: "\r") else {
                            throw S3AuthError.malformedChunks("a line not ended by CRLF")
                        }
                        let text = String(decoding: line.dropLast(2), as: UTF8.self)
                        line.removeAll(keepingCapacity: true)
                        try complete(line: text)
                    }
                }
            }
        } catch {
            state = .failed(error)
            throw error
        }
        return output
    }

    /// Ends the body: throws unless the final chunk (and trailer) arrived whole.
    public mutating func finish() throws(S3AuthError) {
        switch state {
        case .done: return
        case .failed(let error): throw error
        default:
            state = .failed(.incompleteBody())
            throw S3AuthError.incompleteBody()
        }
    }

    // MARK: - Lines

    private mutating func complete(line text: String) throws(S3AuthError) {
        switch state {
        case .sizeLine: try sizeLine(text)
        case .dataEnd:
            guard text.isEmpty else { throw S3AuthError.malformedChunks("chunk data longer than its declared size") }
            state = .sizeLine
        case .trailerLine: try trailerLine(text)
        default: preconditionFailure("line completed in state \(state)")
        }
    }

    private mutating func sizeLine(_ text: String) throws(S3AuthError) {
        let parts = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        let sizeText = parts[0].trimmed(of: " \t")
        guard !sizeText.isEmpty, sizeText.utf8.count <= 15, let size = Int(sizeText, radix: 16), size >= 0 else {
            throw S3AuthError.malformedChunks("chunk size '\(text.prefix(32))' is not hexadecimal")
        }
        if signing != nil {
            let extensions = parts.count > 1 ? parts[1] : ""
            guard extensions.hasPrefix("chunk-signature="),
                  case let signature = extensions.dropFirst("chunk-signature=".count), signature.utf8.count == 64 else {
                throw S3AuthError.malformedChunks("a signed chunk without chunk-signature")
            }
            chunkSignature = signature
            chunkHash = StreamingDigest(.sha256)
        }
        if size == 0 {
            try endOfChunkData()
            state = .trailerLine
        } else {
            state = .data(remaining: size)
        }
    }

    /// Checks the chunk that just ended against its signature, which the next one chains from.
    private mutating func endOfChunkData() throws(S3AuthError) {
        guard let signing, let hash = chunkHash?.finalize() else { return }
        chunkHash = nil
        let expected = signing.chunkSignature(previous: previousSignature, chunkHash: hash)
        guard SigV4.signaturesMatch(chunkSignature, expected) else { throw S3AuthError.chunkSignatureMismatch() }
        previousSignature = expected
    }

    private mutating func trailerLine(_ text: String) throws(S3AuthError) {
        if text.isEmpty {
            if let signing, expectsTrailer {
                guard let trailerSignature else {
                    throw S3AuthError(.malformedTrailer, status: 400, "The trailer is missing x-amz-trailer-signature.")
                }
                let expected = signing.trailerSignature(previous: previousSignature, trailerHash: SHA256.hash(trailerText))
                guard SigV4.signaturesMatch(trailerSignature, expected) else {
                    throw S3AuthError(.signatureDoesNotMatch, status: 403,
                                      "The trailer signature we calculated does not match the signature you provided.")
                }
            }
            state = .done
            return
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw S3AuthError(.malformedTrailer, status: 400, "The request contained trailing data that was not well-formed.")
        }
        let name = text[..<colon].trimmed(of: " \t").lowercased()
        let value = text[text.index(after: colon)...].trimmed(of: " \t")
        guard expectsTrailer, trailerSignature == nil else {
            throw S3AuthError(.malformedTrailer, status: 400, "The request contained trailing data that was not expected.")
        }
        if name == "x-amz-trailer-signature" {
            guard signing != nil else {
                throw S3AuthError(.malformedTrailer, status: 400, "A trailer signature in an unsigned stream.")
            }
            trailerSignature = Substring(value)
            return
        }
        guard trailers.count < Self.maximumTrailers else {
            throw S3AuthError(.malformedTrailer, status: 400, "Too many trailing headers.")
        }
        trailers.append((name, value))
        trailerText += "\(name):\(value)\n"
    }
}

extension StringProtocol {
    func trimmed(of set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        var view = Substring(self).unicodeScalars[...]
        while let first = view.first, scalars.contains(first) { view = view.dropFirst() }
        while let last = view.last, scalars.contains(last) { view = view.dropLast() }
        return String(String.UnicodeScalarView(view))
    }
}
