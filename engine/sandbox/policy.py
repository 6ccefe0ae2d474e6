"""The compile-time policy: RestrictedPython's transformer plus aicmp's stricter rules and
budget hooks, and a cached compiler shared by deploy-time checks and run time."""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from .budget import SCRIPT_FILENAME, Limits
from .builtins_safe import BUDGET_BUILTINS
from .errors import Problem
from .guards import GUARDS

MAX_SOURCE_CHARS = 100_000
_CACHE_MAX_CHARS = 20_000
FORBIDDEN_CALLS = frozenset({
    "open", "getattr", "setattr", "delattr", "hasattr", "type", "vars", "dir", "compile", "globals",
    "locals", "breakpoint", "input", "format", "memoryview", "object", "super", "help", "exit", "quit"})
MAX_LITERAL_INT_BITS = Limits().max_int_bits
"""Int literals above this are refused at deploy time: `0xfff...` skips Python's digit limit."""
_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_",
    ast.Sub: "_sub_", ast.BitOr: "_or_", ast.BitAnd: "_and_", ast.BitXor: "_xor_", ast.FloorDiv: "_floordiv_"}
# With a number literal on either side these cannot build a string or container (that would
# be a TypeError), so they stay plain operators; `x % 2` keeps its guard (`fmt % 2` formats).
_NUMBER_SAFE: frozenset[type[ast.operator]] = frozenset({ast.Add, ast.Sub, ast.BitOr, ast.BitAnd, ast.BitXor})
_ERROR = re.compile(r"^Line (\d+|None): (.*)$", re.S)


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)
    return node


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus: no imports, no `_` at all, no str.format*, no classes or
    generators, no introspection builtins; loops, calls and size-growing operators are
    rewritten to call budget guards."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name == "_":
            self.error(node, '"_" is an invalid name because it starts with "_"')
        super().check_name(node, name, allow_magic_methods=False)

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        self.error(node, "generator functions (yield) are not allowed")
        return node

    visit_YieldFrom = visit_Yield  # type: ignore[assignment]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr == "_" or node.attr in ("format", "format_map", "mro"):
            self.error(node, f'"{node.attr}" is not an allowed attribute name')
        return super().visit_Attribute(node)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self.error(node, f'calling "{node.func.id}" is not allowed')
        return super().visit_Call(node)

    def visit_While(self, node: ast.While) -> Any:
        node = super().visit_While(node)
        node.body.insert(0, self._tick_stmt(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, self._tick_stmt(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        body = ast.BoolOp(op=ast.Or(), values=[_call("_tick_", [], node.body), node.body])
        copy_locations(body, node.body)
        node.body = body  # `_tick_() or body`: _tick_ returns None
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        if type(node.op) in _NUMBER_SAFE and (_is_number(node.left) or _is_number(node.right)):
            return node
        if type(node.op) is ast.Mult and (_is_float(node.left) or _is_float(node.right)):
            return node
        if type(node.op) is ast.Mod and _is_number(node.left):
            return node
        if type(node.op) is ast.FloorDiv and (_is_number(node.left) or _is_number(node.right)):
            return node  # `big // 3` is linear; only two large operands make it quadratic
        return _call(guard, [node.left, node.right], node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if type(value) is int and value.bit_length() > MAX_LITERAL_INT_BITS:
            self.error(node, f"integer literal of {value.bit_length()} bits (limit {MAX_LITERAL_INT_BITS})")
        return super().visit_Constant(node)

    def visit_Dict(self, node: ast.Dict) -> Any:
        """`{**d}` copies `d` in C: route it through `_dictunpack_`, which charges the copy."""
        node = self.node_contents_visit(node)
        node.values = [_call("_dictunpack_", [value], value) if key is None else value
                       for key, value in zip(node.keys, node.values, strict=True)]
        return node

    def visit_Starred(self, node: ast.Starred) -> Any:
        """`[*x]`, `f(*x)`: C unpacks the iterable, so route it through the iteration counter."""
        node = super().visit_Starred(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("_getiter_", [node.value], node)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = super().visit_FormattedValue(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        node.value = _call("_fmt_", [node.value, ast.Constant(node.conversion), spec], node)
        node.conversion, node.format_spec = -1, None
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """`d[k] += v` (refused by RestrictedPython) becomes `t = d; i = k; t[i] = op(t[i], v)`."""
        if not isinstance(node.target, ast.Subscript):
            return super().visit_AugAssign(node)
        if isinstance(node.target.slice, ast.Slice):
            self.error(node, "augmented assignment to a slice is not allowed")
            return node
        container, key = self.gen_tmp_name(), self.gen_tmp_name()
        value = self.visit(node.value)
        stmts: list[ast.stmt] = [
            ast.Assign([ast.Name(container, ast.Store())], self.visit(node.target.value)),
            ast.Assign([ast.Name(key, ast.Store())], self.visit(node.target.slice)),
        ]
        current = _call("_getitem_", [ast.Name(container, ast.Load()), ast.Name(key, ast.Load())], node)
        op = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/=", ast.FloorDiv: "//=",
              ast.Mod: "%=", ast.Pow: "**=", ast.LShift: "<<=", ast.RShift: ">>=", ast.BitAnd: "&=",
              ast.BitOr: "|=", ast.BitXor: "^="}.get(type(node.op))
        if op is None:
            self.error(node, "this augmented assignment is not allowed")
            return node
        target = ast.Subscript(_call("_write_", [ast.Name(container, ast.Load())], node),
                               ast.Name(key, ast.Load()), ast.Store())
        stmts.append(ast.Assign([target], _call("_inplacevar_", [ast.Constant(op), current, value], node)))
        for stmt in stmts:
            copy_locations(stmt, node)
        return stmts

    def _tick_stmt(self, like: ast.AST) -> ast.stmt:
        stmt = ast.Expr(_call("_tick_", [], like))
        copy_locations(stmt, like)
        return stmt


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, complex, bool)


def _is_float(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float


@dataclass(frozen=True, slots=True)
class Compiled:
    """A cached compile result; `guards` are the guard functions this code refers to."""

    code: CodeType | None
    problems: tuple[Problem, ...]
    guards: dict[str, Any]
    uses_budget: bool


def _all_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _all_names(const)
    return names


def _problems(errors: Any) -> tuple[Problem, ...]:
    found: list[Problem] = []
    for error in errors:
        match = _ERROR.match(error)
        line, message = (match.group(1), match.group(2)) if match else ("None", error)
        problem = Problem(int(line) if line.isdigit() else 1, message)
        if problem not in found:
            found.append(problem)
    return tuple(sorted(found, key=lambda p: p.line))


def _refused(*problems: Problem) -> Compiled:
    return Compiled(None, problems, {}, False)


def compile_source(source: str, mode: Literal["exec", "eval"]) -> Compiled:
    """Compile once per (source, mode); only short sources are cached, so task-data-derived
    text (Spiff's DMN label fallback) cannot pin large strings in memory."""
    if mode not in ("exec", "eval"):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if not isinstance(source, str):
        return _refused(Problem(1, f"source must be text, not {type(source).__name__}"))
    if len(source) > MAX_SOURCE_CHARS:
        return _refused(Problem(1, f"source longer than {MAX_SOURCE_CHARS} characters"))
    if len(source) > _CACHE_MAX_CHARS:
        return _compile(source, mode)
    return _compile_cached(source, mode)


def _compile(source: str, mode: Literal["exec", "eval"]) -> Compiled:
    """Scripts are dedented and expressions stripped: BPMN editors indent text inside XML."""
    text = textwrap.dedent(source) if mode == "exec" else source.strip()
    try:
        tree = ast.parse(text, SCRIPT_FILENAME, mode)
        compile_mode = compile_restricted_exec if mode == "exec" else compile_restricted_eval
        result = compile_mode(tree, filename=SCRIPT_FILENAME, policy=SandboxPolicy)
    except SyntaxError as err:
        return _refused(Problem(err.lineno or 1, f"syntax error: {err.msg}"))
    except (ValueError, RecursionError, MemoryError) as err:
        return _refused(Problem(1, f"cannot compile: {type(err).__name__}: {err}"))
    if result.errors or result.code is None:
        return _refused(*(_problems(result.errors) or (Problem(1, "refused by the script policy"),)))
    names = _all_names(result.code)
    guards = {name: GUARDS[name] for name in names & GUARDS.keys()}
    return Compiled(result.code, (), guards, bool(guards) or not names.isdisjoint(BUDGET_BUILTINS))


_compile_cached = lru_cache(maxsize=2048)(_compile)


def check_source(source: str, mode: Literal["exec", "eval"]) -> list[Problem]:
    """Deploy-time check: the problems that would stop `source` from running (empty = fine)."""
    return list(compile_source(source, mode).problems)
