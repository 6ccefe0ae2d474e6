"""`aicmp bpmn check` and `aicmp bpmn simulate`: what a designer runs before deploying."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from api.cli import main
from engine.runtime.steps import MAX_STEPS
from tests.helpers import CONFORMANCE, DATA


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


MESSAGE_WAIT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:message id="m_reply" name="reply" />
  <bpmn:process id="waits" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="catch"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="m_reply">
        <bpmn:extensionElements><spiffworkflow:messageVariable>reply</spiffworkflow:messageVariable>
        </bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="gw" default="f3"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="accepted" name="Accepted"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="other" name="Other"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="catch"/>
    <bpmn:sequenceFlow id="f1" sourceRef="catch" targetRef="gw"/>
    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="accepted">
      <bpmn:conditionExpression>reply.get('answer') == 'yes'</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="other"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_simulate_answers_a_waiting_message_with_the_given_payload(tmp_path, capsys):
    model = tmp_path / "waits.bpmn"
    model.write_text(MESSAGE_WAIT)
    args = ["bpmn", "simulate", str(model), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["path"][-1] == "Other"  # answered {}
    assert main([*args, "--message", 'reply={"answer": "yes"}']) == 0
    assert json.loads(capsys.readouterr().out)["path"][-1] == "Accepted"


SLOW_APPROVER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="slow" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="approve"/>
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:boundaryEvent id="remind" name="Remind" attachedToRef="approve" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT24H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="remind" targetRef="reminded"/>
    <bpmn:endEvent id="reminded" name="Reminded"/>
    <bpmn:boundaryEvent id="deadline" name="Deadline" attachedToRef="approve">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT48H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="deadline" targetRef="escalated"/>
    <bpmn:endEvent id="escalated" name="Escalated"/>
    <bpmn:sequenceFlow id="f3" sourceRef="approve" targetRef="approved"/>
    <bpmn:endEvent id="approved" name="Approved"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(("late", "path"), [
    ([], ["start", "Approve", "Approved"]),  # answered at once: no timer fires
    (["--late", "approve=PT30H"], ["start", "Remind", "Reminded", "Approve", "Approved"]),  # the reminder first
    (["--late", "approve=P3D"], ["start", "Deadline", "Escalated", "Remind", "Reminded"]),  # never answered
])
def test_simulate_lets_a_late_approver_s_timers_fire_first(tmp_path, capsys, late, path):
    model = tmp_path / "slow.bpmn"
    model.write_text(SLOW_APPROVER)
    assert main(["bpmn", "simulate", str(model), *late, "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)["path"]
    assert ran[0] == "start" and sorted(ran[1:]) == sorted(path[1:])  # both timers due at once: either first
    if "Approve" in path:
        assert ran[-2:] == ["Approve", "Approved"]  # the answer comes after the timers due before it


def test_check_refuses_a_script_kept_in_a_file_beside_the_model(tmp_path, capsys):
    model = tmp_path / "external.bpmn"
    model.write_text(MESSAGE_WAIT.replace(
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ).replace('<bpmn:endEvent id="other"', '<bpmn:scriptTask id="xslt" scriptFormat="xslt" '
                                           'camunda:resource="convert.xsl" /><bpmn:endEvent id="other"'))
    assert main(["bpmn", "check", str(model)]) == 1
    assert "[xslt]: script: loaded from camunda:resource 'convert.xsl'" in capsys.readouterr().out


def test_simulate_exits_1_when_the_process_cannot_finish(models, capsys):
    stuck = models / "approval.bpmn"
    stuck.write_text(stuck.read_text().replace("total = amount * Decimal('1.06')", "total = missing_name"))
    assert main(["bpmn", "simulate", str(stuck), "--data", '{"amount": 1}']) == 1
    assert "did not finish" in capsys.readouterr().out


# -- loops and step limits -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]


def test_simulate_reports_a_loop_that_comes_back_to_the_same_state(capsys):
    """The README's rejection example: rejected, resubmitted unchanged, rejected again, for ever."""
    code = main(["bpmn", "simulate", str(ROOT / "bpmn" / "application.bpmn"),
                 "--task", 'org_approve={"decision": "reject"}'])
    out = capsys.readouterr().out
    assert code == 1
    result = out.splitlines()[-1]
    assert result.startswith("result: did not finish: loop:") and "same state" in result
    assert "Approve (organisation)" in result and "Edit and resubmit, or cancel" in result


def test_simulate_stops_at_the_step_limit_naming_what_it_kept_visiting(models, capsys):
    shutil.copy(DATA / "counting_loop.bpmn", models / "loop.bpmn")  # i = i + 1 for ever: never the same state
    code = main(["bpmn", "simulate", str(models / "loop.bpmn"), "--data", '{"i": 0}', "--max-steps", "60", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and not result["completed"]
    assert result["problem"].startswith("no end after 60 steps (the step limit)")
    assert all(name in result["problem"] for name in ("Merge", "Count", "Done?"))


def test_simulate_answers_a_message_with_the_waiting_subprocess_correlation_keys(capsys):
    """The receive task waits inside a subprocess, whose correlation key (uid 1) the top process
    does not hold: the answer carries the waiting task's own keys, so it is caught, and the payload
    gives the value the key's retrieval expression reads. Without it, the expression's error is
    the run's problem (not a crash)."""
    model = CONFORMANCE / "spiffworkflow" / "spiff" / "data" / "waiting_event.bpmn"
    if not model.is_file():
        pytest.skip(f"the conformance corpus is not at {CONFORMANCE}")
    assert main(["bpmn", "simulate", str(model), "--message", 'B={"uid": 1}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["completed"] is True
    assert main(["bpmn", "simulate", str(model), "--json"]) == 1
    problem = json.loads(capsys.readouterr().out)["problem"]
    assert problem == "answering a waiting message: NameError: name 'uid' is not defined"


def test_simulate_stops_at_the_runtimes_limit_of_one_advance(models, capsys):
    shutil.copy(DATA / "counting_loop.bpmn", models / "loop.bpmn")
    assert main(["bpmn", "simulate", str(models / "loop.bpmn"), "--data", '{"i": 0}']) == 1
    out = capsys.readouterr().out
    assert f"more than {MAX_STEPS} engine steps" in out and "kept visiting" in out
    assert "... " in out.splitlines()[1]  # a long path is shortened in the text output


# -- user errors: one line, exit 2; unexpected errors: a hint at --debug ------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["bpmn", "check", "/missing.bpmn"], "/missing.bpmn: no such file"),
    (["bpmn", "simulate", "/missing.bpmn"], "/missing.bpmn: no such file"),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--data", "{bad"], "--data: not valid JSON"),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--data", "[1]"], "--data must be a JSON object"),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--task", "review"], "--task takes NAME=JSON"),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--process", "nope"], "no executable process 'nope'"),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--late", "review"], "--late takes TASK_ID=DURATION"),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--late", "review=2 days"], "--late: review: "),
    (["bpmn", "simulate", "{models}/approval.bpmn", "--late", "review=P99999Y"], "--late: review: "),
    (["bpmn", "check", "{models}"], "not a file"),
])
def test_user_errors_are_one_line_and_exit_2(models, capsys, argv, message):
    code = main([a.replace("{models}", str(models)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("aicmp: error: ") and message in err and len(err.strip().splitlines()) == 1, err


def test_a_database_it_cannot_reach_is_a_user_error(monkeypatch, capsys):
    monkeypatch.setenv("AICMP_DATABASE_URL", "postgresql+psycopg://u:secret@127.0.0.1:1/nowhere")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aicmp: error: cannot use the database postgresql+psycopg://u:***@127.0.0.1:1/nowhere")
    assert "secret" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_setting_is_a_user_error(monkeypatch, capsys):
    monkeypatch.setenv("AICMP_PASSWORD_CLASSES", "9")
    assert main(["bpmn", "check", "/missing.bpmn"]) == 2
    assert "AICMP_PASSWORD_CLASSES must be between 1 and 4" in capsys.readouterr().err


def test_an_unexpected_error_is_short_and_points_at_debug(models, monkeypatch, capsys):
    import engine.designer

    def broken(*_args, **_kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(engine.designer, "check", broken)
    assert main(["bpmn", "check", str(models / "approval.bpmn")]) == 1
    err = capsys.readouterr().err
    assert "unexpected error: KeyError" in err and "--debug" in err and "Traceback" not in err
    with pytest.raises(KeyError):
        main(["bpmn", "check", str(models / "approval.bpmn"), "--debug"])
    with pytest.raises(KeyError):
        main(["--debug", "bpmn", "check", str(models / "approval.bpmn")])


def test_progress_only_on_a_terminal(monkeypatch, tmp_path, capsys):
    from api import cli

    assert cli._progress() is None  # pytest captures stdout: not a terminal
    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: True)
    progress = cli._progress()
    assert progress is not None
    progress("working")
    assert capsys.readouterr().err == "... working\n"


def test_serve_on_an_address_in_use_is_a_user_error(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aicmp: error: cannot listen on 127.0.0.1:{port}: ") and "in use" in err
