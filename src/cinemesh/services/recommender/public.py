"""What of the recommender code runs outside the service, and nothing more: offline training,
recommending and evaluation (`cinemesh recs`), and `bench/recommender_bench.py` (snapshots and
rows built in process). Code outside `cinemesh.services.recommender` imports the recommender
through this module only (`make contracts` checks it)."""

from __future__ import annotations

from cinemesh.services.recommender.collaborative import ItemModel, ModelFileError, ModelParams
from cinemesh.services.recommender.dataset import DatasetError, Interactions, read_csv
from cinemesh.services.recommender.evaluation import OURS, Report, evaluate
from cinemesh.services.recommender.rows import build_rows
from cinemesh.services.recommender.service import ProfileHistory, TrainingData
from cinemesh.services.recommender.snapshot import build_snapshot

__all__ = [
    "OURS",
    "DatasetError",
    "Interactions",
    "ItemModel",
    "ModelFileError",
    "ModelParams",
    "ProfileHistory",
    "Report",
    "TrainingData",
    "build_rows",
    "build_snapshot",
    "evaluate",
    "read_csv",
]
