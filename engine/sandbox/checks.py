"""Size checks for C-level builders that Python runs without any loop we could count.

`'x'.ljust(10**9)`, `s.replace('', big)`, `sep.join(...)`, `(0).to_bytes(10**9)`,
`a.extend(a)`, `dict.fromkeys(range(n))` and `str(nested)` all allocate in one C call;
these checks estimate the result first, refuse it above `Limits.max_sequence`, and charge
it to the evaluation's allocation total (`Limits.max_memory`). C calls that consume an
iterable of unknown length (`a.extend(zip(...))`) pull it through the iteration counter.
"""

from __future__ import annotations

import datetime as _datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from .budget import Budget, counted, current

_CONTAINERS = (list, tuple, set, frozenset)
_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_SIZED = (str, bytes, list, tuple, set, frozenset, dict, range, *_VIEWS)
_FLAT = frozenset({int, float, bool, complex, type(None), Decimal, _datetime.date, _datetime.timedelta})
"""Types whose repr is short; a container holding only these is counted, not walked."""

POINTER_BYTES = 8
"""Estimated bytes per list/tuple element (the element itself is charged where it was built)."""
ENTRY_BYTES = 40
"""Estimated bytes per set or dict entry (hash table slot plus index, at CPython's load factor)."""
STR_OBJECT_BYTES = 56
"""Estimated bytes of one small str object, for `split()` and friends that build many."""


def unit(obj: object) -> int:
    """Estimated bytes per element of a string or container like `obj`."""
    kind = type(obj)
    if kind is str:
        return 1 if obj.isascii() else 4  # type: ignore[attr-defined]
    if kind is bytes:
        return 1
    if kind is set or kind is frozenset or kind is dict:
        return ENTRY_BYTES
    return POINTER_BYTES


def sized_or_counted(budget: Budget, iterable: Any) -> tuple[Any, int | None]:
    """(`iterable`, its length) if it is a sized builtin, else (a counted list of its items,
    their number): C code then never pulls an unbounded number of uncounted items."""
    if type(iterable) in _SIZED:
        return iterable, len(iterable)
    items = list(counted(budget, iter(iterable)))
    return items, len(items)


def check_repr_size(budget: Budget, obj: object) -> None:
    """Refuse str()/repr()/format of containers whose text would exceed the sequence limit.

    `a=[0]*1000; b=[a]*1000; str([b]*1000)` would build a 10**9-character string from
    three small-looking objects; walking shared references costs at most the limit. The
    same goes for what embeds such a container in its text: dict views, slices, exceptions.
    """
    if _repr_units(obj, budget.limits.max_sequence) > budget.limits.max_sequence:
        budget.check_size(budget.limits.max_sequence + 1)


def _repr_units(obj: object, limit: int) -> int:
    """About how many characters/elements repr(obj) shows, counted up to just past `limit`."""
    kind = type(obj)
    if kind in _FLAT or kind is str:
        return 0
    total, stack = 0, [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        total += 1
        if kind is str or kind is bytes:
            total += len(item)
        elif kind in _CONTAINERS or kind in _VIEWS:
            total += len(item)
            if total <= limit and not _FLAT.issuperset(map(type, item)):  # flat: counted already
                stack.extend(item)
        elif kind is dict:
            total += 2 * len(item)
            if total <= limit:
                if not _FLAT.issuperset(map(type, item.keys())):
                    stack.extend(item.keys())
                if not _FLAT.issuperset(map(type, item.values())):
                    stack.extend(item.values())
        elif kind is slice:
            stack.extend((item.start, item.stop, item.step))
        elif kind is _datetime.datetime or kind is _datetime.time:
            if item.tzinfo is not None:
                stack.append(item.tzinfo)
        elif kind is _datetime.timezone:
            total += len(item.tzname(None))  # a script may name a zone with a long string
        elif isinstance(item, BaseException):
            stack.extend(item.args)
        if total > limit:
            break
    return total


def oversized_repr(obj: object, limit: int) -> bool:
    """Whether repr(obj) (or str() of an exception) would exceed about `limit` characters."""
    return _repr_units(obj, limit) > limit


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _put(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, value: Any) -> tuple[Any, ...]:
    if len(args) > index:
        return (*args[:index], value, *args[index + 1:])
    if name in kwargs:
        kwargs[name] = value
    return args


def _pad(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    width = _arg(args, kwargs, 0, "width", 0)
    if isinstance(width, int) and isinstance(s, (str, bytes)) and width > len(s):
        fill = _arg(args, kwargs, 1, "fillchar", " ")
        wide = isinstance(s, str) and not (s.isascii() and (not isinstance(fill, str) or fill.isascii()))
        budget.check_size(width, 4 if wide else 1)
    return args


def _replace(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    old, new, count = _arg(args, kwargs, 0, "old", None), _arg(args, kwargs, 1, "new", None), \
        _arg(args, kwargs, 2, "count", -1)
    if isinstance(s, (str, bytes)) and type(old) is type(s) and type(new) is type(s):
        hits = s.count(old) if old else len(s) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        budget.check_size(len(s) + hits * max(0, len(new) - len(old)), max(unit(s), unit(new)))
    return args


def _expandtabs(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    if isinstance(s, (str, bytes)) and isinstance(size, int):
        tab = "\t" if isinstance(s, str) else b"\t"
        budget.check_size(len(s) + s.count(tab) * max(size, 0), unit(s))
    return args


def _join(budget: Budget, sep: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not args or not isinstance(sep, (str, bytes)):
        return args
    items = list(counted(budget, iter(args[0])))
    size = sum(len(i) for i in items if isinstance(i, (str, bytes)))
    wide = isinstance(sep, str) and not (sep.isascii() and all(type(i) is not str or i.isascii() for i in items))
    budget.check_size(size + len(sep) * max(len(items) - 1, 0), 4 if wide else 1)
    return (items, *args[1:])


def _translate(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    table = _arg(args, kwargs, 0, "table", None)
    if isinstance(s, str):
        values = table.values() if isinstance(table, dict) else (table if isinstance(table, (list, tuple))
                                                                 else ())
        longest = max((len(v) for v in values if isinstance(v, str)), default=1)
        budget.check_size(len(s) * max(longest, 1), 4)
    elif isinstance(s, bytes):
        budget.check_size(len(s))
    return args


def _same_size(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """upper(), strip(), partition(), ...: a new string about as long as `s` (charged, not capped)."""
    if isinstance(s, (str, bytes)):
        budget.check_time()
        budget.charge(len(s) * (4 if isinstance(s, str) and not s.isascii() else 1))
    return args


_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _split(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """split()/rsplit()/splitlines(): one list slot and one small string object per part."""
    if not isinstance(s, (str, bytes)):
        return args
    sep, maxsplit = _arg(args, kwargs, 0, "sep", None), _arg(args, kwargs, 1, "maxsplit", -1)
    parts = s.count(sep) + 1 if type(sep) is type(s) and sep else (len(s) + 1) // 2 + 1
    if isinstance(maxsplit, int) and maxsplit >= 0:
        parts = min(parts, maxsplit + 1)
    budget.check_size(parts, POINTER_BYTES + STR_OBJECT_BYTES)
    budget.charge(len(s) * unit(s))
    return args


def _splitlines(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if isinstance(s, str):
        parts = sum(s.count(b) for b in _LINE_BREAKS) + 1
    elif isinstance(s, bytes):
        parts = s.count(b"\n") + s.count(b"\r") + 1
    else:
        return args
    budget.check_size(min(parts, len(s) + 1), POINTER_BYTES + STR_OBJECT_BYTES)
    budget.charge(len(s) * unit(s))
    return args


_PLAIN_CODECS = frozenset({"utf-8", "utf8", "ascii", "latin-1", "latin1", "iso-8859-1", "us-ascii"})


def _encode(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """str.encode: UTF-8 is at most 4 bytes a character, escaping codecs/handlers up to 10."""
    if isinstance(s, str):
        encoding = _arg(args, kwargs, 0, "encoding", "utf-8")
        errors = _arg(args, kwargs, 1, "errors", "strict")
        plain = isinstance(encoding, str) and encoding.lower().replace("_", "-") in _PLAIN_CODECS \
            and errors == "strict"
        budget.check_size(len(s) * (1 if plain and s.isascii() else 4 if plain else 10))
    return args


def _decode(budget: Budget, b: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """bytes.decode: at most one character per byte, four with backslashreplace."""
    if isinstance(b, bytes):
        budget.check_size(len(b) * (1 if _arg(args, kwargs, 1, "errors", "strict") == "strict" else 4), 4)
    return args


def _hex(budget: Budget, b: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if isinstance(b, bytes):
        sep = _arg(args, kwargs, 0, "sep", "")
        budget.check_size(len(b) * (2 + (len(sep) if isinstance(sep, (str, bytes)) else 1)))
    return args


def _maketrans(budget: Budget, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    size = sum(len(a) for a in args if isinstance(a, (str, bytes, dict)))
    budget.check_size(size, ENTRY_BYTES)
    return args


def _to_bytes(budget: Budget, n: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    length = _arg(args, kwargs, 0, "length", 1)
    if isinstance(length, int):
        budget.check_size(length)
    return args


def _from_bytes(budget: Budget, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """int.from_bytes takes bytes or any iterable of small ints: one byte per item either way."""
    data = _arg(args, kwargs, 0, "bytes", b"")
    if not isinstance(data, (bytes, bytearray)):
        data, _ = sized_or_counted(budget, data)
        args = _put(args, kwargs, 0, "bytes", data)
    budget.check_bits(8 * len(data))
    return args


def _to_int(budget: Budget, d: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    budget.check_decimal_to_int(d)
    return args


def _extend(budget: Budget, lst: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """list.extend(x): x may be itself (`a.extend(a)` doubles) or any lazy iterable."""
    if not args or not isinstance(lst, list):
        return args
    items, size = sized_or_counted(budget, args[0])
    budget.check_size(len(lst) + size, 0)
    budget.charge(size * POINTER_BYTES)
    return (items, *args[1:])


def _copy(budget: Budget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if isinstance(obj, (list, dict, set, frozenset)):
        budget.check_size(len(obj), unit(obj))
    return args


def _sort(budget: Budget, lst: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """list.sort: as many iterations as items, like sorted()."""
    if isinstance(lst, list):
        budget.add_steps(len(lst))
    return args


def _dict_update(budget: Budget, d: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not isinstance(d, dict):
        return args
    size = len(kwargs)
    if args:
        source = args[0]
        if not isinstance(source, dict) and not hasattr(source, "keys"):
            source, _ = sized_or_counted(budget, source)
        size += len(source) if hasattr(source, "__len__") else 0
        args = (source, *args[1:])
    budget.check_size(len(d) + size, 0)
    budget.charge(size * ENTRY_BYTES)
    return args


def _fromkeys(budget: Budget, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not args:
        return args
    items, size = sized_or_counted(budget, args[0])
    budget.check_size(size, ENTRY_BYTES)
    return (items, *args[1:])


def _set_others(budget: Budget, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], int]:
    others, total = [], 0
    for other in args:
        items, size = sized_or_counted(budget, other)
        others.append(items)
        total += size
    return tuple(others), total


def _set_grow(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """set.update/union/symmetric_difference(...): the result may hold every item of every argument."""
    if not isinstance(s, (set, frozenset)):
        return args
    others, total = _set_others(budget, args)
    budget.check_size(len(s) + total, 0)
    budget.charge((len(s) + total) * ENTRY_BYTES)
    return others


def _set_shrink(budget: Budget, s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """intersection/difference/issubset/...: no bigger than `s`, but non-set arguments are copied."""
    if not isinstance(s, (set, frozenset, *_VIEWS)):
        return args
    others, total = _set_others(budget, args)
    budget.check_time()
    budget.charge((len(s) + total) * ENTRY_BYTES)
    return others


def _update(budget: Budget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return (_dict_update if isinstance(obj, dict) else _set_grow)(budget, obj, args, kwargs)


_STRFTIME_PER_CHAR = 16


def strftime_size(value: Any, fmt: str) -> int:
    """Upper bound of len(value.strftime(fmt)): `%Z` copies the time zone's name, which a
    script may have made long (`timezone(offset, 'x' * 10**6)`)."""
    tzname = value.tzname() if isinstance(value, (_datetime.datetime, _datetime.time)) else None
    return len(fmt) * (_STRFTIME_PER_CHAR + len(tzname or ""))


def _strftime(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    fmt = _arg(args, kwargs, 0, "format", "")
    if isinstance(fmt, str) and isinstance(value, (_datetime.date, _datetime.time)):
        budget.check_size(strftime_size(value, fmt), 4)
    return args


class Checker(NamedTuple):
    types: tuple[type, ...]
    check: Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]
    on_class: bool = False  # True: the checked callable is a classmethod/staticmethod (int.from_bytes)


_TEXT = (str, bytes)
_SETS = (set, frozenset)
_DATES = (_datetime.date, _datetime.time)
CHECKED_METHODS: dict[str, Checker] = {
    **{name: Checker(_TEXT, _pad) for name in ("ljust", "rjust", "center", "zfill")},
    **{name: Checker(_TEXT, _same_size) for name in (
        "upper", "lower", "swapcase", "title", "capitalize", "casefold", "strip", "lstrip", "rstrip",
        "removeprefix", "removesuffix", "partition", "rpartition")},
    "replace": Checker(_TEXT, _replace),
    "expandtabs": Checker(_TEXT, _expandtabs),
    "join": Checker(_TEXT, _join),
    "translate": Checker(_TEXT, _translate),
    "split": Checker(_TEXT, _split),
    "rsplit": Checker(_TEXT, _split),
    "splitlines": Checker(_TEXT, _splitlines),
    "encode": Checker((str,), _encode),
    "decode": Checker((bytes,), _decode),
    "hex": Checker((bytes,), _hex),
    "maketrans": Checker(_TEXT, _maketrans, on_class=True),
    "to_bytes": Checker((int,), _to_bytes),
    "from_bytes": Checker((int,), _from_bytes, on_class=True),
    "as_integer_ratio": Checker((Decimal,), _to_int),
    "extend": Checker((list,), _extend),
    "sort": Checker((list,), _sort),
    "copy": Checker((list, dict, set, frozenset), _copy),
    "update": Checker((dict, set), _update),
    "fromkeys": Checker((dict,), _fromkeys, on_class=True),
    **{name: Checker(_SETS, _set_grow) for name in ("union", "symmetric_difference",
                                                    "symmetric_difference_update")},
    **{name: Checker((*_SETS, *_VIEWS), _set_shrink) for name in (
        "intersection", "intersection_update", "difference", "difference_update", "issubset",
        "issuperset", "isdisjoint")},
    "strftime": Checker(_DATES, _strftime),
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
