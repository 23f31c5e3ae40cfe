// protoc-gen-nimbus-swift: a protoc plugin that writes, for each .proto file, one Swift file of
// plain Swift types, service protocols and clients over the protoc-c output of the same file.
// It reads the CodeGeneratorRequest from stdin with protobuf-c (ProtocPluginC) and writes the
// CodeGeneratorResponse to stdout.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ProtocPluginC

func readStandardInput() -> [UInt8] {
    var input: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            fatalError("protoc-gen-nimbus-swift: reading stdin failed (errno \(errno))")
        }
        if n == 0 { break }
        input.append(contentsOf: buffer[0..<n])
    }
    return input
}

func writeStandardOutput(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            fatalError("protoc-gen-nimbus-swift: writing stdout failed (errno \(errno))")
        }
        offset += n
    }
}

/// Packs a response holding either the generated files or an error.
func packResponse(files: [(name: String, content: String)], error: String?) -> [UInt8] {
    var allocations: [UnsafeMutableRawPointer] = []
    defer { allocations.forEach { free($0) } }
    func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        allocations.append(UnsafeMutableRawPointer(p))
        return p
    }
    var response = Google__Protobuf__Compiler__CodeGeneratorResponse()
    google__protobuf__compiler__code_generator_response__init(&response)
    if let error { response.error = cString(error) }
    let entries = UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>.allocate(capacity: max(files.count, 1))
    let pointers = UnsafeMutablePointer<UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>?>.allocate(capacity: max(files.count, 1))
    defer { entries.deallocate(); pointers.deallocate() }
    for (i, file) in files.enumerated() {
        (entries + i).initialize(to: Google__Protobuf__Compiler__CodeGeneratorResponse__File())
        google__protobuf__compiler__code_generator_response__file__init(entries + i)
        entries[i].name = cString(file.name)
        entries[i].content = cString(file.content)
        pointers[i] = entries + i
    }
    response.n_file = files.count
    response.file = pointers
    let size = google__protobuf__compiler__code_generator_response__get_packed_size(&response)
    var bytes = [UInt8](repeating: 0, count: size)
    _ = bytes.withUnsafeMutableBufferPointer { google__protobuf__compiler__code_generator_response__pack(&response, $0.baseAddress) }
    return bytes
}

let input = readStandardInput()
guard let request = input.withUnsafeBufferPointer({
    google__protobuf__compiler__code_generator_request__unpack(nil, $0.count, $0.baseAddress)
}) else {
    let message = Array("protoc-gen-nimbus-swift: malformed CodeGeneratorRequest on stdin\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
// Options: `c_module=<target>` names the C target of this run's protoc-c output.
let parameter = request.pointee.parameter.map { String(cString: $0) } ?? ""
var cModule = "NimbusProtoC"
for option in parameter.split(separator: ",") where option.hasPrefix("c_module=") {
    cModule = String(option.dropFirst("c_module=".count))
}
let toGenerate = (0..<request.pointee.n_file_to_generate).map { String(cString: request.pointee.file_to_generate[$0]!) }
let files = (0..<request.pointee.n_proto_file).map { FileModel(request.pointee.proto_file[$0]!) }
google__protobuf__compiler__code_generator_request__free_unpacked(request, nil)

do {
    let generator = try Generator(files: files, toGenerate: toGenerate, cModule: cModule)
    writeStandardOutput(packResponse(files: try generator.generate(), error: nil))
} catch {
    writeStandardOutput(packResponse(files: [], error: "\(error)"))
}
