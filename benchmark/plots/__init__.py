"""Pictures of scenes and results (matplotlib)."""
