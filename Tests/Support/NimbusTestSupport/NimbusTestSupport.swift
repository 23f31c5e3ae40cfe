// NimbusTestSupport
