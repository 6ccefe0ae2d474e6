"""Process registry: versions, identical redeploys, exact export, tenant shadowing, rejection."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import DeploymentRejected, NotFound
from engine.models import BpmnFile, Deployment, ProcessDefinition
from engine.registry import export_xml, resolve, visible_definition
from tests.helpers import read

APPROVAL = {"approval.bpmn": read("approval.bpmn"), "review-schema.json": read("review-schema.json"),
            "review-uischema.json": read("review-uischema.json")}


def counts(engine) -> tuple[int, int, int]:
    with engine.db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Deployment, ProcessDefinition, BpmnFile))


def test_versions_count_up_and_identical_bytes_return_the_existing_version(any_engine):
    first = any_engine.registry.deploy(APPROVAL, actor="designer")
    assert [(d.key, d.version, d.created) for d in first.definitions] == [("approval", 1, True)]

    again = any_engine.registry.deploy(APPROVAL, actor="designer")
    assert [(d.key, d.version, d.created) for d in again.definitions] == [("approval", 1, False)]
    assert again.deployment_id is None
    assert counts(any_engine) == (1, 1, 3)

    changed = dict(APPROVAL, **{"approval.bpmn": APPROVAL["approval.bpmn"].replace(b"Simple approval", b"Approval")})
    second = any_engine.registry.deploy(changed)
    assert [(d.key, d.version, d.created) for d in second.definitions] == [("approval", 2, True)]
    # the unchanged form files are stored once, whatever deployments share them
    assert counts(any_engine) == (2, 2, 4)


def test_a_changed_form_alone_makes_a_new_version(engine):
    engine.registry.deploy(APPROVAL)
    schema = APPROVAL["review-schema.json"].replace(b'"maxLength": 500', b'"maxLength": 400')
    result = engine.registry.deploy(dict(APPROVAL, **{"review-schema.json": schema}))
    assert result.definitions[0].version == 2


def test_export_returns_the_uploaded_bytes_unchanged(engine):
    odd = APPROVAL["approval.bpmn"].replace(b'<bpmn:startEvent id="start">', b'<bpmn:startEvent   id="start" >')
    engine.registry.deploy(dict(APPROVAL, **{"approval.bpmn": odd}))
    with engine.db.read() as s:
        assert export_xml(s, resolve(s, "approval", None)) == odd


def test_a_tenant_version_shadows_the_platform_inside_that_tenant_only(any_engine):
    any_engine.registry.deploy(APPROVAL)
    own = APPROVAL["approval.bpmn"].replace(b"Simple approval", b"Alpha approval")
    alpha = any_engine.registry.deploy(dict(APPROVAL, **{"approval.bpmn": own}), tenant_id="t-alpha")
    any_engine.registry.deploy(dict(APPROVAL, **{"approval.bpmn": own.replace(b"Alpha", b"Platform v3")}))
    with any_engine.db.read() as s:
        assert resolve(s, "approval", "t-alpha").name == "Alpha approval"
        assert resolve(s, "approval", "t-beta").name == "Platform v3 approval"
        assert resolve(s, "approval", None).version == 3
        assert visible_definition(s, "approval", alpha.definitions[0].version, "t-alpha").tenant_id == "t-alpha"
        with pytest.raises(NotFound):
            visible_definition(s, "approval", alpha.definitions[0].version, "t-beta")


def rejected(engine, files) -> list:
    with pytest.raises(DeploymentRejected) as info:
        engine.registry.deploy(files)
    assert counts(engine) == (0, 0, 0), "a failed deployment must store nothing"
    return info.value.errors


def test_missing_form_is_rejected_with_file_line_and_element(engine):
    errors = rejected(engine, {"approval.bpmn": APPROVAL["approval.bpmn"]})
    assert {(e.file, e.element_id) for e in errors} == {("approval.bpmn", "review")}
    assert all(e.line and e.line > 20 for e in errors)
    assert "review-schema.json" in " ".join(e.message for e in errors)


def test_script_policy_refusal_names_the_line(engine):
    bad = APPROVAL["approval.bpmn"].replace(b"total = amount * Decimal('1.06')",
                                            b"total = 1\nimport os\nos.system('id')")
    errors = rejected(engine, dict(APPROVAL, **{"approval.bpmn": bad}))
    assert errors[0].element_id == "record"
    script_line = bad.decode().splitlines().index("import os") + 1
    assert errors[0].line == script_line


@pytest.mark.parametrize("payload", [
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><d>&b;</d>',
    b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="x"><unclosed></bpmn:definitions>',
])
def test_unsafe_or_malformed_xml_is_rejected(engine, payload):
    errors = rejected(engine, {"evil.bpmn": payload})
    assert errors[0].file == "evil.bpmn" and errors[0].line == 1


def test_oversize_file_is_rejected(engine):
    engine.registry.max_bytes = 1000
    errors = rejected(engine, APPROVAL)
    assert "limit is 1000" in errors[0].message


def test_parser_error_gets_its_line_back(engine):
    start = b'<bpmn:startEvent id="start">\n      <bpmn:outgoing>f1</bpmn:outgoing>\n    </bpmn:startEvent>'
    no_start = APPROVAL["approval.bpmn"].replace(start, b"")
    errors = rejected(engine, dict(APPROVAL, **{"approval.bpmn": no_start}))
    assert errors[0].file == "approval.bpmn" and errors[0].line is not None, errors


def test_unregistered_operators_and_xsd_violations_are_warnings(engine):
    service = read("service.bpmn").replace(b'<bpmn:serviceTask id="call"', b'<bpmn:serviceTask bogus="1" id="call"')
    result = engine.registry.deploy({"service.bpmn": service})
    messages = [w.message for w in result.warnings]
    assert any("'test/echo' is not registered" in m for m in messages)
    assert any("bogus" in m for m in messages)
    assert result.definitions[0].created


def test_an_element_whose_id_is_start_is_refused_naming_it(engine):
    """``Start`` is SpiffWorkflow's own first task in every process: a start event with that id was
    never parsed, and the process could not start ("No output task connected")."""
    approval = APPROVAL["approval.bpmn"]
    renamed = approval.replace(b'id="start"', b'id="Start"').replace(b'sourceRef="start"', b'sourceRef="Start"')
    errors = rejected(engine, dict(APPROVAL, **{"approval.bpmn": renamed}))
    [error] = errors
    assert error.element_id == "Start" and "the engine's own name" in error.message
    assert error.line == renamed[:renamed.index(b'id="Start"')].count(b"\n") + 1
