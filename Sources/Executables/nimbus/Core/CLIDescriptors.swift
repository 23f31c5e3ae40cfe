import NimbusProtoJSON
import NimbusProto
import NimbusRPCCore

/// The descriptors of every public API, from the generated code.
enum CLIDescriptors {
    static var files: [ProtoFileDescriptor] {
        IdentityV1.UsersMethods.fileDescriptors + ComputeV1.InstancesMethods.fileDescriptors
    }

    static func shared() throws -> DescriptorSet {
        do {
            return try DescriptorSet(files)
        } catch {
            throw CLIError.failed("built-in API descriptors are inconsistent: \(error)")
        }
    }
}
