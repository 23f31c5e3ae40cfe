import Foundation

/// `ContainerRuntime` over the Docker Engine API (v1.41) on a unix socket: Docker's
/// `/var/run/docker.sock` or `podman system service` (see scripts/podman.sh).
public struct DockerEngineRuntime: ContainerRuntime {
    public static let apiVersion = "v1.41"

    public let socketPath: String
    let http: EngineHTTPClient
    /// Calls that are not bounded by their own timeouts (create, inspect, list…).
    let requestTimeout: Duration

    /// `socket` is a path or a `unix://` URL.
    public init(socket: String, requestTimeout: Duration = .seconds(60)) {
        let path = socket.hasPrefix("unix://") ? String(socket.dropFirst("unix://".count)) : socket
        self.socketPath = path
        self.http = EngineHTTPClient(socketPath: path)
        self.requestTimeout = requestTimeout
    }

    // MARK: plumbing

    func path(_ tail: String, _ query: [(String, String)] = []) -> String {
        var result = "/\(Self.apiVersion)\(tail)"
        if !query.isEmpty {
            result += "?" + query.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return result
    }

    static func escape(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// An id or name as one path segment (image references contain '/', which the engine
    /// expects literally: `/images/localhost/nimbus/busybox:latest`).
    static func segment(_ value: String, allowSlash: Bool = false) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: allowSlash ? "-._~:@/" : "-._~:@")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// Sends a request, and turns any status outside `accept` into a `ContainerRuntimeError`
    /// carrying the engine's message.
    @discardableResult
    func call(
        _ method: String, _ path: String, body: EngineRequest.Body = .none, timeout: Duration? = nil,
        operation: String, accept: Set<Int> = [200, 201, 204]
    ) async throws -> EngineResponse {
        let request = EngineRequest(method: method, path: path, body: body, timeout: timeout ?? requestTimeout, operation: operation)
        let response = try await http.send(request)
        guard accept.contains(response.status) else {
            throw Self.error(for: response, operation: operation)
        }
        return response
    }

    static func error(for response: EngineResponse, operation: String) -> ContainerRuntimeError {
        let message = (try? JSONDecoder().decode(EngineErrorBody.self, from: response.body).message)
            ?? String(decoding: response.body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let code: ContainerRuntimeError.Code = switch response.status {
        case 404: .notFound
        case 409: .conflict
        case 400: .invalidRequest
        default: .engineFailure
        }
        return ContainerRuntimeError(code, operation: operation, message: message.isEmpty ? "HTTP \(response.status)" : message, httpStatus: response.status)
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: EngineResponse, operation: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw ContainerRuntimeError(.invalidResponse, operation: operation, message: "cannot decode the engine's answer: \(error)", httpStatus: response.status)
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> EngineRequest.Body {
        .json(try JSONEncoder().encode(value))
    }

    static func labelFilters(_ labels: [LabelFilter]) -> [(String, String)] {
        guard !labels.isEmpty else { return [] }
        let filters = ["label": labels.map(\.engineValue)]
        let json = (try? JSONEncoder().encode(filters)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [("filters", json)]
    }

    static func shortID(_ id: String) -> String { String(id.prefix(12)) }

    // MARK: engine

    public func ping() async throws {
        let response = try await call("GET", "/_ping", timeout: .seconds(5), operation: "ping")
        guard String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "OK" else {
            throw ContainerRuntimeError(.invalidResponse, operation: "ping", message: "unexpected answer to /_ping", httpStatus: response.status)
        }
    }

    public func version() async throws -> EngineVersion {
        let response = try await call("GET", "/version", timeout: .seconds(5), operation: "version")
        let body = try decode(EngineVersionBody.self, response, operation: "version")
        return EngineVersion(
            version: body.version, apiVersion: body.apiVersion, minAPIVersion: body.minAPIVersion ?? "",
            os: body.os ?? "", arch: body.arch ?? "", components: body.components?.map(\.name) ?? [])
    }
}
