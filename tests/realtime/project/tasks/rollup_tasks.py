"""Tasks for the worker-level metadata and tags test: children that report progress to
their parent and to the root, and tag themselves."""

from __future__ import annotations

from typing import Any

from outlast import ValidationError, metadata, tags, task


@task(id="rl-item")
def item(payload: int) -> int:
    metadata.parent.increment("items_done")
    metadata.root.append("seen", payload)
    tags.add(f"item:{payload}")
    try:
        tags.add(*[f"extra:{i}" for i in range(10)])
    except ValidationError:  # the limit holds across the process boundary, as this class
        metadata.set("limit_error", True)
    return payload * 2


@task(id="rl-group")
def group(payload: list[int]) -> int:
    results = item.batch_trigger_and_wait([{"payload": p} for p in payload])
    metadata.root.increment("groups_done")
    return sum(r.unwrap() for r in results)


@task(id="rl-root")
def root(payload: Any) -> int:
    tags.add("rollup")
    metadata.set("groups", 2)
    first = group.trigger_and_wait([1, 2]).unwrap()
    second = group.trigger_and_wait([3]).unwrap()
    return int(first + second)
