import CNimbusShims
import COpenSSL

/// An OpenSSL `SSL_CTX`: certificates, trust, ALPN and the TLS 1.2 floor. Immutable after
/// creation and shared by every connection on every loop (OpenSSL makes that safe).
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    public let isServer: Bool
    /// ALPN protocols in preference order (e.g. ["h2", "http/1.1"]).
    public let alpn: [String]
    private let alpnBox: ALPNList

    public struct ServerConfiguration: Sendable {
        public var certificateChainPath: String
        public var privateKeyPath: String
        /// When set, client certificates are verified against these CAs (mTLS).
        public var clientCAPath: String?
        /// With `clientCAPath`: refuse clients that present no certificate.
        public var requireClientCertificate: Bool
        public var alpn: [String]

        public init(certificateChainPath: String, privateKeyPath: String, clientCAPath: String? = nil,
                    requireClientCertificate: Bool = true, alpn: [String] = ["h2", "http/1.1"]) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
            self.clientCAPath = clientCAPath
            self.requireClientCertificate = requireClientCertificate
            self.alpn = alpn
        }
    }

    public struct ClientConfiguration: Sendable {
        /// PEM file of trusted roots; nil uses the system's default trust store.
        public var trustRootsPath: String?
        /// A client certificate and key for mTLS.
        public var certificateChainPath: String?
        public var privateKeyPath: String?
        /// Verify the server's certificate and host name (turn off only in tests).
        public var verifyPeer: Bool
        public var alpn: [String]

        public init(trustRootsPath: String? = nil, certificateChainPath: String? = nil, privateKeyPath: String? = nil,
                    verifyPeer: Bool = true, alpn: [String] = ["h2"]) {
            self.trustRootsPath = trustRootsPath
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
            self.verifyPeer = verifyPeer
            self.alpn = alpn
        }
    }

    private init(context: OpaquePointer, isServer: Bool, alpn: [String]) {
        self.context = context
        self.isServer = isServer
        self.alpn = alpn
        self.alpnBox = ALPNList(alpn)
        // Partial writes + moving buffer: our outbound buffer may grow between retries.
        _ = SSL_CTX_ctrl(context, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
        _ = CNimbusShims_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
    }

    deinit { SSL_CTX_free(context) }

    public static func server(_ configuration: ServerConfiguration) throws -> TLSContext {
        ERR_clear_error()
        guard let raw = SSL_CTX_new(TLS_server_method()) else { throw TLSError.drain("SSL_CTX_new") }
        let tls = TLSContext(context: raw, isServer: true, alpn: configuration.alpn)
        guard SSL_CTX_use_certificate_chain_file(raw, configuration.certificateChainPath) == 1 else {
            throw TLSError.drain("loading certificate chain \(configuration.certificateChainPath)")
        }
        guard SSL_CTX_use_PrivateKey_file(raw, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.drain("loading private key \(configuration.privateKeyPath)")
        }
        guard SSL_CTX_check_private_key(raw) == 1 else {
            throw TLSError.drain("matching private key to certificate")
        }
        if let ca = configuration.clientCAPath {
            guard SSL_CTX_load_verify_locations(raw, ca, nil) == 1 else {
                throw TLSError.drain("loading client CA \(ca)")
            }
            if let names = SSL_load_client_CA_file(ca) { SSL_CTX_set_client_CA_list(raw, names) }
            let mode = SSL_VERIFY_PEER | (configuration.requireClientCertificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0)
            SSL_CTX_set_verify(raw, mode, nil)
        }
        if !configuration.alpn.isEmpty {
            SSL_CTX_set_alpn_select_cb(raw, tlsSelectALPN, Unmanaged.passUnretained(tls.alpnBox).toOpaque())
        }
        return tls
    }

    public static func client(_ configuration: ClientConfiguration) throws -> TLSContext {
        ERR_clear_error()
        guard let raw = SSL_CTX_new(TLS_client_method()) else { throw TLSError.drain("SSL_CTX_new") }
        let tls = TLSContext(context: raw, isServer: false, alpn: configuration.alpn)
        if let roots = configuration.trustRootsPath {
            guard SSL_CTX_load_verify_locations(raw, roots, nil) == 1 else {
                throw TLSError.drain("loading trust roots \(roots)")
            }
        } else {
            _ = SSL_CTX_set_default_verify_paths(raw)
        }
        if let cert = configuration.certificateChainPath, let key = configuration.privateKeyPath {
            guard SSL_CTX_use_certificate_chain_file(raw, cert) == 1 else {
                throw TLSError.drain("loading client certificate \(cert)")
            }
            guard SSL_CTX_use_PrivateKey_file(raw, key, SSL_FILETYPE_PEM) == 1 else {
                throw TLSError.drain("loading client key \(key)")
            }
        }
        SSL_CTX_set_verify(raw, configuration.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if !configuration.alpn.isEmpty {
            let wire = tls.alpnBox.wire
            let rc = wire.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(raw, $0.baseAddress, UInt32($0.count)) }
            guard rc == 0 else { throw TLSError.drain("setting ALPN") }  // 0 is success here
        }
        return tls
    }
}

/// The server's ALPN preferences in wire format (length-prefixed names).
final class ALPNList: @unchecked Sendable {
    let names: [[UInt8]]
    let wire: [UInt8]
    init(_ protocols: [String]) {
        names = protocols.map { Array($0.utf8) }
        wire = names.flatMap { [UInt8($0.count)] + $0 }
    }
}

/// ALPN selection: the first of our protocols the client also offers. `out` must point into
/// the client's list (`input`), which outlives the callback.
private func tlsSelectALPN(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ input: UnsafePointer<UInt8>?, _ inputLength: UInt32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let input, let argument, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let list = Unmanaged<ALPNList>.fromOpaque(argument).takeUnretainedValue()
    for name in list.names {
        var i = 0
        while i < Int(inputLength) {
            let length = Int(input[i])
            if length == name.count && i + 1 + length <= Int(inputLength)
                && name.withUnsafeBufferPointer({ memcmp($0.baseAddress!, input + i + 1, length) == 0 }) {
                out.pointee = input + i + 1
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            i += 1 + length
        }
    }
    return SSL_TLSEXT_ERR_NOACK  // no common protocol: go on without ALPN (served as HTTP/1.1)
}
