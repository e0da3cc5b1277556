"""experiments' API bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Value = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{0,64}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class CellSpec(BaseModel):
    name: Name
    weight: float = Field(1.0, gt=0, le=1000)
    treatments: dict[Key, Value] = Field(default_factory=dict, max_length=20)


class ExperimentCreate(BaseModel):
    name: Name
    description: str = Field("", max_length=2000)
    layer: Name = Field(..., description="experiments of one layer never share a profile")
    traffic: float = Field(1.0, gt=0, le=1, description="share of the layer's profiles")
    cells: list[CellSpec] = Field(..., min_length=2, max_length=10)
    control: Name | None = Field(None, description="the baseline cell; the first by default")

    @model_validator(mode="after")
    def cells_are_distinct(self) -> ExperimentCreate:
        names = [c.name for c in self.cells]
        if len(set(names)) != len(names):
            raise ValueError("cell names must be distinct")
        if self.control is not None and self.control not in names:
            raise ValueError("control must name one of the cells")
        return self


class ExperimentView(BaseModel):
    id: str
    name: str
    description: str
    layer: str
    traffic: float
    cells: list[CellSpec]
    control: str
    status: Literal["draft", "running", "stopped"]
    buckets: list[int]
    created_at: str
    started_at: str | None
    stopped_at: str | None


class Allocation(BaseModel):
    experiment_id: str
    experiment: str
    cell: str
    treatments: dict[str, str]


class Allocations(BaseModel):
    profile_id: str
    allocations: list[Allocation]
    treatments: str = Field(..., description="every cell's overrides as `key=value;...`")


class ExposureIn(BaseModel):
    profile_id: Id
    experiment_ids: list[Id] = Field(..., min_length=1, max_length=20)
    shown: list[Id] = Field(default_factory=list, max_length=200)


class ExposuresTaken(BaseModel):
    logged: int


Report = dict[str, Any]
