import ArgumentParser
import Foundation
import NimbusProtoJSON
import NimbusProto
import NimbusRPCCore

extension ImagesCommand {
    /// `nimbus images import FILE --name NAME [--tag TAG]`: streams a root filesystem tarball
    /// through the gateway (ImportImage, client streaming) with a progress line on stderr.
    struct Import: APICommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a root filesystem tarball (.tar or .tar.gz) as an image of your tenant.",
            discussion: """
            The file streams through the gateway in \(chunkSize / 1024) KiB chunks; the engine imports it once the upload is complete.
            Example: tar -C rootfs -cf tools.tar . && nimbus images import tools.tar --name tools --tag v1
            """)
        static let chunkSize = 256 * 1024

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tarball to upload.") var file: String
        @Option(help: "Image name: lower-case letters, digits, '.', '_', '-'.") var name: String
        @Option(help: "Tag, stored as NAME:TAG.") var tag: String?
        @Option(help: "A description shown by `nimbus images list`.") var description: String?
        @Option(help: "Seconds the upload and the import may take together.") var uploadTimeout: Double = 600

        func validate() throws {
            if tag != nil, name.contains(":") { throw ValidationError("give the tag either in --name NAME:TAG or with --tag, not both") }
            if let tag, tag.isEmpty { throw ValidationError("--tag must not be empty") }
            guard uploadTimeout > 0, uploadTimeout <= 24 * 3600 else { throw ValidationError("--upload-timeout must be between 0 and 86400 seconds") }
        }

        func execute(_ api: APIClient) async throws {
            let size = try Self.regularFileSize(file)
            let imageName = tag.map { "\(name):\($0)" } ?? name
            guard let handle = FileHandle(forReadingAtPath: file) else { throw CLIError.usage("\(file): cannot be read") }
            defer { try? handle.close() }

            var metadata = ComputeV1.ImportImageMetadata()
            metadata.name = imageName
            metadata.description = description ?? ""
            let first = ComputeV1.ImportImageRequest(part: .metadata(metadata)).serializedBytes()
            let spinner = Spinner()
            let reader = ChunkReader(handle: handle, chunkSize: Self.chunkSize)
            let image = try await api.clientStream(ComputeServices.images, "ImportImage", timeout: .milliseconds(Int64(uploadTimeout * 1000))) { writer in
                try await writer.write(first)
                var sent: Int64 = 0
                while let chunk = try reader.next() {
                    try await writer.write(ComputeV1.ImportImageRequest(part: .chunk(chunk)).serializedBytes())
                    sent += Int64(chunk.count)
                    spinner.update("uploading \(imageName): \(Self.bytes(sent)) of \(Self.bytes(size)) (\(size > 0 ? sent * 100 / size : 100)%)")
                }
                guard sent == size else { throw CLIError.failed("\(file) changed while it was uploaded (\(sent) of \(size) bytes)") }
                spinner.update("importing \(imageName) (\(Self.bytes(size)) uploaded)")
            }
            spinner.finish("imported image \(imageName) (\(Self.bytes(size)) uploaded)")
            if api.settings.output == .json { return Render.one(image, format: .json) }
            Render.many([image], columns: ImagesCommand.columns, format: .table)
        }

        /// The size of `path`, which must be a non-empty regular file (not a directory or a pipe).
        static func regularFileSize(_ path: String) throws -> Int64 {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
                throw CLIError.usage("\(path): no such file")
            }
            guard attributes[.type] as? FileAttributeType == .typeRegular else { throw CLIError.usage("\(path): not a regular file") }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            guard size > 0 else { throw CLIError.usage("\(path) is empty") }
            return size
        }

        static func bytes(_ count: Int64) -> String {
            count < 1 << 20 ? String(format: "%.1f KiB", Double(count) / 1024) : String(format: "%.1f MiB", Double(count) / 1048576)
        }
    }
}

/// Reads a file in fixed-size chunks for an upload (one reader, one task at a time).
final class ChunkReader: @unchecked Sendable {
    private let handle: FileHandle
    private let chunkSize: Int

    init(handle: FileHandle, chunkSize: Int) {
        self.handle = handle
        self.chunkSize = chunkSize
    }

    func next() throws -> Data? {
        guard let data = try handle.read(upToCount: chunkSize), !data.isEmpty else { return nil }
        return data
    }
}
