"""Hostile input stops here: every JSON request body is parsed once, by ``loads``, with limits.

Flask's ``request.get_json`` (through the app's JSON provider) and webargs (through ``Parser``,
the parser of every blueprint made with ``api.blueprints.Blueprint``) read the same parse, and a
``before_request`` guard parses each JSON body before any view runs, so no route, decorator or
hook (``@idempotent`` included) ever sees the body another way. A body over a limit is a 422 with
the usual ``{code, message, errors}`` shape naming each place; malformed JSON is a 400.

Limits:
- nesting: at most ``MAX_JSON_DEPTH`` arrays/objects deep (the stdlib parser recurses in C and
  fails with RecursionError around 1,000);
- integers: at most ``MAX_INT_DIGITS`` digits (Python refuses to parse more than 4,300, and
  converting big ones costs quadratic time) and within a signed 64-bit range (``MAX_INT``: what a
  database column holds, so an oversized count is a 422, not a driver overflow); other numbers: at
  most ``MAX_NUMBER_CHARS`` characters as written, and finite (``1e999`` is not a float; ``NaN``
  and ``Infinity`` are not JSON at all). Numbers keep the stdlib types: ints stay ``int``, the rest ``float``; a money
  field (``fields.Decimal``) converts from the string, exact, or from the number's shortest
  repr, as before;
- text: no U+0000 (PostgreSQL text cannot hold it) and no lone UTF-16 surrogate such as
  ``"\\ud800"`` (not encodable as UTF-8, so no database, log or response can hold it), in JSON
  strings and keys, query parameters, path parameters, form fields and upload file names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

import flask
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from engine.errors import EngineError, InvalidInput

MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 100
MAX_INT = 2**63 - 1  # what every database integer column holds; no field of the API needs more
MAX_NUMBER_CHARS = 100
MAX_REPORTED = 10  # problems listed in one error body

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# the only way a decoded JSON document holds either: an escape (raw control characters are refused by
# the strict parser, and the body was decoded as strict UTF-8)
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class BadJSON(EngineError):
    """The body says it is JSON but does not parse."""

    status = 400
    code = "bad_request"


class _Refused:
    """Stands in for a number the parser refused, so the walk afterwards can say where it was."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be accepted (a NUL or a lone surrogate), or None."""
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "contains U+0000 (NUL), which is not allowed"
    return f"contains a lone UTF-16 surrogate (\\u{ord(char):04x}), which is not valid Unicode text"


def _shown(name: str) -> str:
    """A field name fit to echo back: bad characters escaped (``\\x00``, ``\\ud800``), at most 200 long."""
    name = _BAD_TEXT.sub(lambda m: ascii(m.group())[1:-1], name)
    return name if len(name) <= 200 else name[:197] + "..."


def _refuse(problems: list[dict[str, str]], where: str) -> InvalidInput:
    summary = "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems[:3])
    return InvalidInput(f"invalid {where}: {summary}", errors=problems[:MAX_REPORTED])


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _problems(value: Any) -> list[dict[str, str]]:
    """Each refused number, over-deep container and bad string in a parsed document (iteratively:
    the document may be as deep as the C parser allows)."""
    found: list[dict[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack and len(found) < MAX_REPORTED:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                found.append({"field": path, "message": f"nested deeper than {MAX_JSON_DEPTH} levels"})
                continue
            pairs: Iterable[tuple[Any, Any]] = item.items() if isinstance(item, dict) else enumerate(item)
            children = []
            for key, sub in pairs:
                if isinstance(key, str) and (why := text_problem(key)):
                    found.append({"field": _join(path, key), "message": f"key {why}"})
                children.append((sub, _join(path, key), depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, _Refused):
            found.append({"field": path, "message": item.why})
        elif isinstance(item, str) and (why := text_problem(item)):
            found.append({"field": path, "message": why})
    for problem in found:  # a path built from a refused key must not carry the bad character itself
        problem["field"] = _shown(problem["field"])
    return found


def _too_deep(text: str) -> bool:
    """Does the document nest deeper than MAX_JSON_DEPTH? (brackets outside strings, counted before parsing)"""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def loads(data: bytes | str) -> Any:
    """Parse one JSON document within the limits above.

    Raises ValueError (``json.JSONDecodeError`` or ``UnicodeDecodeError``) for malformed input and
    ``InvalidInput`` (422) for a document over a limit, naming where."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if _too_deep(text):
        raise _refuse([{"field": "", "message": f"nested deeper than {MAX_JSON_DEPTH} levels"}], "JSON body")
    refused = False

    def parse_int(literal: str) -> Any:
        nonlocal refused
        if len(literal) - literal.startswith("-") > MAX_INT_DIGITS:
            refused = True
            return _Refused(f"integer has more than {MAX_INT_DIGITS} digits")
        number = int(literal)
        if not -MAX_INT <= number <= MAX_INT:
            refused = True
            return _Refused(f"integer {literal} is out of range (a signed 64-bit integer at most)")
        return number

    def parse_float(literal: str) -> Any:
        nonlocal refused
        if len(literal) > MAX_NUMBER_CHARS:
            refused = True
            return _Refused(f"number is longer than {MAX_NUMBER_CHARS} characters")
        number = float(literal)
        if not math.isfinite(number):
            refused = True
            return _Refused(f"number {literal} is out of range")
        return number

    def parse_constant(literal: str) -> Any:
        nonlocal refused
        refused = True
        return _Refused(f"{literal} is not a JSON number")

    try:
        value = json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except RecursionError:  # cannot happen after _too_deep; kept so a miscount is never a 500
        raise _refuse([{"field": "", "message": f"nested deeper than {MAX_JSON_DEPTH} levels"}],
                      "JSON body") from None
    # the walk runs only when something may be wrong: a refused number, or an escape that may be bad
    if refused or _BAD_ESCAPE.search(text):
        problems = _problems(value)
        if problems:
            raise _refuse(problems, "JSON body")
    return value


class JSONProvider(DefaultJSONProvider):
    """``request.get_json`` parses with ``loads`` (responses are written as before)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class Request(flask.Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not a JSON content type: Flask's 415
            return super().on_json_loading_failed(e)
        raise BadJSON(f"invalid JSON body: {e}", errors=[{"field": "", "message": "Invalid JSON body."}])


class Parser(FlaskParser):
    """webargs on top of the one parse: the JSON location reads ``request.get_json()``."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing
        return req.get_json()


def _check_text(where: str, values: Iterable[tuple[Any, Any]]) -> None:
    problems = []
    for key, value in values:
        for text, what in ((key, "name "), (value, "")):
            if isinstance(text, str) and (why := text_problem(text)):
                problems.append({"field": _shown(str(key)), "message": what + why})
    if problems:
        raise _refuse(problems, where)


def guard() -> None:
    """before_request: refuse hostile text in the query, the path and form fields, and parse any JSON
    body now (so every later reader gets the checked, cached parse)."""
    _check_text("query string", request.args.items(multi=True))
    if request.view_args:
        _check_text("path", request.view_args.items())
    if request.is_json:
        if request.get_data(cache=True):
            request.get_json()
    elif request.mimetype in _FORM_TYPES:
        _check_text("form", request.form.items(multi=True))
        _check_text("upload", ((field, upload.filename) for field, upload in request.files.items(multi=True)))


def install(app: Flask) -> None:
    app.json = JSONProvider(app)
    app.request_class = Request
    app.before_request(guard)
