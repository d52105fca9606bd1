"""stepaudiod: the daemon (grpc.aio server, scheduler, worker runner). Never imports torch."""
