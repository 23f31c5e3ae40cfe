// zlib for gRPC message compression (grpc-encoding gzip and deflate).
#include <zlib.h>
