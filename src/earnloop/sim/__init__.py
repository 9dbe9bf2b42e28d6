"""The fraud simulation lab (filled in by the next commits)."""
