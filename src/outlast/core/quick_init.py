"""Frozen dataclasses made at the cost of plain ones.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, one
call per field: 2 us for the dozen fields of an attempt's outcome, made once or twice per
run on a worker's busiest path (the child's report, the supervisor's outcome). ``quick``
gives such a class an ``__init__`` that makes the instance's dict in one go; everything
else (frozenness, equality, hashing, ``repr``, pickling, ``dataclasses.replace``) is the
dataclass's own.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def quick(cls: type[T]) -> type[T]:
    """``cls`` (a frozen dataclass whose fields are all positional, with plain defaults
    or none, and no ``__post_init__``) with the faster ``__init__``."""
    if not is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    if hasattr(cls, "__post_init__") or "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__} has a __post_init__ or slots")
    defaults: dict[str, Any] = {}
    params, items = [], []
    for index, f in enumerate(fields(cls)):
        if f.default_factory is not MISSING or not f.init or f.kw_only or f.name in (
                "self", "_set"):
            raise TypeError(f"{cls.__name__}.{f.name}: only positional fields with plain "
                            "defaults are supported")
        if f.default is MISSING:
            params.append(f.name)
        else:
            defaults[f"_default_{index}"] = f.default
            params.append(f"{f.name}=_default_{index}")
        items.append(f"{f.name!r}: {f.name}")
    source = (f"def __init__(self, {', '.join(params)}):\n"
              f"    _set(self, '__dict__', {{{', '.join(items)}}})\n")
    namespace: dict[str, Any] = {"_set": object.__setattr__, **defaults}
    exec(source, namespace)  # noqa: S102 - built from the dataclass's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
