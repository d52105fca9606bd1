"""stepaudio_protos: the stepaudio.v1 protocol, its generated stubs, and what both sides share.

Kept import-light on purpose: the CLI imports this on every start (no grpc, no protobuf here; the
generated stubs live in stepaudio_protos.v1 and are imported only by code that talks gRPC).
"""

__version__ = "0.1.0"

# Bump on any incompatible change to stepaudio.proto or to the meaning of a field.
PROTOCOL_VERSION = 1

# Call metadata key that carries the daemon's token (DESIGN.md §6).
TOKEN_METADATA_KEY = "x-stepaudio-token"
