import NimbusGateway
import NimbusService

await ServiceMain.run(GatewayServiceDefinition.self)
