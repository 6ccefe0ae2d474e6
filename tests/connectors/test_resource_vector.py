"""The resource vector (``connectors.vector``): one definition of the dimensions, their units and
columns, GPUs per accelerator model, and the demand the quota operator derives from it."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from connectors import vector
from engine.domains.applications.models import ApplicationItem
from engine.domains.catalog.models import ProductSpec
from engine.domains.orders.models import OrderItem
from engine.models import QUOTA_DIMENSIONS
from tasks.quota import demand
from tasks.registry import OperatorError

ROOT = Path(__file__).resolve().parents[2]


def test_one_definition_shared_by_quota_specs_and_lines():
    assert QUOTA_DIMENSIONS == vector.NAMES == ("vcpu", "memory_gib", "disk_gib", "instances", "eips", "gpus")
    assert {d.name: d.unit for d in vector.DIMENSIONS}["gpus"] == "GPU"
    for model in (ProductSpec, ApplicationItem, OrderItem):
        columns = set(model.__table__.columns.keys())
        assert set(vector.LINE_FIELDS) <= columns, model


def test_the_vector_module_imports_nothing_of_the_project():
    tree = ast.parse((ROOT / "connectors" / "vector.py").read_text())
    imported = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not imported & {"engine", "api", "tasks", "seed"}


def test_demand_counts_gpus_in_total_and_per_model():
    need = demand([{"quantity": 2, "vcpu": 8, "memory_gib": "1.5", "gpu_count": 8, "gpus_by_model": {"H100": 8}},
                   {"quantity": 1, "gpu_count": 8, "gpus_by_model": {"A100": 8}},
                   # a line written before per-model counts: its one model
                   {"quantity": 1, "gpu_model": "H100", "gpu_count": 2},
                   # GPUs of no named model count towards the total only
                   {"quantity": 3, "gpu_count": 1}])
    assert need == {"vcpu": 16, "memory_gib": Decimal("3.0"), "disk_gib": 0, "instances": 0, "eips": 0,
                    "gpus": 29, "gpus:A100": 8, "gpus:H100": 18}


@pytest.mark.parametrize("item", [{"quantity": 1, "gpu_count": 1, "gpus_by_model": {"A:B": 1}},
                                  {"quantity": 1, "gpu_count": 1, "gpus_by_model": {"H100": -1}},
                                  {"quantity": 0, "vcpu": 1}])
def test_bad_lines_are_refused(item):
    with pytest.raises(OperatorError):
        demand([item])


def test_model_names_and_dimensions():
    assert vector.gpu_dimension("H100") == "gpus:H100" and vector.gpu_model_of("gpus:H100") == "H100"
    assert vector.is_dimension("gpus") and vector.is_dimension("gpus:Ascend 910B")
    assert not vector.is_dimension("gpus:") and not vector.is_dimension("cpu")
    assert vector.models_label({"H100": 4, "A100": 4, "V100": 0}) == "A100, H100"
    assert sorted(["gpus:H100", "eips", "gpus", "vcpu"], key=vector.dimension_order) == [
        "vcpu", "eips", "gpus", "gpus:H100"]
