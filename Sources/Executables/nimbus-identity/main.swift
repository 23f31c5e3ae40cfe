import NimbusIdentity
import NimbusService

await ServiceMain.run(IdentityServiceDefinition.self)
