"""Size checks for C-level builders that Python runs without any loop we could count.

`'x'.ljust(10**9)`, `s.replace('', big)`, `sep.join(...)`, `(0).to_bytes(10**9)` and
`str(nested)` all allocate in one C call; these checks estimate the result first.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from .budget import Budget, counted, current

_CONTAINERS = (list, tuple, set, frozenset)


def check_repr_size(budget: Budget, obj: object) -> None:
    """Refuse str()/repr()/format of containers whose text would exceed the sequence limit.

    `a=[0]*1000; b=[a]*1000; str([b]*1000)` would build a 10**9-character string from
    three small-looking objects; walking shared references costs at most the limit.
    """
    kind = type(obj)
    if kind not in _CONTAINERS and kind is not dict:
        return
    limit = budget.limits.max_sequence
    total, stack = 0, [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        total += 1
        if kind is str or kind is bytes:
            total += len(item)
        elif kind in _CONTAINERS:
            total += len(item)
            if total <= limit:
                stack.extend(item)
        elif kind is dict:
            total += 2 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        if total > limit:
            budget.check_size(total)


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _pad(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    width = _arg(args, kwargs, 0, "width", 0)
    if isinstance(width, int) and isinstance(s, (str, bytes)) and width > len(s):
        budget.check_size(width)
    return args


def _replace(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    old, new, count = _arg(args, kwargs, 0, "old", None), _arg(args, kwargs, 1, "new", None), \
        _arg(args, kwargs, 2, "count", -1)
    if isinstance(s, (str, bytes)) and type(old) is type(s) and type(new) is type(s):
        hits = s.count(old) if old else len(s) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        budget.check_size(len(s) + hits * max(0, len(new) - len(old)))
    return args


def _expandtabs(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    if isinstance(s, (str, bytes)) and isinstance(size, int):
        tab = "\t" if isinstance(s, str) else b"\t"
        budget.check_size(len(s) + s.count(tab) * max(size, 0))
    return args


def _join(budget: Budget, sep: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not args or not isinstance(sep, (str, bytes)):
        return args
    items = list(counted(budget, iter(args[0])))
    size = sum(len(i) for i in items if isinstance(i, (str, bytes)))
    budget.check_size(size + len(sep) * max(len(items) - 1, 0))
    return (items, *args[1:])


def _translate(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    table = _arg(args, kwargs, 0, "table", None)
    if isinstance(s, str):
        values = table.values() if isinstance(table, dict) else (table if isinstance(table, (list, tuple))
                                                                 else ())
        longest = max((len(v) for v in values if isinstance(v, str)), default=1)
        budget.check_size(len(s) * max(longest, 1))
    return args


def _to_bytes(budget: Budget, n: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    length = _arg(args, kwargs, 0, "length", 1)
    if isinstance(length, int):
        budget.check_size(length)
    return args


def _from_bytes(budget: Budget, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    data = _arg(args, kwargs, 0, "bytes", b"")
    if isinstance(data, (bytes, bytearray)):
        budget.check_bits(8 * len(data))
    return args


def _to_int(budget: Budget, d: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    budget.check_decimal_to_int(d)
    return args


class Checker(NamedTuple):
    types: tuple[type, ...]
    check: Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]
    on_class: bool = False  # True: the checked callable is a classmethod (int.from_bytes)


_TEXT = (str, bytes)
CHECKED_METHODS: dict[str, Checker] = {
    **{name: Checker(_TEXT, _pad) for name in ("ljust", "rjust", "center", "zfill")},
    "replace": Checker(_TEXT, _replace),
    "expandtabs": Checker(_TEXT, _expandtabs),
    "join": Checker(_TEXT, _join),
    "translate": Checker(_TEXT, _translate),
    "to_bytes": Checker((int,), _to_bytes),
    "from_bytes": Checker((int,), _from_bytes, on_class=True),
    "as_integer_ratio": Checker((Decimal,), _to_int),
}


def bind_checked(obj: Any, name: str, checker: Checker) -> Callable[..., Any] | None:
    """A callable that runs `checker` before the real method, or None if `obj` is unrelated."""
    is_class = isinstance(obj, type)
    if not (issubclass(obj, checker.types) if is_class else isinstance(obj, checker.types)):
        return None
    method = getattr(obj, name)
    if checker.on_class:
        def call_on_class(*args: Any, **kwargs: Any) -> Any:
            args = checker.check(current(), obj, args, kwargs)
            return method(*args, **kwargs)
        return call_on_class
    if is_class:  # unbound use: str.ljust(s, width)
        def call_unbound(self: Any, *args: Any, **kwargs: Any) -> Any:
            args = checker.check(current(), self, args, kwargs)
            return method(self, *args, **kwargs)
        return call_unbound

    def call_bound(*args: Any, **kwargs: Any) -> Any:
        args = checker.check(current(), obj, args, kwargs)
        return method(*args, **kwargs)
    return call_bound


class TypeProxy:
    """Stands in for a builtin type (list, str, ...) so calls are checked/counted yet
    `isinstance(x, list)` keeps working (isinstance consults `__instancecheck__`)."""

    __slots__ = ("wrapped", "_build")

    def __init__(self, wrapped: type, build: Callable[..., Any]) -> None:
        self.wrapped = wrapped
        self._build = build

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._build(*args, **kwargs)

    def __instancecheck__(self, obj: object) -> bool:
        return isinstance(obj, self.wrapped)

    def __subclasscheck__(self, cls: type) -> bool:
        return issubclass(cls, self.wrapped)

    def __repr__(self) -> str:
        return repr(self.wrapped)
