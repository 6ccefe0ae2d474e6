"""FEEL and XPath conditions, a small subset of each, compiled to Python for the sandbox.

Models drawn for Camunda 8 (Zeebe) write conditions in FEEL behind a leading ``=``
(``= approved``, ``= some risk in riskLevels satisfies risk = "red"``); Trisotech and other DMN
tools declare FEEL with the ``language`` attribute (``Vacation Approval = "Approved"``, a name with
spaces); and BPMN's own default language is XPath 1.0 with ``bpmn:getDataObject('approved')``.
None of it is evaluated by a FEEL or XPath engine here: like ``engine.spiff.juel``, each is
translated once into a Python expression that the sandbox checks at deploy and evaluates at run
time like any other, so these languages open no way around it. The parse sees a copy of the tree
with the Python in place (``with_compiled_conditions``); the stored bytes stay as uploaded.

Which language (``dialect``): a leading ``=`` is FEEL (no Python expression starts so). Otherwise
the element's ``language`` attribute, else the definitions' ``expressionLanguage``: FEEL declared
on the element is FEEL; FEEL or XPath declared for the whole file applies only to text that is
not a Python expression (tools stamp XPath on files whose conditions are Python, which run as
they did); with nothing declared, text that is not Python and calls ``getDataObject`` is XPath,
BPMN's default. JUEL (``${...}``) stays JUEL. Only conditions are compiled (``TAGS``).

FEEL subset: names, and names with spaces only where the model declares a data object, data
input or output, or property of that name (read by that element's id, which is where
SpiffWorkflow keeps it, else by the name); paths ``a.b`` (dictionary keys); string, number,
``true``, ``false``, ``null``; ``= != < > <= >=``; ``and``, ``or``, ``not(...)``; ``+ - * /``
and unary minus; parentheses; ``some|every x in list satisfies cond`` (several ``x in list``
separated by commas). XPath subset: ``getDataObject('name')`` (with or without the ``bpmn:``
prefix; the data object's value), string and number literals, ``true()``, ``false()``,
``not(...)``, ``= != < > <= >=``, ``and``, ``or``, parentheses.

Refused (``FeelUnsupported``, which deploy reports with the element and line): any other
function call (``date and time("...")``, ``count(x)``), ``if``/``for``/``between``/``in``
tests, lists, contexts, filters, ``**``, names and properties beginning with ``_``, Python
keywords and helper names as names, an undeclared name with spaces, ``getDataObject`` of a data
object the model does not declare, other XPath (paths, axes, ``$variables``).

Where it differs: numbers are Python numbers (FEEL's are decimals); comparing or computing
with null fails the evaluation instead of giving null; an unknown variable fails the evaluation
(as JUEL does here) instead of being null.
"""

from __future__ import annotations

import ast
import copy
import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.spiff import juel
from engine.spiff.xmlcheck import BPMN_NS

FEEL, XPATH = "FEEL", "XPath"
MAX_NUMBER_CHARS = 30
MAX_SOURCE_CHARS = 10_000
DATA = "feel_data"  # helper: a declared data element's value, by key
HELPERS = frozenset({DATA, "any", "all"})
TAGS = frozenset({f"{{{BPMN_NS}}}conditionExpression", f"{{{BPMN_NS}}}completionCondition"})
_CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})


class FeelUnsupported(ValueError):
    """The expression uses FEEL or XPath outside the supported subset; ``language`` says which,
    the message names what."""

    def __init__(self, message: str, language: str = FEEL) -> None:
        super().__init__(message)
        self.language = language


# ---------------------------------------------------------------------------- which language


def _declared(language: str | None) -> str | None:
    if not language:
        return None
    lowered = language.lower()
    if "feel" in lowered:
        return FEEL
    if "xpath" in lowered:
        return XPATH
    return None


def _is_python(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def dialect(element: Any) -> str | None:
    """``FEEL`` or ``XPath`` when ``element`` (a condition) holds an expression in that language,
    None when its text is Python or JUEL and runs as it always did."""
    if element.tag not in TAGS:
        return None
    text = (element.text or "").strip()
    if not text or juel.is_juel(text):
        return None
    if text.startswith("=") and not text.startswith("=="):
        return FEEL  # Zeebe's marker: no Python expression starts with '='
    own = _declared(element.get("language"))
    if own == FEEL:
        return FEEL
    if _is_python(text):
        return None
    root = element.getroottree().getroot()
    declared = element.get("language") or root.get("expressionLanguage")
    if declared is None:
        return XPATH if "getDataObject" in text else None  # BPMN's default language
    return _declared(declared)


# ---------------------------------------------------------------------------- names the model declares


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@dataclass(frozen=True)
class Names:
    """What the model declares where an expression sits: ``data`` maps a name (or id) to the key
    its value is kept under, nearest scope first; ``objects`` the same for data objects only
    (what ``getDataObject`` reads)."""

    data: tuple[tuple[str, str], ...] = ()
    objects: tuple[tuple[str, str], ...] = ()

    def key(self, name: str, *, objects: bool = False) -> str | None:
        for declared, key in self.objects if objects else self.data:
            if declared == name:
                return key
        return None


def declared_names(element: Any) -> Names:
    """Data objects (and references to them), ioSpecification inputs and outputs, and properties
    of each process or subprocess around ``element``, nearest first, by name then by id."""
    data: list[tuple[str, str]] = []
    objects: list[tuple[str, str]] = []
    for scope in element.iterancestors():
        if _local(scope) not in _CONTAINERS:
            continue
        found: list[tuple[str, str, bool]] = []
        for child in scope:
            kind = _local(child)
            if kind == "dataObject" and child.get("id"):
                found.append((child.get("name") or "", child.get("id"), True))
            elif kind == "dataObjectReference" and child.get("dataObjectRef"):
                found.append((child.get("name") or "", child.get("dataObjectRef"), True))
            elif kind == "property" and child.get("id"):
                found.append((child.get("name") or "", child.get("id"), False))
            elif kind == "ioSpecification":
                for io in child:
                    if _local(io) in ("dataInput", "dataOutput") and io.get("id"):
                        found.append((io.get("name") or "", io.get("id"), False))
        for by_id in (False, True):
            for name, key, is_object in found:
                label = key if by_id else name
                if label:
                    data.append((label, key))
                    if is_object:
                        objects.append((label, key))
    return Names(tuple(data), tuple(objects))


# ---------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Tok:
    kind: str  # number, string, name, op
    text: str


_FEEL_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|!=|<=|>=|[-+*/=<>().,\[\]{}:?!@$#%&|^~;'`\\])
""", re.X | re.S)
_XPATH_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?)
  | (?P<op>!=|<=|>=|//|::|[-+*/=<>()\[\],@$|.:!])
""", re.X | re.S)


def _tokens(source: str, pattern: re.Pattern[str], language: str, spaced: Iterable[str] = ()) -> list[_Tok]:
    """Tokens of ``source``; a declared name with spaces is one name token wherever it stands."""
    spaced = sorted((n for n in spaced if " " in n.strip()), key=len, reverse=True)
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        for name in spaced:
            end = pos + len(name)
            if source.startswith(name, pos) and not (_word(source, end) or (pos and _word(source, pos - 1))):
                out.append(_Tok("name", name))
                pos = end
                break
        else:
            m = pattern.match(source, pos)
            if m is None:
                raise FeelUnsupported(f"unexpected character {source[pos]!r}", language)
            pos = m.end()
            if m.lastgroup != "ws":
                out.append(_Tok(m.lastgroup or "", m.group()))
    return out


def _word(source: str, at: int) -> bool:
    return at < len(source) and (source[at].isalnum() or source[at] == "_")


_FEEL_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def _feel_string(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc in _FEEL_ESCAPES:
            return _FEEL_ESCAPES[esc]
        if re.fullmatch(r"u[0-9a-fA-F]{4}", esc):
            return chr(int(esc[1:], 16))
        raise FeelUnsupported(f"the escape \\{esc} in a string")
    return repr(re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text[1:-1], flags=re.S))


def _safe(name: str, language: str, what: str = "name") -> str:
    if name.startswith("_"):
        raise FeelUnsupported(f"the {what} {name!r} ({what}s may not begin with '_')", language)
    if keyword.iskeyword(name) or name in ("True", "False", "None") or name in HELPERS:
        raise FeelUnsupported(f"the {what} {name!r} (a reserved word here)", language)
    return name


def _number(text: str, language: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise FeelUnsupported(f"a number literal of more than {MAX_NUMBER_CHARS} characters", language)
    return text if not text.startswith(".") else "0" + text


class _Base:
    language = FEEL

    def __init__(self, tokens: list[_Tok], names: Names) -> None:
        self.toks = tokens
        self.i = 0
        self.names = names

    def at(self, *texts: str, kind: str = "op") -> bool:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        return tok is not None and tok.kind == kind and (not texts or tok.text in texts)

    def take(self) -> _Tok:
        if self.i >= len(self.toks):
            raise FeelUnsupported("the expression ends too early", self.language)
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op", "name"):
            raise FeelUnsupported(f"expected {text!r}, found {tok.text!r}", self.language)

    def done(self, out: str) -> str:
        if self.i < len(self.toks):
            raise FeelUnsupported(f"unsupported {self.toks[self.i].text!r}", self.language)
        return out

    def data(self, key: str, name: str) -> str:
        return f"{DATA}({key!r}, {name!r})" if key != name else f"{DATA}({key!r})"

    def disjunction(self) -> str:
        """``a or b``: the same in FEEL and XPath."""
        left = self.conjunction()
        while self.at("or", kind="name"):
            self.take()
            left = f"({left} or {self.conjunction()})"
        return left

    def conjunction(self) -> str:
        left = self.comparison()
        while self.at("and", kind="name"):
            self.take()
            left = f"({left} and {self.comparison()})"
        return left

    def comparison(self) -> str:
        raise NotImplementedError


_COMPARE = {"=": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_FEEL_LITERALS = {"true": "True", "false": "False", "null": "None"}
_FEEL_REFUSED = {
    "if": "if ... then ... else", "then": "if ... then ... else", "else": "if ... then ... else",
    "for": "for ... return", "return": "for ... return", "between": "between", "in": "the 'in' test",
    "instance": "instance of", "function": "function definitions", "satisfies": "'satisfies' here",
}

_FEEL_SPACED_FUNCTIONS = frozenset({
    "date and time", "years and months duration", "day of week", "day of year", "week of year",
    "month of year", "string length", "upper case", "lower case", "substring before", "substring after",
    "starts with", "ends with", "list contains", "insert before", "index of", "distinct values",
    "get value", "get entries", "is defined"})


class _Feel(_Base):
    """Recursive descent over the FEEL subset, emitting fully parenthesised Python."""

    def __init__(self, tokens: list[_Tok], names: Names) -> None:
        super().__init__(tokens, names)
        self.bound: list[str] = []  # names of enclosing some/every

    def parse(self) -> str:
        return self.done(self.expression())

    def expression(self) -> str:
        if self.at("some", "every", kind="name"):
            return self.quantified()
        return self.disjunction()

    def quantified(self) -> str:
        word = self.take().text
        loops, bound = [], []
        while True:
            var = self.take()
            if var.kind != "name" or " " in var.text:
                raise FeelUnsupported(f"a variable name after {word!r}, found {var.text!r}")
            name = _safe(var.text, FEEL)
            self.expect("in")
            loops.append(f"for {name} in {self.disjunction()}")
            bound.append(name)
            self.bound.append(name)  # visible in later lists and in the condition
            if not self.at(","):
                break
            self.take()
        self.expect("satisfies")
        cond = self.expression()
        del self.bound[len(self.bound) - len(bound):]
        return f"{'any' if word == 'some' else 'all'}(({cond}) {' '.join(loops)})"

    def comparison(self) -> str:
        left = self.additive()
        if self.at(*_COMPARE):
            op = _COMPARE[self.take().text]
            left = f"({left} {op} {self.additive()})"
            if self.at(*_COMPARE):
                raise FeelUnsupported(f"a chained comparison ({self.toks[self.i].text!r} after a comparison)")
        return left

    def additive(self) -> str:
        left = self.multiplicative()
        while self.at("+", "-"):
            op = self.take().text
            left = f"({left} {op} {self.multiplicative()})"
        return left

    def multiplicative(self) -> str:
        left = self.unary()
        while self.at("*", "/"):
            op = self.take().text
            left = f"({left} {op} {self.unary()})"
        return left

    def unary(self) -> str:
        if self.at("-"):
            self.take()
            return f"(-{self.unary()})"
        return self.path()

    def path(self) -> str:
        out, shown = self.primary()
        while self.at("."):
            self.take()
            tok = self.take()
            if tok.kind != "name" or " " in tok.text:
                raise FeelUnsupported(f"a property name after {shown!r}")
            prop = tok.text
            if prop.startswith("_"):
                raise FeelUnsupported(f"the property {prop!r} (names may not begin with '_')")
            out, shown = f"{out}[{prop!r}]", f"{shown}.{prop}"
        if self.at("("):
            raise FeelUnsupported(f"the function call {self.spelled(shown)}(...) (only not(...) is supported)")
        if self.at("["):
            raise FeelUnsupported(f"a filter or index {shown}[...]")
        if self.at(kind="name") and self.toks[self.i].text not in ("and", "or", "in", "satisfies"):
            nxt = self.toks[self.i].text
            raise FeelUnsupported(
                f"the name {shown + ' ' + nxt!r} (a name with spaces must be a data object, data input "
                "or output, or property the model declares)" if nxt not in _FEEL_REFUSED else
                f"{_FEEL_REFUSED[nxt]} (not in the supported subset)")
        return out

    def spelled(self, shown: str) -> str:
        """A built-in function whose name has spaces (``date and time``) as FEEL spells it."""
        words = [t.text for t in self.toks[max(self.i - 3, 0):self.i]]
        for n in (3, 2):
            if len(words) >= n and " ".join(words[-n:]) in _FEEL_SPACED_FUNCTIONS:
                return " ".join(words[-n:])
        return shown

    def primary(self) -> tuple[str, str]:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            inner = self.expression()
            self.expect(")")
            return f"({inner})", "(...)"
        if tok.kind == "number":
            return _number(tok.text, FEEL), tok.text
        if tok.kind == "string":
            return _feel_string(tok.text), tok.text
        if tok.kind != "name":
            raise FeelUnsupported(f"unsupported {tok.text!r}")
        if tok.text in _FEEL_LITERALS:
            return _FEEL_LITERALS[tok.text], tok.text
        if tok.text == "not" and self.at("("):
            self.take()
            inner = self.expression()
            self.expect(")")
            return f"(not {inner})", "not(...)"
        if tok.text in ("some", "every"):
            self.i -= 1
            return f"({self.quantified()})", tok.text
        if tok.text in _FEEL_REFUSED or tok.text in ("and", "or", "not"):
            raise FeelUnsupported(f"{_FEEL_REFUSED.get(tok.text, repr(tok.text))} (not in the supported subset)")
        return self.name(tok.text), tok.text

    def name(self, text: str) -> str:
        if text in self.bound:
            return text
        key = self.names.key(text)
        if key is not None:
            return self.data(key, text)
        if " " in text:  # cannot happen: only declared names with spaces are tokens
            raise FeelUnsupported(f"the name {text!r}")
        return _safe(text, FEEL)


class _XPath(_Base):
    """The XPath subset: ``getDataObject``, literals, ``not``, comparisons, ``and``/``or``."""

    language = XPATH

    def parse(self) -> str:
        return self.done(self.disjunction())

    def comparison(self) -> str:
        left = self.primary()
        if self.at(*_COMPARE):
            op = _COMPARE[self.take().text]
            left = f"({left} {op} {self.primary()})"
        return left

    def primary(self) -> str:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            inner = self.disjunction()
            self.expect(")")
            return f"({inner})"
        if tok.kind == "number":
            return _number(tok.text, XPATH)
        if tok.kind == "string":
            return repr(tok.text[1:-1])
        if tok.kind != "name":
            raise FeelUnsupported(f"unsupported {tok.text!r}", XPATH)
        local = tok.text.split(":", 1)[-1]
        prefix = tok.text.split(":", 1)[0] if ":" in tok.text else None
        if not self.at("("):
            raise FeelUnsupported(f"the path {tok.text!r} (only getDataObject('name') reads data)", XPATH)
        self.take()
        if local in ("true", "false") and prefix is None:
            self.expect(")")
            return "True" if local == "true" else "False"
        if local == "not" and prefix is None:
            inner = self.disjunction()
            self.expect(")")
            return f"(not {inner})"
        if local == "getDataObject" and prefix in (None, "bpmn"):
            arg = self.take()
            if arg.kind != "string" or not self.at(")"):
                raise FeelUnsupported("getDataObject takes one data object name in quotes", XPATH)
            self.take()
            name = arg.text[1:-1]
            key = self.names.key(name, objects=True)
            if key is None:
                raise FeelUnsupported(f"getDataObject({name!r}): the model declares no data object {name!r}", XPATH)
            return self.data(key, name)
        raise FeelUnsupported(f"the function {tok.text}(...) (only getDataObject, not, true and false)", XPATH)


@lru_cache(maxsize=2048)
def to_python(language: str, text: str, names: Names = Names()) -> str:
    """The Python expression ``text`` in ``language`` (``FEEL``, a leading ``=`` allowed, or
    ``XPath``) compiles to, names resolved against ``names``; or ``FeelUnsupported``."""
    if len(text) > MAX_SOURCE_CHARS:
        raise FeelUnsupported(f"an expression of more than {MAX_SOURCE_CHARS} characters", language)
    source = text.strip()
    if language == XPATH:
        return _XPath(_tokens(source, _XPATH_TOKEN, XPATH), names).parse()
    if source.startswith("=") and not source.startswith("=="):
        source = source[1:]
    if not source.strip():
        raise FeelUnsupported("an empty expression")
    spaced = [name for name, _ in names.data]
    return _Feel(_tokens(source, _FEEL_TOKEN, FEEL, spaced), names).parse()


def compile_element(element: Any) -> str | None:
    """The Python a condition element's FEEL or XPath compiles to; None when its text stays as
    it is (Python, JUEL); ``FeelUnsupported`` when it is outside the subset."""
    language = dialect(element)
    if language is None:
        return None
    return to_python(language, element.text or "", declared_names(element))


def with_compiled_conditions(tree: Any) -> Any:
    """``tree`` itself when no condition is FEEL or XPath; otherwise a copy in which each is
    replaced by its Python (one outside the subset is left as it is: deploy refuses it first)."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    if not any(dialect(el) for el in root.iter(*TAGS)):
        return tree
    tree = copy.deepcopy(tree)
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    compiled = []
    for el in root.iter(*TAGS):
        try:
            source = compile_element(el)
        except FeelUnsupported:
            continue
        if source is not None:
            compiled.append((el, source))
    for el, source in compiled:  # after all are read: names are resolved against the original text
        el.text = source
    return tree


# ---------------------------------------------------------------------------- run time


def helpers(*scopes: Mapping[str, Any]) -> dict[str, object]:
    """The names a compiled expression may use besides task data: ``feel_data(key, ...)``, the
    value under the first key found in ``scopes`` (task data, then the process's data objects,
    nearest first); an unknown one fails the evaluation naming the last key (the model's name)."""

    def feel_data(*keys: str) -> Any:
        for key in keys:
            for scope in scopes:
                if key in scope:
                    return scope[key]
        raise NameError(f"name {keys[-1]!r} is not defined")

    return {DATA: feel_data}


def scopes_of(task: Any, external_context: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Where a condition of ``task`` reads declared data: its task data, what the engine passes
    (the workflow's data objects), then each enclosing workflow's data objects."""
    scopes: list[Mapping[str, Any]] = [task.data, external_context or {}]
    workflow = getattr(task, "workflow", None)
    while workflow is not None:
        objects = getattr(workflow, "data_objects", None)
        if isinstance(objects, Mapping):
            scopes.append(objects)
        workflow = getattr(workflow, "parent_workflow", None)
    return scopes
