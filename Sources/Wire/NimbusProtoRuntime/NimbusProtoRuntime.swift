// NimbusProtoRuntime
