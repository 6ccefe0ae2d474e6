"""The helper globals scripts see: a curated builtins dict, with curated `datetime`/`math` modules.

Anything that iterates in C (list(), sorted(), sum(), ...) pulls items through the
budget's counter; anything that can allocate without bound is size-checked first.
Deliberately absent: __import__, open, getattr/setattr, type, vars, dir, eval, exec,
compile, globals, locals, format, id, hash, object, super, and BaseException subclasses
that are not Exceptions (SystemExit would stop a worker).
"""

from __future__ import annotations

import builtins
import datetime as _datetime
import math as _math
from decimal import Decimal
from types import ModuleType
from typing import Any

from .budget import counted, current
from .checks import TypeProxy, check_repr_size, sized_or_counted
from .guards import SAFE_MODULES, guarded_pow


def _curated_module(name: str, source: ModuleType, names: list[str], **overrides: Any) -> ModuleType:
    """A fresh module holding only `names`: the real `datetime` module exposes `sys`."""
    module = ModuleType(name)
    for attr in names:
        setattr(module, attr, getattr(source, attr))
    for attr, value in overrides.items():
        setattr(module, attr, value)
    SAFE_MODULES.add(id(module))
    return module


def _to_int_checked(func: Any) -> Any:
    def checked(x: Any) -> Any:
        current().check_decimal_to_int(x)
        return func(x)
    checked.__name__ = func.__name__
    return checked


def _operands_checked(func: Any) -> Any:
    """gcd, isqrt, divmod: cost grows with the operands' size; refuse oversized ones first."""
    def checked(*args: Any) -> Any:
        current().check_operands(*args)
        return func(*args)
    checked.__name__ = func.__name__
    return checked


def _log2_factorial(n: int) -> float:
    return _math.lgamma(n + 1) / _math.log(2) if n < 2 ** 50 else _math.inf


def _int_arg(value: Any) -> int:
    return value if isinstance(value, int) else _math.inf  # type: ignore[return-value]


def _factorial(n: Any) -> int:
    """math.factorial with the result's size checked first (log2(n!) bits)."""
    if isinstance(n, int) and n > 1:
        current().check_bits(_log2_factorial(n))
    return _math.factorial(n)


def _perm(n: Any, k: Any = None) -> int:
    if isinstance(n, int) and n > 1 and (k is None or isinstance(k, int) and 0 < k <= n):
        kk = n if k is None else k
        current().check_bits(_log2_factorial(n) - _log2_factorial(n - kk) if n < 2 ** 50
                             else kk * n.bit_length())
    return _math.perm(n, k)


def _comb(n: Any, k: Any) -> int:
    if isinstance(n, int) and isinstance(k, int) and n > 1 and 0 < k < n:
        kk = min(k, n - k)
        current().check_bits(_log2_factorial(n) - _log2_factorial(kk) - _log2_factorial(n - kk)
                             if n < 2 ** 50 else kk * n.bit_length())
    return _math.comb(n, k)


def _lcm(*ints: Any) -> int:
    """math.lcm: the result has at most the sum of the operands' bits."""
    current().check_bits(sum(i.bit_length() for i in ints if isinstance(i, int)))
    return _math.lcm(*ints)


def _prod(iterable: Any, /, *, start: Any = 1) -> Any:
    """math.prod: items pulled through the counter; an int product's bits are summed first."""
    budget = current()
    items, _ = sized_or_counted(budget, iterable)
    if isinstance(start, int) and all(isinstance(i, int) for i in items):
        budget.check_bits(start.bit_length() + sum(i.bit_length() for i in items))
    return _math.prod(items, start=start)


def _fsum(iterable: Any) -> float:
    return _math.fsum(_items(iterable))


DATETIME = _curated_module("datetime", _datetime, [
    "date", "datetime", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR", "UTC"])
MATH = _curated_module("math", _math, [
    "acos", "asin", "atan", "atan2", "copysign", "cos", "cosh", "degrees", "e", "exp", "expm1",
    "fabs", "fmod", "frexp", "hypot", "inf", "isclose", "isfinite", "isinf", "isnan",
    "ldexp", "log", "log10", "log1p", "log2", "modf", "nan", "pi", "radians", "remainder",
    "sin", "sinh", "sqrt", "tan", "tanh", "tau"],
    floor=_to_int_checked(_math.floor), ceil=_to_int_checked(_math.ceil),
    trunc=_to_int_checked(_math.trunc), pow=_math.pow, gcd=_operands_checked(_math.gcd),
    isqrt=_operands_checked(_math.isqrt), fsum=_fsum, factorial=_factorial, perm=_perm, comb=_comb,
    lcm=_lcm, prod=_prod)


def _items(iterable: Any) -> Any:
    return counted(current(), iter(iterable))


def _list(iterable: Any = ()) -> list[Any]:
    return list(_items(iterable))


def _tuple(iterable: Any = ()) -> tuple[Any, ...]:
    return tuple(_items(iterable))


def _set(iterable: Any = ()) -> set[Any]:
    return set(_items(iterable))


def _dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    if len(args) > 1:
        raise TypeError(f"dict expected at most 1 argument, got {len(args)}")
    if not args:
        return dict(**kwargs)
    source = args[0]
    return dict(_items(source.items() if isinstance(source, dict) else source), **kwargs)


def _str(*args: Any, **kwargs: Any) -> str:
    if len(args) == 1 and not kwargs:
        check_repr_size(current(), args[0])
    return str(*args, **kwargs)


def _int(*args: Any, **kwargs: Any) -> int:
    """int(): `int(hex_text, 16)` would build a 4-bits-a-character int (Python's 4300-digit
    limit covers base 10 only), `int(Decimal('1e999999'))` a 3-million-bit one: refused first."""
    if args:
        budget = current()
        budget.check_decimal_to_int(args[0])
        base = args[1] if len(args) > 1 else kwargs.get("base", 10)
        budget.check_number_text(args[0], base if isinstance(base, int) else 10)
    return int(*args, **kwargs)


def _float(*args: Any) -> float:
    if args:
        current().check_number_text(args[0])
    return float(*args)


def _decimal(*args: Any, **kwargs: Any) -> Decimal:
    """Decimal(): the result keeps every digit of its argument (the context rounds only
    arithmetic), and Decimal arithmetic grows with them; long text is refused first."""
    if args:
        budget = current()
        value = args[0]
        budget.check_number_text(value)
        if isinstance(value, (tuple, list)) and len(value) == 3 and hasattr(value[1], "__len__"):
            budget.check_digits(len(value[1]))  # Decimal((sign, digits, exponent))
    return Decimal(*args, **kwargs)


def _range(*args: Any) -> range:
    result = range(*args)
    budget = current()
    try:
        size = len(result)
    except OverflowError:
        size = budget.limits.max_sequence + 1
    budget.check_size(size)
    return result


def _repr(obj: Any) -> str:
    check_repr_size(current(), obj)
    return repr(obj)


def _round(number: Any, ndigits: Any = None) -> Any:
    budget = current()
    if ndigits is None:
        budget.check_decimal_to_int(number)
        return round(number)
    if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0:
        budget.check_bits(-ndigits * 10 // 3)  # round(5, -10**8) computes 10**(10**8)
    return round(number, ndigits)


def _sorted(iterable: Any, /, *, key: Any = None, reverse: bool = False) -> list[Any]:
    return sorted(_items(iterable), key=key, reverse=reverse)


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    """sum(lists, []) is quadratic in C and unchecked; concatenate linearly with size checks."""
    if type(start) is list or type(start) is tuple:
        budget, total = current(), list(start)
        for item in _items(iterable):
            if type(item) is not type(start):
                raise TypeError(f"can only concatenate {type(start).__name__} to {type(start).__name__}")
            budget.check_size(len(total) + len(item), 0)
            budget.charge(len(item) * 8)
            total.extend(item)
        return total if type(start) is list else tuple(total)
    return sum(_items(iterable), start)


def _min_max(func: Any) -> Any:
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            args = (_items(args[0]),)
        return func(*args, **kwargs)
    checked.__name__ = func.__name__
    return checked


def _any(iterable: Any) -> bool:
    return any(_items(iterable))


def _all(iterable: Any) -> bool:
    return all(_items(iterable))


_PLAIN = [
    "abs", "bool", "callable", "chr", "enumerate", "filter", "hex", "isinstance",
    "issubclass", "len", "map", "oct", "ord", "reversed", "slice", "zip",
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError",
    "LookupError", "NameError", "NotImplementedError", "OverflowError", "RuntimeError",
    "StopIteration", "TypeError", "ValueError", "ZeroDivisionError",
]

SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in _PLAIN}
SAFE_BUILTINS.update({
    "list": TypeProxy(list, _list), "tuple": TypeProxy(tuple, _tuple), "set": TypeProxy(set, _set),
    "dict": TypeProxy(dict, _dict), "str": TypeProxy(str, _str), "int": TypeProxy(int, _int),
    "range": TypeProxy(range, _range), "float": TypeProxy(float, _float),
    "divmod": _operands_checked(divmod),
    "repr": _repr, "round": _round, "pow": guarded_pow, "sorted": _sorted, "sum": _sum,
    "min": _min_max(min), "max": _min_max(max), "any": _any, "all": _all,
    "datetime": DATETIME, "date": _datetime.date, "timedelta": _datetime.timedelta,
    "timezone": _datetime.timezone, "Decimal": TypeProxy(Decimal, _decimal), "math": MATH,
})

# Builtins whose use means the code needs a live budget (everything else is a plain builtin).
BUDGET_BUILTINS = frozenset({
    "list", "tuple", "set", "dict", "str", "int", "range", "repr", "round", "pow", "sorted", "sum",
    "min", "max", "any", "all", "math", "float", "divmod", "Decimal"})


def build_builtins(extra_globals: dict[str, Any] | None) -> dict[str, Any]:
    """The `__builtins__` dict for one environment: safe helpers plus the host's extras."""
    merged = dict(SAFE_BUILTINS)
    for name, value in (extra_globals or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"extra global name {name!r} must be an identifier not starting with '_'")
        merged[name] = value
    return merged
