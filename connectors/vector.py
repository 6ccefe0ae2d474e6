"""The resource vector: the dimensions every quota, catalog spec, application line and order line
counts (and pools, placement and billing will), their units, and the columns that store them.

Dimensions (``DIMENSIONS``, in display order):

==============  =========  ======================================================
name            unit       column on a spec / line (per unit ordered)
==============  =========  ======================================================
``vcpu``        vCPU       ``vcpu`` (whole)
``memory_gib``  GiB        ``memory_gib`` (Decimal, 3 places)
``disk_gib``    GiB        ``disk_gib`` (Decimal, 3 places)
``instances``   instance   ``instances`` (whole)
``eips``        EIP        ``eips`` (whole)
``gpus``        GPU        ``gpu_count`` (whole): every GPU, whatever its model
==============  =========  ======================================================

GPUs are also counted per accelerator model: ``gpus_by_model`` ({"H100": 8}) on a spec or a line,
and the quota dimension ``gpus:<model>`` ("gpus:H100"), which a quota may cap separately from the
``gpus`` total. The total always counts every GPU; the per-model figures say which ones they are.

It lives in ``connectors/``, the lowest room (what providers offer is counted in it), and imports
nothing of the project (SQLAlchemy only, for the column mixin), so engine, the domains, tasks
(which never import engine) and the provider modules all share it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Integer, Numeric, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


@dataclass(frozen=True)
class Dimension:
    name: str  # the quota dimension
    unit: str
    field: str  # the spec / line column holding the per-unit amount
    whole: bool  # whole numbers (counts) or Decimal sizes with 3 places


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("vcpu", "vCPU", "vcpu", True),
    Dimension("memory_gib", "GiB", "memory_gib", False),
    Dimension("disk_gib", "GiB", "disk_gib", False),
    Dimension("instances", "instance", "instances", True),
    Dimension("eips", "EIP", "eips", True),
    Dimension("gpus", "GPU", "gpu_count", True),
)
NAMES: tuple[str, ...] = tuple(d.name for d in DIMENSIONS)
BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}
FIELDS: dict[str, str] = {d.name: d.field for d in DIMENSIONS}  # quota dimension -> line column
LINE_FIELDS: tuple[str, ...] = ("vcpu", "memory_gib", "disk_gib", "gpu_model", "gpu_count", "gpus_by_model",
                                "instances", "eips")  # what a spec hands to a line, a line to an order line

GPU_PREFIX = "gpus:"
MAX_MODEL_LENGTH = 100


def model_problem(model: Any) -> str | None:
    """Why ``model`` is not an accelerator model name (None when it is one)."""
    if not isinstance(model, str) or not model.strip() or model != model.strip():
        return "a non-empty model name without surrounding spaces"
    if len(model) > MAX_MODEL_LENGTH:
        return f"at most {MAX_MODEL_LENGTH} characters"
    if any(c in model for c in ",:") or any(ord(c) < 32 for c in model):
        return "no commas, colons or control characters"
    return None


def gpu_dimension(model: str) -> str:
    """The quota dimension of one accelerator model: ``gpus:H100``."""
    return GPU_PREFIX + model


def gpu_model_of(dimension: str) -> str | None:
    """``H100`` for ``gpus:H100``; None for any other name."""
    return dimension[len(GPU_PREFIX):] if dimension.startswith(GPU_PREFIX) else None


def is_dimension(name: str) -> bool:
    """A base dimension or a valid ``gpus:<model>``."""
    model = gpu_model_of(name)
    return name in BY_NAME if model is None else model_problem(model) is None


def dimension_order(name: str) -> tuple[int, str]:
    """Sort key: the base dimensions in display order, then the per-model GPU dimensions by name."""
    return (NAMES.index(name), "") if name in BY_NAME else (len(NAMES), name)


def models_label(by_model: Mapping[str, Any]) -> str | None:
    """A spec's or line's GPU models as one text ("A100", "A100, H100"); None without GPUs."""
    models = sorted(m for m, n in by_model.items() if n)
    return ", ".join(models) or None


def per_unit(line: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(quota dimension, raw per-unit amount) for a spec or a line: every base dimension, then one
    ``gpus:<model>`` per model in its ``gpus_by_model``. A line written before per-model counts
    (``gpu_model`` + ``gpu_count``, no ``gpus_by_model``) counts its GPUs as that one model."""
    for dim in DIMENSIONS:
        yield dim.name, line.get(dim.field)
    by_model = line.get("gpus_by_model")
    if by_model is None and line.get("gpu_model") and line.get("gpu_count"):
        by_model = {line["gpu_model"]: line["gpu_count"]}
    for model, count in sorted((by_model or {}).items()):
        yield gpu_dimension(model), count


_JSON = JSON().with_variant(JSONB(), "postgresql")


class ResourceColumns:
    """The vector's columns, per unit ordered: a catalog spec, an application line and an order line
    store them alike. ``gpu_count`` is the GPU total and ``gpus_by_model`` ({"H100": 8}) splits it by
    accelerator model (summing to it); ``gpu_model`` is that split as one text, for search and display."""

    vcpu: Mapped[int] = mapped_column(Integer, default=0)
    memory_gib: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    disk_gib: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    gpu_model: Mapped[str | None] = mapped_column(String(100))
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    gpus_by_model: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict, server_default=text("'{}'"))
    instances: Mapped[int] = mapped_column(Integer, default=1)
    eips: Mapped[int] = mapped_column(Integer, default=0)

    def vector(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in LINE_FIELDS}
