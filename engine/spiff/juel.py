"""A subset of JUEL (Camunda 7 / Flowable expressions), compiled to Python for the sandbox.

Models drawn for Camunda 7 write conditions, timers and mappings as ``${approved}`` or
``#{order.total > 100}``. They are never evaluated by a Java-style EL engine here: each is
translated, once, into a Python expression that the sandbox (``engine.sandbox``) checks at
deploy and evaluates at run time like any other expression, so JUEL opens no way around it.

Supported: ``${...}`` and ``#{...}`` (alone, or inside text: ``PT${minutes}M`` joins the parts
as text); variables and property paths (``order.total``, ``order['total']``, read as dictionary
keys, since task data is JSON); the literals true, false, null, numbers and strings; ``==``,
``!=``, ``<``, ``>``, ``<=``, ``>=`` and ``eq ne lt gt le ge``; ``&&``/``and``, ``||``/``or``,
``!``/``not``; ``empty``; ``+ - * / div % mod`` and unary minus; ``a ? b : c``; and
``execution.getVariable('x')`` (the variable ``x``; null when it is not set).

Refused (``JuelUnsupported``, which deploy reports with the element and line): any other method
or function call (``bean.method()``, ``''.getClass()``, ``fn:contains(...)``), names and
properties beginning with ``_`` (``x.__class__``), Python keywords as names, lambda and
assignment operators, and number literals longer than ``MAX_NUMBER_CHARS``.

Where it differs from JUEL: ``+`` on two strings joins them (JUEL would try to read numbers),
and an unknown variable fails the evaluation as it does in Camunda, except through
``execution.getVariable``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

MAX_NUMBER_CHARS = 30
MAX_SOURCE_CHARS = 10_000
TEXT = "juel_text"  # helper: a value as composite text
VARS = "juel_vars"  # helper: the task data, for execution.getVariable

_OPEN = re.compile(r"[$#]\{")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]=;{}&|^~@])
""", re.X | re.S)
_WORD_OPS = {"and": "and", "or": "or", "not": "not", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
             "le": "<=", "ge": ">=", "div": "/", "mod": "%", "empty": "empty", "instanceof": "instanceof"}
_LITERALS = {"true": "True", "false": "False", "null": "None"}
_GET_VARIABLE = ("getVariable", "getVariableLocal")


class JuelUnsupported(ValueError):
    """The expression uses JUEL outside the supported subset; the message names what."""


def is_juel(text: str | None) -> bool:
    """Does ``text`` hold a ``${...}`` or ``#{...}`` expression?"""
    return bool(text) and _OPEN.search(text) is not None


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise JuelUnsupported(f"unexpected character {source[pos]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "ws":
            continue
        text = m.group()
        if kind == "ident" and text in _WORD_OPS:
            kind, text = "op", _WORD_OPS[text]
        out.append(_Tok(kind, text))
    return out


def _string(text: str) -> str:
    """A JUEL string literal as a Python one (JUEL escapes only quotes and the backslash)."""
    body = text[1:-1]
    value = re.sub(r"\\(.)", lambda m: m.group(1) if m.group(1) in "'\"\\" else "\\" + m.group(1), body)
    return repr(value)


def _name(text: str) -> str:
    if text.startswith("_") or "$" in text:
        raise JuelUnsupported(f"the name {text!r} (names may not begin with '_' or hold '$')")
    if keyword.iskeyword(text) or text in ("True", "False", "None"):
        raise JuelUnsupported(f"the name {text!r} (a reserved word here)")
    return text


class _Parser:
    """Recursive descent over JUEL's grammar, emitting fully parenthesised Python."""

    def __init__(self, tokens: list[_Tok]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self, *texts: str) -> bool:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        return tok is not None and tok.kind == "op" and tok.text in texts

    def take(self) -> _Tok:
        if self.i >= len(self.toks):
            raise JuelUnsupported("the expression ends too early")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != text:
            raise JuelUnsupported(f"expected {text!r}, found {tok.text!r}")

    def parse(self) -> str:
        out = self.ternary()
        if self.i < len(self.toks):
            raise JuelUnsupported(f"unsupported {self.toks[self.i].text!r}")
        return out

    def ternary(self) -> str:
        cond = self.binary(0)
        if self.peek("?"):
            self.take()
            yes = self.ternary()
            self.expect(":")
            no = self.ternary()
            return f"({yes} if {cond} else {no})"
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("or", "||"), ("and", "&&"), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))
    _PY = {"||": "or", "&&": "and"}

    def binary(self, level: int) -> str:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek(*self._LEVELS[level]):
            op = self.take().text
            right = self.binary(level + 1)
            left = f"({left} {self._PY.get(op, op)} {right})"
        return left

    def unary(self) -> str:
        if self.peek("!", "not"):
            self.take()
            return f"(not {self.unary()})"
        if self.peek("-"):
            self.take()
            return f"(-{self.unary()})"
        if self.peek("empty"):
            self.take()
            return f"({self.unary()} in (None, '', [], {{}}))"
        return self.value()

    def value(self) -> str:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            inner = self.ternary()
            self.expect(")")
            out = f"({inner})"
        elif tok.kind == "number":
            if len(tok.text) > MAX_NUMBER_CHARS:
                raise JuelUnsupported(f"a number literal of more than {MAX_NUMBER_CHARS} characters")
            out = tok.text
        elif tok.kind == "string":
            out = _string(tok.text)
        elif tok.kind == "ident" and tok.text in _LITERALS:
            out = _LITERALS[tok.text]
        elif tok.kind == "ident" and tok.text == "execution" and self.peek("."):
            return self.get_variable()
        elif tok.kind == "ident":
            out = _name(tok.text)
        else:
            raise JuelUnsupported(f"unsupported {tok.text!r}")
        return self.suffixes(out, tok.text)

    def get_variable(self) -> str:
        self.expect(".")
        method = self.take().text
        if method not in _GET_VARIABLE or not self.peek("("):
            raise JuelUnsupported(f"execution.{method} (of execution, only getVariable('name') is supported)")
        self.take()
        arg = self.take()
        self.expect(")")
        name = _string(arg.text)[1:-1] if arg.kind == "string" else None
        if name is None or not name.isidentifier():
            raise JuelUnsupported("execution.getVariable takes one variable name in quotes")
        _name(name)
        return self.suffixes(f"{VARS}.get({name!r})", name)

    def suffixes(self, out: str, shown: str) -> str:
        while self.peek(".", "[", "("):
            op = self.take().text
            if op == "(":
                raise JuelUnsupported(f"the method or function call {shown}(...) (calls are not supported)")
            if op == ".":
                tok = self.take()
                if tok.kind != "ident" and not (tok.kind == "op" and tok.text in _WORD_OPS.values()):
                    raise JuelUnsupported(f"a property name after {shown!r}")
                if self.peek("("):
                    raise JuelUnsupported(f"the method call {shown}.{tok.text}(...) (calls are not supported)")
                prop = [k for k, v in _WORD_OPS.items() if v == tok.text][0] if tok.kind == "op" else tok.text
                if prop.startswith("_"):
                    raise JuelUnsupported(f"the property {prop!r} (names may not begin with '_')")
                out, shown = f"{out}[{prop!r}]", f"{shown}.{prop}"
            else:
                index = self.ternary()
                self.expect("]")
                out, shown = f"{out}[{index}]", f"{shown}[...]"
        return out


def _one(source: str) -> str:
    return _Parser(_tokens(source)).parse()


def _split(text: str) -> list[tuple[bool, str]]:
    """(is_expression, text) parts of a composite text, braces inside string literals allowed."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    while True:
        m = _OPEN.search(text, pos)
        if m is None:
            if pos < len(text):
                parts.append((False, text[pos:]))
            return parts
        if m.start() > pos:
            parts.append((False, text[pos:m.start()]))
        i, quote = m.end(), None
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "}":
                break
            i += 1
        else:
            raise JuelUnsupported("a '${' without its closing '}'")
        parts.append((True, text[m.end():i]))
        pos = i + 1


@lru_cache(maxsize=2048)
def to_python(text: str) -> str:
    """The Python expression ``text`` (holding ``${...}``/``#{...}``) compiles to, or
    ``JuelUnsupported`` naming what is outside the subset."""
    if len(text) > MAX_SOURCE_CHARS:
        raise JuelUnsupported(f"an expression of more than {MAX_SOURCE_CHARS} characters")
    parts = _split(text.strip())
    if len(parts) == 1 and parts[0][0]:
        return _one(parts[0][1])
    pieces = [f"{TEXT}({_one(src)})" if is_expr else repr(src) for is_expr, src in parts]
    return "(" + " + ".join(pieces) + ")"


def text_of(value: object) -> str:
    """How a value appears inside composite text (null as nothing, booleans as JUEL writes them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def helpers(data: dict) -> dict[str, object]:
    """The names a compiled expression may use besides task data (``data``, shown read-only)."""
    return {TEXT: text_of, VARS: MappingProxyType(data)}
