"""Machine presets: the CPU and memory a run may use, named by a task's `machine=` option."""

from __future__ import annotations

from dataclasses import dataclass

from outlast.errors import ValidationError

GB = 1024**3


@dataclass(frozen=True)
class Machine:
    name: str
    cpu: float
    memory_bytes: int


PRESETS: dict[str, Machine] = {
    m.name: m
    for m in (
        Machine("micro", 0.25, GB // 4),
        Machine("small-1x", 0.5, GB // 2),
        Machine("small-2x", 1, 1 * GB),
        Machine("medium-1x", 1, 2 * GB),
        Machine("medium-2x", 2, 4 * GB),
        Machine("large-1x", 4, 8 * GB),
        Machine("large-2x", 8, 16 * GB),
    )
}

#: Relative cost per second of execution, used for a run's ``cost`` figure.
COST_PER_SECOND: dict[str, float] = {
    "micro": 0.0000085,
    "small-1x": 0.0000169,
    "small-2x": 0.0000338,
    "medium-1x": 0.0000508,
    "medium-2x": 0.0001015,
    "large-1x": 0.0002031,
    "large-2x": 0.0004062,
}


def price(machine_name: str, seconds: float) -> float:
    """What ``seconds`` of execution on ``machine_name`` cost (0 for an unknown preset)."""
    return round(COST_PER_SECOND.get(machine_name, 0.0) * max(0.0, seconds), 8)


def machine(name: str) -> Machine:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValidationError(
            f"unknown machine {name!r}; choose one of {', '.join(PRESETS)}", option="machine"
        ) from None
