"""``aicmp placement solve``: the three plans (or one) as text or JSON, the what-if, and user
mistakes as one line on stderr with exit code 2. The --json test runs the real command in a child
process, so nothing HiGHS writes to the terminal can hide in pytest's capture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import main
from tests.domains.placement.helpers import pool, request

ROOT = Path(__file__).resolve().parents[3]
DATA = {"requests": [request("train", vcpu=32, mem=256, gpu_model="H100", gpu_count=4, region="cn-north-1", count=3),
                     request("web", count=2)],
        "pools": [pool("gpu-a", region="cn-north-1", vcpu=128, mem=1024, gpu={"H100": 8}), pool("cpu-b")]}


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(DATA))
    return path


def test_json_output_is_the_plans_and_nothing_else_on_stdout(instance):
    done = subprocess.run([sys.executable, "-m", "api.cli", "placement", "solve", str(instance), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    plans = json.loads(done.stdout)["plans"]  # the whole of stdout parses: no solver banner in it
    assert [p["objective"] for p in plans] == ["cost", "performance", "balance"]
    assert all(p["placed"] == 4 and p["requested"] == 5 for p in plans)
    assert plans[0]["explanation"]["unplaced"][0]["fix"] == "+4 H100 in cn-north-1 (pool gpu-a)"


def test_one_objective_prints_that_plan_with_its_runner_up(instance, capsys):
    assert main(["placement", "solve", str(instance), "--objective", "balance", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["objective"] == "balance" and plan["explanation"]["runner_up"]["objective"] in ("cost", "performance")


def test_custom_weights_add_the_custom_plan_and_text_output_explains(instance, capsys):
    assert main(["placement", "solve", str(instance), "--weights", '{"cost": 1, "performance": 1}',
                 "--time-limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "custom-first plan: placed 4 of 5 copies" in out
    assert "train x1: the 1 pool(s) with H100 in cn-north-1 are full after this plan" in out
    assert "would fit with +4 H100 in cn-north-1 (pool gpu-a)" in out and "runner-up:" in out


def test_what_if_with_more_capacity(instance, capsys):
    assert main(["placement", "solve", str(instance), "--objective", "cost", "--capacity",
                 'gpu-a={"gpu": {"H100": 12}}', "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["delta"]["placed"] == 1 and out["after"]["placed"] == 5


@pytest.mark.parametrize("args, message", [
    (["--weights", "{"], "--weights: not valid JSON"),
    (["--objective", "custom"], "weights: the custom objective needs weights"),
    (["--time-limit", "0"], "time_limit_s: must be a number of seconds"),
    (["--drain", "nope"], "drain[0]: no pool 'nope'"),
])
def test_user_mistakes_are_one_line_and_exit_2(instance, capsys, args, message):
    assert main(["placement", "solve", str(instance), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_malformed_instance_names_the_field(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"requests": [request("a", vcpu=-2)], "pools": []}))
    assert main(["placement", "solve", str(path)]) == 2
    assert "requests[0].vcpu: must be a finite number, zero or more" in capsys.readouterr().err


def test_a_missing_file_is_a_user_error(tmp_path, capsys):
    assert main(["placement", "solve", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err
