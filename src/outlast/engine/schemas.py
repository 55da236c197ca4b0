"""Checking a payload against a task's JSON schema when the task's code is not loaded.

A server that triggers by id knows a typed task only through the schema its worker
registered; checking it here rejects a bad payload before any run is written.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema

from outlast.errors import ValidationError
from outlast.jsonutil import dumps


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    import json

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def check_payload(task_id: str, schema: dict[str, Any] | None, payload: Any) -> None:
    """Raise ValidationError naming every problem (up to five) when ``payload`` misfits."""
    if not schema:
        return
    errors = sorted(_validator(dumps(schema, "schema")).iter_errors(payload),
                    key=lambda e: list(e.absolute_path))
    if not errors:
        return
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.absolute_path) or "payload"
        parts.append(f"{where}: {err.message}")
    raise ValidationError(f"payload for task {task_id!r} is invalid: {'; '.join(parts)}")
