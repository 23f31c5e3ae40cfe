// Generated Swift types and service stubs land here (`make protos`).
import NimbusRPCCore
