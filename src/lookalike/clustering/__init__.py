"""Group faces by person: k-NN graph from the HNSW index, calibrated edges, graph clustering, refinement."""

from lookalike.clustering.engine import REFERENCE, Clustering, ClusterParams, cluster, cluster_graph
from lookalike.clustering.metrics import ClusterScores, score

__all__ = ["REFERENCE", "ClusterParams", "ClusterScores", "Clustering", "cluster", "cluster_graph", "score"]
