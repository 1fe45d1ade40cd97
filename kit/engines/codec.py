"""A tagged encoding of plain Python values that decodes without running code (the cache's format).

Covered: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``, ``tuple``, ``set``,
``frozenset``, ``dict`` (any of these as keys, tuples included) and numpy arrays and scalars
(dtype, shape and bytes; object dtypes refused). Anything else raises ``TypeError`` naming the
type: a new attribute of an unknown type fails loudly instead of vanishing from the cache.

Primitives stand for themselves; every container is a list ``[tag, ...]``. A list of primitives is
kept as it is (one msgpack array), a list of equal-length tuples or lists (the rollup's keys
and values) is stored by columns, and a column of texts that repeat (accounts, ARNs, user agents)
as its distinct values plus 32-bit positions: the common shapes cost a few C-level passes, not a
Python call per item, and decoded keys share their strings as the aggregator's own do. ``pack``/``unpack`` frame the tree with msgpack, which builds only plain values.
"""
from __future__ import annotations

from typing import Any, Iterable

import msgpack
import numpy as np

_PRIMITIVES = frozenset({type(None), bool, int, float, str, bytes})
_INT_RANGE = (-(2 ** 63), 2 ** 64)
"""What msgpack holds natively; other ints travel as text."""
_TEXT = frozenset({str, type(None)})
_POSITIONS = np.dtype("<u4")
_SEQUENCES = {"l": list, "t": tuple, "s": set, "f": frozenset}
_TAG_OF = {list: "l", tuple: "t", set: "s", frozenset: "f"}


def encode(value: Any) -> Any:
    """The tagged tree of ``value`` (``TypeError`` for a type it does not cover)."""
    kind = type(value)
    if kind in _PRIMITIVES:
        return value if kind is not int or _INT_RANGE[0] <= value < _INT_RANGE[1] else ["i", str(value)]
    if kind in _TAG_OF:
        return [_TAG_OF[kind], _items(value if kind is list or kind is tuple else list(value))]
    if kind is dict:
        return ["d", _items(list(value)), _items(list(value.values()))]
    if kind is np.ndarray:
        if value.dtype.hasobject:
            raise TypeError(f"cannot encode a numpy array of dtype {value.dtype} (objects)")
        return ["a", value.dtype.str, list(value.shape), np.ascontiguousarray(value).tobytes()]
    if isinstance(value, np.generic) and not value.dtype.hasobject:
        return ["n", value.dtype.str, value.tobytes()]
    raise TypeError(f"cannot encode a value of type {kind.__module__}.{kind.__qualname__}")


def _items(values: list | tuple) -> list:
    """The items of a sequence: texts that repeat as distinct values and positions; primitives as
    they are; by columns when all tuples (or all lists) of one length; else one tagged tree each."""
    kinds = set(map(type, values))
    if kinds <= _TEXT and len(values) > 1:
        distinct = dict.fromkeys(values)
        if 2 * len(distinct) <= len(values):
            position = dict(zip(distinct, range(len(distinct))))
            positions = np.fromiter(map(position.__getitem__, values), _POSITIONS, len(values))
            return [["U", list(distinct), positions.tobytes()]]
    if kinds <= _PRIMITIVES and (int not in kinds or _ints_fit(values, kinds)):
        return values if type(values) is list else list(values)
    if len(kinds) == 1 and kinds <= {tuple, list}:
        widths = set(map(len, values))
        if len(widths) == 1 and 0 not in widths:
            tag = "T" if tuple in kinds else "L"
            return [[tag, [_items(column) for column in zip(*values)]]]
    return [encode(item) for item in values]


def _ints_fit(values: Iterable[Any], kinds: set[type]) -> bool:
    ints = values if kinds == {int} else [value for value in values if type(value) is int]
    return _INT_RANGE[0] <= min(ints) and max(ints) < _INT_RANGE[1]


def decode(tree: Any) -> Any:
    """The value of a tagged tree (``ValueError`` when it is not one)."""
    if type(tree) is not list:
        if type(tree) not in _PRIMITIVES:
            raise ValueError(f"unexpected {type(tree).__name__} in an encoded value")
        return tree
    if not tree or type(tree[0]) is not str:
        raise ValueError("an encoded container has no tag")
    tag = tree[0]
    if tag in _SEQUENCES and len(tree) == 2:
        items = _decoded_items(tree[1])
        return items if tag == "l" else _SEQUENCES[tag](items)
    if tag == "d" and len(tree) == 3:
        keys, values = _decoded_items(tree[1]), _decoded_items(tree[2])
        if len(keys) != len(values):
            raise ValueError("an encoded dict has more keys than values or the reverse")
        return dict(zip(keys, values))
    if tag == "a" and len(tree) == 4:
        return _array(tree[1], tree[2], tree[3])
    if tag == "n" and len(tree) == 3:
        return _array(tree[1], [], tree[2])[()]
    if tag == "i" and len(tree) == 2 and type(tree[1]) is str:
        return int(tree[1])
    raise ValueError(f"unknown encoded container {tag!r}")


def _decoded_items(items: Any) -> list:
    if type(items) is not list:
        raise ValueError("encoded items are not a list")
    if len(items) == 1 and type(items[0]) is list and items[0] and items[0][0] in ("T", "L"):
        return _columns(items[0])
    if len(items) == 1 and type(items[0]) is list and items[0] and items[0][0] == "U":
        return _repeated(items[0])
    if set(map(type, items)) <= _PRIMITIVES:
        return items
    return [decode(item) for item in items]


def _columns(tree: list) -> list:
    if len(tree) != 2 or type(tree[1]) is not list or not tree[1]:
        raise ValueError("encoded columns are malformed")
    columns = [_decoded_items(column) for column in tree[1]]
    if len(set(map(len, columns))) != 1:
        raise ValueError("encoded columns differ in length")
    rows = zip(*columns)
    return list(rows) if tree[0] == "T" else list(map(list, rows))


def _repeated(tree: list) -> list:
    if len(tree) != 3 or type(tree[1]) is not list or type(tree[2]) is not bytes or len(tree[2]) % 4:
        raise ValueError("encoded repeated texts are malformed")
    distinct, positions = tree[1], np.frombuffer(tree[2], _POSITIONS)
    if not set(map(type, distinct)) <= _TEXT or (len(positions) and int(positions.max()) >= len(distinct)):
        raise ValueError("encoded repeated texts are malformed")
    return list(map(distinct.__getitem__, positions.tolist()))


def _array(dtype: Any, shape: Any, data: Any) -> np.ndarray:
    if type(dtype) is not str or type(data) is not bytes or type(shape) is not list:
        raise ValueError("an encoded numpy value is malformed")
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"an encoded numpy value has an unknown dtype {dtype!r}") from None
    if kind.hasobject:
        raise ValueError(f"an encoded numpy value has dtype {dtype} (objects)")
    return np.frombuffer(data, dtype=kind).reshape(shape).copy()


def state_of(instance: object) -> dict[str, Any]:
    """The attributes of ``instance`` to store (its ``__getstate__`` when it defines one)."""
    own = getattr(type(instance), "__getstate__", None)
    state = instance.__getstate__() if own is not getattr(object, "__getstate__", None) else vars(instance)
    if type(state) is not dict:
        raise TypeError(f"{type(instance).__qualname__}.__getstate__ returns a {type(state).__name__}, not a dict")
    return state


def restore(cls: type, state: dict[str, Any]) -> Any:
    """An instance of ``cls`` with ``state`` as its attributes (``__setstate__`` when defined)."""
    instance = cls.__new__(cls)
    if hasattr(instance, "__setstate__"):
        instance.__setstate__(state)
    else:
        instance.__dict__.update(state)
    return instance


def pack(value: Any) -> bytes:
    """``value`` as msgpack bytes of its tagged tree."""
    return msgpack.packb(encode(value), use_bin_type=True)


def unpack(data: bytes) -> Any:
    """The value of ``pack`` bytes (``ValueError`` for anything else)."""
    try:
        tree = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (msgpack.UnpackException, ValueError, TypeError) as error:
        raise ValueError(f"not msgpack ({error})") from None
    return decode(tree)
