"""Typed payloads: a task whose first parameter is annotated with a pydantic model or a
dataclass gets its payload validated at trigger time and handed over as that type."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_type_hints

from outlast.errors import ValidationError
from outlast.jsonutil import dumps

if TYPE_CHECKING:
    import pydantic


class PayloadCodec:
    """Validates and converts payloads for one task; plain JSON when untyped."""

    def __init__(self, annotation: Any | None) -> None:
        self.annotation = annotation
        self._adapter = _adapter(annotation) if annotation is not None else None

    @classmethod
    def for_function(cls, fn: Callable[..., Any]) -> PayloadCodec:
        params = list(inspect.signature(fn).parameters.values())
        if not params:
            return cls(None)
        try:
            hints = get_type_hints(fn)
        except Exception:  # unresolvable forward references: treat as untyped
            hints = {}
        annotation = hints.get(params[0].name)
        typed = inspect.isclass(annotation) and (
            is_model(annotation) or dataclasses.is_dataclass(annotation)
        )
        return cls(annotation if typed else None)

    @property
    def typed(self) -> bool:
        return self._adapter is not None

    def to_json(self, payload: Any, task_id: str) -> str:
        """Validate ``payload`` for triggering; return its JSON text."""
        if self._adapter is None:
            return dumps(payload, limit=None)  # sized where it is kept
        try:
            value = self._adapter.validate_python(payload)
        except _invalid() as exc:
            raise ValidationError(
                f"payload for task {task_id!r} is invalid: {_summary(exc)}",
                errors=exc.errors(include_url=False, include_context=False, include_input=False),
            ) from None
        return dumps(self._adapter.dump_python(value, mode="json"), limit=None)

    def from_json(self, payload: Any, task_id: str) -> Any:
        """The value handed to the task function."""
        if self._adapter is None:
            return payload
        try:
            return self._adapter.validate_python(payload)
        except _invalid() as exc:
            raise ValidationError(
                f"payload for task {task_id!r} is invalid: {_summary(exc)}"
            ) from None

    def json_schema(self) -> dict[str, Any] | None:
        return None if self._adapter is None else self._adapter.json_schema()


def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    """pydantic's validator of a typed payload: pydantic loads with the first typed task
    (a child of a worker whose tasks take plain JSON never loads it)."""
    import pydantic

    return pydantic.TypeAdapter(annotation)


def _invalid() -> type[pydantic.ValidationError]:
    """pydantic's validation error (loaded already: an adapter raised it)."""
    import pydantic

    return pydantic.ValidationError


def is_model(annotation: type) -> bool:
    """Is ``annotation`` a pydantic model? None is unless ``pydantic.main`` is loaded:
    asking for ``pydantic.BaseModel`` would load it (12 ms in each worker child, whose
    task modules define no model)."""
    main = sys.modules.get("pydantic.main")
    return main is not None and issubclass(annotation, main.BaseModel)


def _summary(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
