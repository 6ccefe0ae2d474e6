"""`aicmp bpmn check` and `aicmp bpmn simulate`: what a designer runs before deploying."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from api.cli import main
from tests.helpers import DATA


@pytest.fixture
def models(tmp_path: Path) -> Path:
    for name in ("approval.bpmn", "review-schema.json", "review-uischema.json", "service.bpmn", "caller.bpmn"):
        shutil.copy(DATA / name, tmp_path / name)
    shutil.copy(DATA / "child_v1.bpmn", tmp_path / "child.bpmn")
    return tmp_path


def test_check_prints_ok_and_exits_0(models, capsys):
    assert main(["bpmn", "check", str(models / "approval.bpmn"), str(models / "service.bpmn")]) == 0
    out = capsys.readouterr().out
    assert f"{models / 'approval.bpmn'}: OK" in out
    assert "warning:" in out and "'test/echo' is not registered" in out  # a warning, not a failure


def test_check_reports_each_error_with_its_line_and_exits_1(models, capsys):
    bad = models / "approval.bpmn"
    bad.write_text(bad.read_text().replace("total = amount * Decimal('1.06')", "import os"))
    (models / "review-schema.json").unlink()
    assert main(["bpmn", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "[record]: script:" in out and "review-schema.json" in out
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "import os" in text)
    assert f"approval.bpmn:{line} [record]" in out


def test_check_json_is_machine_readable(models, capsys):
    (models / "evil.bpmn").write_bytes(b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>')
    assert main(["bpmn", "check", "--json", str(models / "evil.bpmn"), str(models / "approval.bpmn")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in report] == [False, True]
    assert report[0]["errors"][0]["line"] == 1 and report[1]["processes"] == ["approval"]


def test_simulate_prints_the_path_and_uses_form_defaults(models, capsys):
    assert main(["bpmn", "simulate", str(models / "approval.bpmn"), "--data", '{"amount": 10}']) == 0
    out = capsys.readouterr().out
    assert "path: start -> Review request -> Approved? -> Record total -> Approved" in out  # default: approve
    assert "result: reached an end event" in out


def test_simulate_task_data_changes_the_path(models, capsys):
    code = main(["bpmn", "simulate", str(models / "approval.bpmn"), "--data", '{"amount": 1}',
                 "--task", 'review={"decision": "reject"}', "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["completed"] and result["path"][-1] == "Rejected"


def test_simulate_stubs_operators_and_reports_unstubbed_ones(models, capsys):
    args = ["bpmn", "simulate", str(models / "service.bpmn"), "--data", '{"amount": 2, "mode": "x"}', "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["stubbed"] == ["test/echo"]
    assert main([*args, "--stub", 'test/echo={"value": 4}']) == 0
    assert json.loads(capsys.readouterr().out)["stubbed"] == []


def test_simulate_follows_call_activities_into_sibling_files(models, capsys):
    assert main(["bpmn", "simulate", str(models / "caller.bpmn"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["process"] == "caller" and "Child task v1" in result["path"]


def test_simulate_exits_1_when_the_process_cannot_finish(models, capsys):
    stuck = models / "approval.bpmn"
    stuck.write_text(stuck.read_text().replace("total = amount * Decimal('1.06')", "total = missing_name"))
    assert main(["bpmn", "simulate", str(stuck), "--data", '{"amount": 1}']) == 1
    assert "did not finish" in capsys.readouterr().out
