import NimbusCompute
import NimbusService

await ServiceMain.run(ComputeServiceDefinition.self)
