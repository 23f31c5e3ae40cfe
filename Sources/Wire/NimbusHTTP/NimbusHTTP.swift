// NimbusHTTP
