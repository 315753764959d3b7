"""Metric learning of face embeddings: data (folds, P×K batches), losses, models, the loop."""
