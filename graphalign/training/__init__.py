"""Training: splits, the fit loop, checkpoints."""
