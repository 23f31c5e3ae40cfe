import NimbusStorage
import NimbusService

await ServiceMain.run(StorageServiceDefinition.self)
