// NimbusGRPC
