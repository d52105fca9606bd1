"""stepaudio_protos: the stepaudio.v1 protocol, its generated stubs, and paths shared by CLI and daemon."""
