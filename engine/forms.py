"""JSON-Schema forms attached to user tasks through spiffworkflow properties.

A user task names its form files (``formJsonSchemaFilename``/``formUiSchemaFilename``); the
files travel in the deployment. Submitted data is validated on the server against the schema
(draft 2020-12, formats checked) and every problem is reported per field as a JSON path such as
``$.amount`` or ``$.receipts[0].date``, so a client can put each message next to its input.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import immutable
from engine.models import BpmnFile, DeploymentFile, ProcessDefinition

SCHEMA_PROPERTY = "formJsonSchemaFilename"
UI_SCHEMA_PROPERTY = "formUiSchemaFilename"


def form_files(task_spec: Any) -> tuple[str | None, str | None]:
    """The (schema, ui schema) file names a user task names, if any."""
    props = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
    return props.get(SCHEMA_PROPERTY), props.get(UI_SCHEMA_PROPERTY)


def defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """The values a form starts with: each property's ``default``, nested objects included."""
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if "default" in prop:
            out[name] = prop["default"]
        elif prop.get("type") == "object":
            nested = defaults(prop)
            if nested:
                out[name] = nested
    return out


def load_schema(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    doc = json.loads(data)
    return doc if isinstance(doc, dict) else None


def load_task_forms(session: Session, definition_id: int, schema_file: str | None,
                    ui_file: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A task's (schema, ui schema), read from the deployment that holds its definition: one
    statement for both files."""
    names = [n for n in (schema_file, ui_file) if n]
    if not names:
        return None, None
    cache, key = immutable(session), ("task forms", definition_id, schema_file, ui_file)  # deployments never change
    if key not in cache:
        cache[key] = _task_forms(session, definition_id, schema_file, ui_file)
    schema, ui = cache[key]
    return copy.deepcopy(schema), copy.deepcopy(ui)


def _task_forms(session: Session, definition_id: int, schema_file: str | None,
                ui_file: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    names = [n for n in (schema_file, ui_file) if n]
    files = DeploymentFile.__table__
    contents = dict(session.execute(
        select(files.c.filename, BpmnFile.content)
        .join(BpmnFile, BpmnFile.sha256 == files.c.sha256)
        .join(ProcessDefinition, ProcessDefinition.deployment_id == files.c.deployment_id)
        .where(ProcessDefinition.id == definition_id, files.c.filename.in_(names))).all())

    def load(name: str | None) -> dict[str, Any] | None:
        return load_schema(contents.get(name)) if name else None

    return load(schema_file), load(ui_file)


def prefill(schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """What a form opens with: its defaults, overlaid with the task's current values of the
    form's own fields. Nothing else from the process data leaves the engine this way."""
    if not schema:
        return {}
    out = defaults(schema)
    for name in schema.get("properties") or {}:
        if name in data:
            out[name] = data[name]
    return out


# -- validation -----------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keywords with which a schema decides for itself which extra fields it accepts.
_OPEN_KEYWORDS = ("additionalProperties", "unevaluatedProperties", "patternProperties", "propertyNames",
                  "allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "if", "dependentSchemas")


def json_path(parts: Any) -> str:
    """``["receipts", 0, "date"]`` -> ``$.receipts[0].date`` (odd keys quoted: ``$['a b']``)."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            out += f".{part}"
        else:
            out += "['" + str(part).replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def _plain(value: Any) -> Any:
    """The value as a JSON client would send it: Decimal as a number, dates as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _problem(path: list[Any], message: str, keyword: str) -> dict[str, str]:
    return {"path": json_path(path), "message": message, "keyword": keyword}


def _undeclared(schema: dict[str, Any], data: dict[str, Any]) -> list[dict[str, str]]:
    """A form that lists its fields and says nothing about others accepts only those: a submitter
    must not be able to set arbitrary process variables through it."""
    props = schema.get("properties")
    if not isinstance(props, dict) or any(k in schema for k in _OPEN_KEYWORDS):
        return []
    return [_problem([key], "is not a field of this form", "additionalProperties")
            for key in data if key not in props]


def _describe(error: ValidationError) -> list[dict[str, str]]:
    at = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        return [_problem([*at, name], "is required", "required")
                for name in error.validator_value if name not in instance]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        declared = error.schema.get("properties") or {}
        patterns = list((error.schema.get("patternProperties") or {}).keys())
        extras = [k for k in instance if k not in declared and not any(re.search(p, k) for p in patterns)]
        if extras:
            return [_problem([*at, k], "is not allowed", "additionalProperties") for k in extras]
    return [_problem(at, error.message, str(error.validator))]


def validate(schema: dict[str, Any] | None, data: Any) -> list[dict[str, str]]:
    """Every problem with ``data`` as a form submission: ``[{"path", "message", "keyword"}]``,
    sorted by path; empty when it is valid (or the task has no schema and data is an object)."""
    if not isinstance(data, dict):
        return [_problem([], "form data must be a JSON object", "type")]
    if not schema:
        return []
    plain = _plain(data)
    problems = _undeclared(schema, plain)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(plain):
        problems.extend(_describe(error))
    unique = {(p["path"], p["message"]): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p["path"], p["message"]))
