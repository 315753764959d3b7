"""Evaluation protocols: ANN quality and speed, identity retrieval, verification."""
