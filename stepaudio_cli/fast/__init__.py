"""The fast path: `stepaudio status` against a running daemon without importing typer, grpc or
protobuf (together ~150 ms of imports, 10x a bare Python start). It speaks just enough HTTP/2 and
protobuf to make one unary gRPC call, and gives up (returns None) on anything unexpected, so the
full client then handles it (auto-start, version replacement, errors with hints).
"""
