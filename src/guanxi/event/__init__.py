"""Events: immutable, timestamped interactions that drive everything else."""
