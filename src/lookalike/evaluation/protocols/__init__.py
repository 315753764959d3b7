"""Evaluation protocols behind one small interface; a new protocol is one module plus one registration line.

A protocol has a ``name``, a one-line ``summary``, says which data set folders it ``needs``, and
turns an :class:`~lookalike.evaluation.protocols.base.EvalContext` (the pipeline under test, the
data sets, the indexes, the output folder) into a JSON-ready result (``run``) that it also renders
as Markdown (``markdown``). :func:`lookalike.evaluation.report.run_eval` runs them and writes the report.
"""

from __future__ import annotations

from lookalike.evaluation.protocols.base import (
    EvalContext,
    Protocol,
    available_protocols,
    get_protocol,
    register,
)
from lookalike.evaluation.protocols.cluster import LfwClustering
from lookalike.evaluation.protocols.compose import YALE_PATTERN, ComposeProtocol
from lookalike.evaluation.protocols.features import FeatureStudy
from lookalike.evaluation.protocols.lfw_verification import LfwVerification
from lookalike.evaluation.protocols.openset import LfwOpenSet
from lookalike.evaluation.protocols.retrieval import Retrieval

register(LfwVerification())
register(Retrieval("lfw-retrieval", "lfw", 2, "LFW, people with ≥ 2 photos"))
register(Retrieval("orl-retrieval", "orl_att_faces", 1, "AT&T/ORL"))
register(LfwOpenSet())
register(FeatureStudy())
register(LfwClustering())
register(ComposeProtocol("yale-compose", "yale_faces", YALE_PATTERN, "expression", "Yale faces"))

__all__ = ["EvalContext", "Protocol", "available_protocols", "get_protocol", "register"]
