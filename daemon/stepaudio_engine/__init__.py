"""stepaudio_engine: our re-implementation of the Step-Audio-EditX pipeline (no grpc, no daemon)."""
