// Placeholder until `make protos` generates this target.
