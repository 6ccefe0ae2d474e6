"""A subset of JUEL (Camunda 7 / Flowable expressions), compiled to Python for the sandbox.

Models drawn for Camunda 7 write conditions, timers and mappings as ``${approved}`` or
``#{order.total > 100}``. They are never evaluated by a Java-style EL engine here: each is
translated, once, into a Python expression that the sandbox (``engine.sandbox``) checks at
deploy and evaluates at run time like any other expression, so JUEL opens no way around it.

Supported: ``${...}`` and ``#{...}`` (alone, or inside text: ``PT${minutes}M`` joins the parts
as text); variables and property paths (``order.total``, ``order['total']``, read as dictionary
keys, since task data is JSON); the literals true, false, null, numbers and strings; ``==``,
``!=``, ``<``, ``>``, ``<=``, ``>=`` and ``eq ne lt gt le ge``; ``&&``/``and``, ``||``/``or``,
``!``/``not``; ``empty``; ``+ - * / div % mod`` and unary minus; ``a ? b : c``;
``execution.getVariable('x')`` (the variable ``x``; null when it is not set); and the value
methods of ``METHODS``: Java's string and collection methods models use in conditions
(``userId.toLowerCase() == 'joram'``, ``list.contains(x)``) and Camunda Spin's JSON reads
(``customer.prop('age').numberValue()``), each a pure function of plain data that checks the
type it is called on.

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
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

MAX_NUMBER_CHARS = 30
MAX_SOURCE_CHARS = 10_000
TEXT = "juel_text"  # helper: a value as composite text
VARS = "juel_vars"  # helper: the task data, for execution.getVariable
CALL = "juel_call"  # helper: one of METHODS on a value
MAX_ARGUMENTS = 3

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
                    if tok.text not in METHODS:
                        raise JuelUnsupported(f"the method call {shown}.{tok.text}(...) (calls are not "
                                              f"supported, except the value methods {', '.join(sorted(METHODS))})")
                    out, shown = self.method_call(out, tok.text), f"{shown}.{tok.text}()"
                    continue
                prop = [k for k, v in _WORD_OPS.items() if v == tok.text][0] if tok.kind == "op" else tok.text
                if prop.startswith("_"):
                    raise JuelUnsupported(f"the property {prop!r} (names may not begin with '_')")
                out, shown = f"{out}[{prop!r}]", f"{shown}.{prop}"
            else:
                index = self.ternary()
                self.expect("]")
                out, shown = f"{out}[{index}]", f"{shown}[...]"
        return out

    def method_call(self, target: str, method: str) -> str:
        self.expect("(")
        args: list[str] = []
        while not self.peek(")"):
            if args:
                self.expect(",")
            args.append(self.ternary())
            if len(args) > MAX_ARGUMENTS:
                raise JuelUnsupported(f"{method} with more than {MAX_ARGUMENTS} arguments")
        self.take()
        return f"{CALL}({target}, {method!r}{''.join(', ' + a for a in args)})"


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


def operator_call(text: str) -> tuple[str, dict[str, str]] | None:
    """``${bean.method(a, 'b')}`` drawn as a service task's expression, as an operator call: the
    dotted name (``bean.method``) and each argument as its own ``${...}`` expression, keyed by the
    variable it reads (``a``) or else by position (``arg2``). None when ``text`` is not one call;
    ``JuelUnsupported`` when an argument is outside the subset."""
    parts = _split(text.strip())
    if len(parts) != 1 or not parts[0][0]:
        return None
    toks = _tokens(parts[0][1])
    i, names = 0, []
    while i < len(toks) and toks[i].kind == "ident":
        names.append(toks[i].text)
        i += 1
        if i < len(toks) and toks[i].kind == "op" and toks[i].text == ".":
            i += 1
            continue
        break
    if not names or i >= len(toks) or toks[i].text != "(" or toks[-1].text != ")":
        return None
    args: list[list[_Tok]] = [[]]
    depth = 0
    for tok in toks[i + 1:-1]:
        if tok.kind == "op" and tok.text in "([":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]":
            depth -= 1
            if depth < 0:
                return None  # a(b)(c): not one call
        elif tok.kind == "op" and tok.text == "," and depth == 0:
            args.append([])
            continue
        args[-1].append(tok)
    if args == [[]]:
        args = []
    params: dict[str, str] = {}
    for n, arg in enumerate(args, start=1):
        source = "${" + " ".join(tok.text for tok in arg) + "}"
        to_python(source)  # refused here, at deploy, when outside the subset
        plain = len(arg) == 1 and arg[0].kind == "ident" and arg[0].text not in _LITERALS
        params[arg[0].text if plain and arg[0].text not in params else f"arg{n}"] = source
    return ".".join(names), params


def text_of(value: object) -> str:
    """How a value appears inside composite text (null as nothing, booleans as JUEL writes them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a text method called on {type(value).__name__}")
    return value


def _sized(value: object) -> str | list | dict:
    if not isinstance(value, (str, list, dict)):
        raise TypeError(f"a collection method called on {type(value).__name__}")
    return value


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"numberValue() of {type(value).__name__}")
    return value


def _typed(kind: type) -> object:
    def read(value: object) -> object:
        if not isinstance(value, kind):
            raise TypeError(f"{kind.__name__} value expected, found {type(value).__name__}")
        return value
    return read


def _index(i: object, size: int) -> int:
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= size:
        raise IndexError(f"index {i!r} out of range 0..{size}")
    return i


def _substring(value: object, start: object, end: object = None) -> str:
    text = _text(value)
    first = _index(start, len(text))
    last = len(text) if end is None else _index(end, len(text))
    if last < first:
        raise IndexError(f"substring({first}, {last}): the end comes before the start")
    return text[first:last]


def _get(value: object, key: object) -> object:
    """Map.get (null when the key is absent) or List.get (an index inside the list)."""
    if isinstance(value, dict):
        return value.get(key)  # type: ignore[call-overload]
    items = _sized(value)
    if not isinstance(items, list) or not items:
        raise TypeError(f"get() of {type(value).__name__}")
    return items[_index(key, len(items) - 1)]


def _prop(value: object, name: object) -> object:
    if not isinstance(value, dict) or not isinstance(name, str):
        raise TypeError("prop(name) reads a property of a JSON object")
    if name not in value:
        raise KeyError(f"the JSON object has no property {name!r}")
    return value[name]


METHODS: MappingProxyType = MappingProxyType({
    # java.lang.String
    "toLowerCase": lambda v: _text(v).lower(),
    "toUpperCase": lambda v: _text(v).upper(),
    "trim": lambda v: _text(v).strip(),
    "length": lambda v: len(_text(v)),
    "startsWith": lambda v, prefix: _text(v).startswith(_text(prefix)),
    "endsWith": lambda v, suffix: _text(v).endswith(_text(suffix)),
    "equalsIgnoreCase": lambda v, other: isinstance(other, str) and _text(v).casefold() == other.casefold(),
    "substring": _substring,
    # java.lang.Object, java.util.Collection and Map (contains: a substring of a text, an item of a list)
    "equals": lambda v, other: v == other,
    "size": lambda v: len(_sized(v)),
    "isEmpty": lambda v: len(_sized(v)) == 0,
    "contains": lambda v, item: (_text(item) in v) if isinstance(v, str) else item in _sized(v),
    "containsKey": lambda v, key: isinstance(v, dict) and key in v,
    "get": _get,
    # Camunda Spin (JSON variables)
    "prop": _prop,
    "hasProp": lambda v, name: isinstance(v, dict) and name in v,
    "numberValue": _number,
    "stringValue": _typed(str),
    "boolValue": _typed(bool),
    "elements": _typed(list),
    "isNull": lambda v: v is None,
    "value": lambda v: v,
})
"""The value methods the subset compiles: each reads plain data (JSON values) and returns plain
data; called on the wrong type it raises, as Java would."""


def call_method(value: object, method: str, *args: object) -> object:
    """``value.method(args)`` for one of ``METHODS`` (the compiled call; see ``_Parser.method_call``)."""
    return METHODS[method](value, *args)


def uses_helpers(source: str) -> bool:
    """Was ``source`` compiled from JUEL using its helpers (so they must be in scope)?"""
    return TEXT in source or VARS in source or CALL in source


def helpers(data: dict) -> dict[str, object]:
    """The names a compiled expression may use besides task data (``data``, shown read-only)."""
    return {TEXT: text_of, VARS: MappingProxyType(data), CALL: call_method}
