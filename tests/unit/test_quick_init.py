"""``quick``: a frozen dataclass whose ``__init__`` fills its dict at once is, but for its
speed, the dataclass it was."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from outlast.core.outcomes import Outcome
from outlast.core.quick_init import quick
from outlast.worker.messages import Finished


@dataclass(frozen=True)
class _Slow:
    a: int
    b: str = "b"
    c: tuple[int, ...] = ()


@quick
@dataclass(frozen=True)
class _Quick:
    a: int
    b: str = "b"
    c: tuple[int, ...] = ()


def test_it_takes_and_keeps_what_the_dataclass_does() -> None:
    for args, kwargs in [((1,), {}), ((1, "x"), {"c": (2,)}), ((), {"a": 3, "b": "y"})]:
        slow, fast = _Slow(*args, **kwargs), _Quick(*args, **kwargs)
        assert dataclasses.astuple(slow) == dataclasses.astuple(fast)
        assert list(vars(fast)) == ["a", "b", "c"]
    fast = _Quick(1)
    assert fast == _Quick(1) and hash(fast) == hash(_Quick(1))
    assert repr(fast) == "_Quick(a=1, b='b', c=())"
    assert dataclasses.replace(fast, b="z") == _Quick(1, "z")
    assert pickle.loads(pickle.dumps(fast)) == fast
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Quick(1, d=2)  # type: ignore[call-arg]


def test_the_classes_it_speeds_up_take_every_field_by_name() -> None:
    for cls in (Outcome, Finished):
        values: dict[str, Any] = {f.name: f"v{i}" for i, f in enumerate(dataclasses.fields(cls))}
        made = cls(**values)
        assert {f.name: getattr(made, f.name) for f in dataclasses.fields(cls)} == values


def test_what_it_cannot_speed_up_is_refused() -> None:
    @dataclass
    class NotFrozen:
        a: int

    @dataclass(frozen=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class Later:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NotFrozen, Factory, Later):
        with pytest.raises(TypeError):
            quick(cls)
