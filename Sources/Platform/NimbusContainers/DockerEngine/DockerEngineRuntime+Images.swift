import Foundation

extension DockerEngineRuntime {
    public func importImage(reference: String, tarballPath: String) async throws -> String {
        let operation = "import image \(reference)"
        guard Self.isValidReference(reference) else {
            throw ContainerRuntimeError(.invalidRequest, operation: operation, message: "not a valid image reference")
        }
        // `repo` carries the tag too: Podman ignores the separate `tag` parameter on import.
        let response = try await call(
            "POST", path("/images/create", [("fromSrc", "-"), ("repo", reference)]),
            body: .file(path: tarballPath, contentType: "application/x-tar"),
            timeout: .seconds(600), operation: operation, accept: [200])
        // The answer is a stream of JSON progress lines; an error can arrive inside a 200.
        var imageID: String?
        for line in response.body.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let progress = try? JSONDecoder().decode(ImageCreateProgress.self, from: Data(line)) else { continue }
            if let error = progress.error ?? progress.message {
                throw ContainerRuntimeError(.invalidRequest, operation: operation, message: error, httpStatus: response.status)
            }
            if let id = progress.id ?? progress.status, id.hasPrefix("sha256:") { imageID = id }
        }
        if let imageID { return imageID }
        // Docker answers with progress text only; ask for the id.
        return try await inspectImage(reference).id
    }

    public func listImages() async throws -> [ImageSummary] {
        let operation = "list images"
        let response = try await call("GET", path("/images/json"), operation: operation, accept: [200])
        return try decode([ImageListItem].self, response, operation: operation).map { item in
            ImageSummary(
                id: item.id, tags: item.repoTags ?? [], sizeBytes: item.size ?? 0,
                createdAt: item.created.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                containers: item.containers ?? -1)
        }
    }

    public func inspectImage(_ reference: String) async throws -> ImageSummary {
        let operation = "inspect image \(reference)"
        let response = try await call("GET", path("/images/\(Self.segment(reference, allowSlash: true))/json"), operation: operation, accept: [200])
        let body = try decode(ImageInspectBody.self, response, operation: operation)
        return ImageSummary(id: body.id, tags: body.repoTags ?? [], sizeBytes: body.size ?? 0, createdAt: EngineTimestamp.parse(body.created), containers: -1)
    }

    public func removeImage(_ reference: String, force: Bool) async throws {
        try await call(
            "DELETE", path("/images/\(Self.segment(reference, allowSlash: true))", [("force", force ? "true" : "false")]),
            operation: "remove image \(reference)", accept: [200])
    }

    /// `host/path/name[:tag]` in lower case, no spaces or query characters.
    static func isValidReference(_ reference: String) -> Bool {
        guard !reference.isEmpty, reference.utf8.count <= 255 else { return false }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-/:")
        return reference.allSatisfy { allowed.contains($0) } && !reference.hasPrefix("/") && !reference.hasSuffix(":") && !reference.contains("//")
    }
}
