"""Run-time guards that RestrictedPython's rewritten code calls (`_getattr_`, `_mul_`, ...).

They are stateless; the per-call budget comes from `budget.current()`.
"""

from __future__ import annotations

import datetime as _datetime
import logging
import math
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .budget import Budget, current, guarded_iter, refuse, tick
from .checks import (
    CHECKED_METHODS,
    ENTRY_BYTES,
    POINTER_BYTES,
    TypeProxy,
    bind_checked,
    check_repr_size,
    sized_or_counted,
    strftime_size,
    unit,
)

log = logging.getLogger(__name__)

BLOCKED_ATTRIBUTES = frozenset({"format", "format_map", "mro"}) | INSPECT_ATTRIBUTES
_SEQUENCES = (str, bytes, list, tuple)
SAFE_MODULES: set[int] = set()  # ids of the curated modules scripts may reach


def guarded_getattr(obj: object, name: str) -> Any:
    """`_getattr_`: no underscore names, no str.format*, no frame/code objects, no raw modules."""
    if type(name) is not str or name.startswith("_") or name in BLOCKED_ATTRIBUTES:
        refuse(f"access to attribute {name!r} is not allowed")
    if type(obj) is TypeProxy:
        obj = obj.wrapped  # `str.maketrans`, `dict.fromkeys`: use the real type
    checker = CHECKED_METHODS.get(name)
    if checker is not None:
        bound = bind_checked(obj, name, checker)
        if bound is not None:
            return bound
    value = getattr(obj, name)
    if isinstance(value, ModuleType) and id(value) not in SAFE_MODULES:
        refuse(f"attribute {name!r} is a module, which scripts may not reach")
    return value


def guarded_getitem(obj: Any, key: Any) -> Any:
    """`_getitem_`: plain subscription; a slice is a copy, charged before it is made."""
    if type(key) is slice and type(obj) in _SEQUENCES:
        current().check_size(len(range(*key.indices(len(obj)))), unit(obj))
    return obj[key]


class _ListWriter:
    """What `_write_` returns for a list: `a[i] = v` as usual, but slice assignment
    (`a[0:0] = x`, which grows the list from any iterable) is size-checked first."""

    __slots__ = ("target",)

    def __init__(self, target: list[Any]) -> None:
        object.__setattr__(self, "target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(key) is slice:
            budget = current()
            value, size = sized_or_counted(budget, value)
            budget.check_size(len(self.target) + size, 0)
            budget.charge(size * POINTER_BYTES)
        self.target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        refuse("cannot assign to attributes of a list")

    def __delattr__(self, name: str) -> None:
        refuse("cannot delete attributes of a list")


def guarded_write(obj: Any) -> Any:
    """`_write_`: scripts may assign items of lists and dicts, nothing else (no attribute writes)."""
    if type(obj) is dict:
        return obj
    if type(obj) is list:
        return _ListWriter(obj)
    refuse(f"cannot assign to items or attributes of a {type(obj).__name__}")


def _int_like(value: object) -> bool:
    return isinstance(value, int)


_BIG_BITS = 1024  # ints below this never need the budget consulted for + - // %


def _check_int_growth(a: int, b: int) -> None:
    """`x = x + x` in a loop adds a bit per iteration: keep ints at the size limit."""
    if a.bit_length() >= _BIG_BITS or b.bit_length() >= _BIG_BITS:
        current().check_bits(max(a.bit_length(), b.bit_length()) + 1)


def guarded_add(a: Any, b: Any) -> Any:
    """`a + b` with the result size checked before concatenating."""
    if type(a) in _SEQUENCES and type(b) in _SEQUENCES:
        current().check_size(len(a) + len(b), max(unit(a), unit(b)))
    elif type(a) is int and type(b) is int:
        _check_int_growth(a, b)
    return a + b


def _check_division(a: Any, b: Any) -> None:
    """`//` and `%` cost grows with both operands: refuse ints above the size limit (task data)."""
    if type(a) is int and type(b) is int and (a.bit_length() >= _BIG_BITS or b.bit_length() >= _BIG_BITS):
        current().check_operands(a, b)


def guarded_floordiv(a: Any, b: Any) -> Any:
    """`a // b`."""
    _check_division(a, b)
    return a // b


_SET_LIKE = frozenset({set, frozenset, dict, type({}.keys()), type({}.items())})
_VIEW_TYPES = (type({}.keys()), type({}.items()))


def _check_set_op(budget: Budget, a: Any, b: Any, grows: bool) -> tuple[Any, Any]:
    """`a | b`, `a ^ b` (grows) and `a - b`, `a & b` build a new set/dict; a dict view's
    operand may be any iterable, which C would consume uncounted."""
    if isinstance(a, _VIEW_TYPES) and type(b) not in _SET_LIKE:
        b, _ = sized_or_counted(budget, b)
    elif isinstance(b, _VIEW_TYPES) and type(a) not in _SET_LIKE:
        a, _ = sized_or_counted(budget, a)
    size_a = len(a) if hasattr(a, "__len__") else 0
    size_b = len(b) if hasattr(b, "__len__") else 0
    budget.check_size(size_a + size_b if grows else max(size_a, size_b), ENTRY_BYTES)
    return a, b


def guarded_sub(a: Any, b: Any) -> Any:
    """`a - b`: set/dict-view difference is a new set, charged first."""
    if type(a) is int and type(b) is int:
        _check_int_growth(a, b)
    elif type(a) in _SET_LIKE or type(b) in _SET_LIKE:
        a, b = _check_set_op(current(), a, b, False)
    return a - b


def guarded_or(a: Any, b: Any) -> Any:
    """`a | b`: set/dict union may be as large as both operands."""
    if type(a) in _SET_LIKE or type(b) in _SET_LIKE:
        a, b = _check_set_op(current(), a, b, True)
    return a | b


def guarded_and(a: Any, b: Any) -> Any:
    """`a & b`: set intersection is a new set, charged first."""
    if type(a) in _SET_LIKE or type(b) in _SET_LIKE:
        a, b = _check_set_op(current(), a, b, False)
    return a & b


def guarded_xor(a: Any, b: Any) -> Any:
    """`a ^ b`: symmetric difference may be as large as both operands."""
    if type(a) in _SET_LIKE or type(b) in _SET_LIKE:
        a, b = _check_set_op(current(), a, b, True)
    return a ^ b


def guarded_dict_unpack(mapping: Any) -> Any:
    """`{**d}`: the display copies `d` in C; charge the copy first."""
    if hasattr(mapping, "__len__"):
        current().check_size(len(mapping), ENTRY_BYTES)
    return mapping


def _check_mul(budget: Budget, a: Any, b: Any) -> None:
    if type(a) in _SEQUENCES and _int_like(b):
        budget.check_size(len(a) * b, unit(a))
    elif type(b) in _SEQUENCES and _int_like(a):
        budget.check_size(len(b) * a, unit(b))
    elif _int_like(a) and _int_like(b):
        budget.check_bits(a.bit_length() + b.bit_length())


def guarded_mul(a: Any, b: Any) -> Any:
    """`a * b`: `'a' * 10**9` and huge int products are refused without computing them."""
    if type(a) is float or type(b) is float:
        return a * b
    _check_mul(current(), a, b)
    return a * b


MODPOW_MAX_COST = 2 ** 33
"""`pow(a, b, m)` costs about bits(b) * bits(m)**2 digit operations: 2**33 is a 2048-bit RSA
exponentiation, ~20 ms; a 4096-bit one (~0.2 s, holding the GIL) is refused."""
DECIMAL_POW_MAX_DIGITS = 400
"""Decimal `**` with a non-integral exponent costs about the cube of the operands' digits
(770 digits: 40 ms; 5000: 3.5 s): longer operands are refused (context precision is 28)."""


def _check_pow(budget: Budget, a: Any, b: Any, mod: Any = None) -> None:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        _check_decimal_pow(budget, a, b)
        return
    if not (_int_like(a) and _int_like(b)):
        return
    if mod is not None:
        if _int_like(mod):
            budget.check_operands(a, b, mod)
            cost = max(b.bit_length(), 1) * max(mod.bit_length(), a.bit_length() if b < 0 else 1) ** 2
            if cost > MODPOW_MAX_COST:
                budget.fail("int size", f"pow() with a {b.bit_length()}-bit exponent and a "
                            f"{mod.bit_length()}-bit modulus is too expensive")
        return
    if b > 1 and abs(a) > 1:
        budget.check_bits(b * math.log2(abs(a)) if b.bit_length() < 64 else math.inf)


def _check_decimal_pow(budget: Budget, a: Any, b: Any) -> None:
    for value in (a, b):
        if isinstance(value, Decimal):
            digits = len(value.as_tuple().digits) if value.is_finite() else 0
        elif isinstance(value, int):
            digits = int(value.bit_length() * 0.30103)
        else:
            continue
        if digits > DECIMAL_POW_MAX_DIGITS:
            budget.fail("int size", f"Decimal ** with an operand of {digits} digits "
                        f"(limit {DECIMAL_POW_MAX_DIGITS})")


def guarded_pow(a: Any, b: Any, mod: Any = None) -> Any:
    """`a ** b` and `pow()`: the result's bit size is estimated from the operands first."""
    _check_pow(current(), a, b, mod)
    return a ** b if mod is None else pow(a, b, mod)


def guarded_lshift(a: Any, b: Any) -> Any:
    """`a << b`: the result has bit_length(a) + b bits; refuse before shifting."""
    if _int_like(a) and _int_like(b) and a and b > 0:
        current().check_bits(a.bit_length() + b)
    return a << b


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_spec_number(budget: Budget, digits: str) -> int:
    if len(digits) > 9:
        budget.check_size(budget.limits.max_sequence + 1)
    return int(digits)


def _check_percent(budget: Budget, fmt: str | bytes, args: Any) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    values = args if type(args) is tuple else (tuple(args.values()) if type(args) is dict else (args,))
    total, star = len(text), False
    for width, precision, conv in _PERCENT.findall(text):
        for part in (width, precision):
            if part == "*":
                star = True
            elif part:
                total += _check_spec_number(budget, part)
        if conv in "diouxX":
            for value in values:
                budget.check_decimal_to_int(value)
    if star:
        total += sum(abs(v) for v in values if _int_like(v))
    budget.check_size(total)
    for value in values:
        check_repr_size(budget, value)


def guarded_mod(a: Any, b: Any) -> Any:
    """`a % b`: printf-style widths (`'%999999999s' % x`) are checked before formatting."""
    if type(a) is str or type(a) is bytes:
        _check_percent(current(), a, b)
    else:
        _check_division(a, b)
    return a % b


_SPEC_NUMBER = re.compile(r"\d+")


def guarded_format(value: Any, conversion: int, spec: str) -> str:
    """`_fmt_`: one f-string field; conversion and format spec checked (`f'{x:999999999}'`)."""
    budget = current()
    check_repr_size(budget, value)
    if conversion == 115:
        value = str(value)
    elif conversion == 114:
        value = repr(value)
    elif conversion == 97:
        value = ascii(value)
    if spec:
        if not isinstance(spec, str):
            refuse("format spec must be text")
        for digits in _SPEC_NUMBER.findall(spec):
            budget.check_size(_check_spec_number(budget, digits))
        if spec[-1:] in "dnxXobc":
            budget.check_decimal_to_int(value)
        if isinstance(value, Decimal) and value.is_finite() and spec[-1:] in "fF%":
            budget.check_size(abs(value.adjusted()) + len(value.as_tuple().digits))  # f'{Decimal("1e999999999"):f}'
        elif isinstance(value, (_datetime.date, _datetime.time)):
            budget.check_size(strftime_size(value, spec), 4)
    return format(value, spec)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}


def guarded_inplace(op: str, target: Any, value: Any) -> Any:
    """`_inplacevar_`: `x += y` etc. with the same checks as the binary operators; a list's
    `+=` is `extend` (any iterable), a dict's `|=` is `update`."""
    budget = current()
    if op == "+=" and type(target) is list:
        value, size = sized_or_counted(budget, value)
        budget.check_size(len(target) + size, 0)
        budget.charge(size * POINTER_BYTES)
    elif op == "+=" and type(target) in _SEQUENCES and type(value) in _SEQUENCES:
        budget.check_size(len(target) + len(value), max(unit(target), unit(value)))
    elif op in ("+=", "-=") and type(target) is int and type(value) is int:
        _check_int_growth(target, value)
    elif op in ("//=", "%=") and type(target) is not str and type(target) is not bytes:
        _check_division(target, value)
    elif op in ("|=", "^=", "-=", "&=") and (type(target) in _SET_LIKE or type(value) in _SET_LIKE):
        if type(target) is dict and op == "|=" and type(value) is not dict:
            value, _ = sized_or_counted(budget, value)
        target, value = _check_set_op(budget, target, value, op in ("|=", "^="))
    elif op == "*=":
        _check_mul(budget, target, value)
    elif op == "**=":
        _check_pow(budget, target, value)
    elif op == "<<=" and _int_like(target) and _int_like(value) and target and value > 0:
        budget.check_bits(target.bit_length() + value)
    elif op == "%=" and type(target) in (str, bytes):
        _check_percent(budget, target, value)
    func = _INPLACE.get(op)
    if func is None:
        refuse(f"operator {op} is not allowed")
    return func(target, value)


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`_apply_`: calls written with *args/**kwargs (the *args already went through `_getiter_`);
    each such call copies the keyword dict."""
    if kwargs:
        current().check_size(len(kwargs), ENTRY_BYTES)
    return func(*args, **kwargs)


def guarded_unpack(it: Any, spec: Any, _getiter_: Any) -> Any:
    """`_unpack_sequence_`: Python's own unpacking stops after len(targets)+1 items."""
    return it


def guarded_iter_unpack(it: Any, spec: Any, _getiter_: Any) -> Any:
    """`_iter_unpack_sequence_`: `for a, b in x` counts one iteration per item."""
    return guarded_iter(it)


class PrintCollector:
    """`print` in scripts goes to the debug log (capped); `printed` returns what was printed."""

    _MAX_KEPT = 65_536

    def __init__(self, _getattr_: Any = None) -> None:
        self._parts: list[str] = []
        self._kept = 0

    def _call_print(self, *objects: Any, sep: str | None = " ", end: str | None = "\n",
                    **kwargs: Any) -> None:
        if set(kwargs) - {"flush"}:
            refuse("print() may only use sep= and end=")
        budget = current()
        for obj in objects:
            check_repr_size(budget, obj)
        sep_text, end_text = " " if sep is None else str(sep), "\n" if end is None else str(end)
        budget.check_size(len(sep_text) * len(objects) + len(end_text))
        text = sep_text.join(str(o) for o in objects) + end_text
        log.debug("script print: %.500s", text)
        if self._kept < self._MAX_KEPT:
            self._parts.append(text[: self._MAX_KEPT - self._kept])
            self._kept += len(self._parts[-1])

    def __call__(self) -> str:
        return "".join(self._parts)


GUARDS: dict[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_getiter_": guarded_iter,
    "_iter_unpack_sequence_": guarded_iter_unpack,
    "_unpack_sequence_": guarded_unpack,
    "_write_": guarded_write,
    "_inplacevar_": guarded_inplace,
    "_apply_": guarded_apply,
    "_print_": PrintCollector,
    "_tick_": tick,
    "_add_": guarded_add,
    "_mul_": guarded_mul,
    "_pow_": guarded_pow,
    "_lshift_": guarded_lshift,
    "_mod_": guarded_mod,
    "_sub_": guarded_sub,
    "_floordiv_": guarded_floordiv,
    "_or_": guarded_or,
    "_and_": guarded_and,
    "_xor_": guarded_xor,
    "_dictunpack_": guarded_dict_unpack,
    "_fmt_": guarded_format,
}
