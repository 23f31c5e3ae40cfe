import Foundation

/// One HTTP/1.1 exchange for `CurlClient`.
public struct CurlRequest: Sendable {
    public enum Body: Sendable {
        case none
        case bytes(Data, contentType: String)
        /// Streamed from a file as the server takes it, never loaded whole into memory.
        case file(path: String, contentType: String)
    }

    public var method: String
    /// e.g. `http://localhost/v1.41/containers/json`.
    public var url: String
    /// Talk to a unix socket instead of the URL's host.
    public var unixSocketPath: String?
    public var body: Body
    public var connectTimeout: Duration
    /// The whole exchange; nil: no limit (followed log streams).
    public var timeout: Duration?

    public init(method: String, url: String, unixSocketPath: String? = nil, body: Body = .none,
                connectTimeout: Duration = .seconds(3), timeout: Duration? = .seconds(60)) {
        self.method = method
        self.url = url
        self.unixSocketPath = unixSocketPath
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }
}

public struct CurlResponse: Sendable {
    public var status: Int
    /// The whole body, or for a streamed success whatever the sink did not take (nothing).
    public var body: Data
}

/// Why an exchange failed, in the terms a caller acts on.
public struct CurlError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Nothing accepted the connection (or the socket path does not exist).
        case couldNotConnect
        /// The connection broke during the exchange.
        case connectionLost
        case timedOut
        /// The request body could not be read (a missing upload file).
        case requestBodyUnreadable
        case other
    }

    public var kind: Kind
    public var message: String
    public var description: String { message }
}
