import CNimbusShims
import COpenSSL

/// What a TLS handshake step needs next.
public enum TLSHandshakeStep: Sendable, Equatable {
    case complete
    case wantRead
    case wantWrite
}

/// One TLS session (`SSL`) over a non-blocking socket fd. Confined to the loop that owns the
/// socket; every call clears and drains OpenSSL's per-thread error queue.
public final class TLSConnection {
    let ssl: OpaquePointer
    public let context: TLSContext

    /// `serverName` (clients only) is sent as SNI and checked against the certificate.
    public init(context: TLSContext, socket: Socket, serverName: String? = nil) throws {
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else { throw TLSError.drain("SSL_new") }
        self.ssl = ssl
        self.context = context
        guard SSL_set_fd(ssl, socket.fd) == 1 else { throw TLSError.drain("SSL_set_fd") }
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let serverName {
                _ = CNimbusShims_SSL_set_tlsext_host_name(ssl, serverName)
                _ = SSL_set1_host(ssl, serverName)
            }
        }
    }

    deinit { SSL_free(ssl) }

    public func handshake() throws -> TLSHandshakeStep {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { return .complete }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default: throw TLSError.drain("handshake")
        }
    }

    /// The protocol ALPN settled on, if any.
    public var negotiatedALPN: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The verified peer certificate's subject (mTLS), e.g. `/CN=identity`.
    public var peerCertificateSubject: String? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        guard let name = X509_get_subject_name(cert), let line = X509_NAME_oneline(name, nil, 0) else { return nil }
        defer { CRYPTO_free(line, #fileID, #line) }
        return String(cString: line)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadResult {
        ERR_clear_error()
        var count = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return .bytes(count) }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ: return .wouldBlock(wantsWrite: false)
        case SSL_ERROR_WANT_WRITE: return .wouldBlock(wantsWrite: true)
        case SSL_ERROR_ZERO_RETURN: return .eof
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0: return .eof  // TCP EOF without close_notify
        default: throw TLSError.drain("read")
        }
    }

    /// Writes what TLS takes now; nil when it would block.
    public func write(_ buffer: UnsafeRawBufferPointer) throws -> Int? {
        ERR_clear_error()
        var count = 0
        if SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return count }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return nil
        default: throw TLSError.drain("write")
        }
    }

    /// Sends close_notify (best effort, non-blocking).
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }
}
