"""JSON-Schema forms attached to user tasks through spiffworkflow properties."""

from __future__ import annotations

import json
from typing import Any

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
