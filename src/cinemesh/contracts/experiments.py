"""`experiments.*` events: an experiment started (its cells, their overrides and the layer's
buckets it owns) or stopped. Whoever acts on a cell's experience, or shows experiments to
operators, learns of a start or stop here instead of asking the experiments service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field


class ExperimentCell(BaseModel):
    name: str
    weight: float
    treatments: dict[str, str] = Field(default_factory=dict)


class ExperimentStarted(BaseModel):
    TYPE: ClassVar[str] = "experiments.experiment.started"
    VERSION: ClassVar[int] = 1
    experiment_id: str
    name: str
    layer: str
    traffic: float
    control: str
    cells: list[ExperimentCell]
    buckets: list[int] = Field(default_factory=list, description="[first, end) of the layer's")
    at: str


class ExperimentStopped(BaseModel):
    TYPE: ClassVar[str] = "experiments.experiment.stopped"
    VERSION: ClassVar[int] = 1
    experiment_id: str
    name: str
    layer: str
    at: str
