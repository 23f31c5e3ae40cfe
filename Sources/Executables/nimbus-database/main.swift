import NimbusDatabases
import NimbusService

await ServiceMain.run(DatabasesServiceDefinition.self)
