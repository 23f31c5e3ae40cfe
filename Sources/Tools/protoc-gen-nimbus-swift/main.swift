// protoc plugin that writes Swift types over protoc-c output.
print("protoc-gen-nimbus-swift: not yet implemented")
