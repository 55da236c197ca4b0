"""A task as a tool an LLM can call: its name, description and argument schema, in the
shapes the OpenAI and Anthropic tool-calling APIs take.

The description is the task's docstring (what the model reads to decide when to call it)
and the schema is the JSON schema of the task's payload type (a pydantic model, a
dataclass or a TypedDict); an untyped task takes any JSON object.

Tool names must match ``^[a-zA-Z0-9_-]{1,64}$`` while a task id may hold dots, slashes or
any other character. ``tool_name`` maps an id to a name that depends on the id alone:
every other character becomes ``_``, and an id past 64 characters is cut and ends with a
hash of the whole id. Two ids can map to one name (``a.b`` and ``a/b``); a ``Toolset``
keeps the map from names back to tasks and refuses such a pair, so the map stays
one-to-one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, get_type_hints

import pydantic
from typing_extensions import is_typeddict

from outlast.errors import ConfigError, ValidationError
from outlast.sdk.payloads import is_model

if TYPE_CHECKING:
    from outlast.sdk.task import Task

#: ``"openai"``: Chat Completions; ``"openai-responses"``: the Responses API;
#: ``"anthropic"``: the Messages API
ToolFormat = Literal["openai", "openai-responses", "anthropic"]
FORMATS: tuple[str, ...] = get_args(ToolFormat)
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_OUTSIDE_NAME = re.compile(r"[^a-zA-Z0-9_-]")
MAX_NAME = 64


def tool_name(task_id: str) -> str:
    """The tool name for ``task_id``: the id itself when it is a valid name."""
    name = _OUTSIDE_NAME.sub("_", task_id) or "_"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(task_id.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}-{digest}"


def check_format(format: str) -> ToolFormat:
    if format not in FORMATS:
        raise ValidationError(f"unknown tool format {format!r}: one of {', '.join(FORMATS)}")
    return format  # type: ignore[return-value]


@dataclass(frozen=True)
class ToolSpec:
    """One task as a tool: what the model is shown, and how its arguments are checked."""

    task: Task[..., Any]
    name: str
    description: str
    schema: dict[str, Any]
    #: validates arguments against the payload type; None for an untyped task
    adapter: pydantic.TypeAdapter[Any] | None

    @classmethod
    def of(cls, task: Task[..., Any], name: str | None = None) -> ToolSpec:
        if name is not None and not NAME.match(name):
            raise ConfigError(f"tool name {name!r} must match {NAME.pattern}")
        kind = payload_type(task.fn)
        adapter = None if kind is None else pydantic.TypeAdapter(kind)
        return cls(task, name or tool_name(task.id), description_of(task),
                   any_object() if adapter is None else adapter.json_schema(), adapter)

    def definition(self, format: str = "openai") -> dict[str, Any]:
        """The tool definition in the shape ``format``'s API takes."""
        shape = check_format(format)
        if shape == "anthropic":
            return {"name": self.name, "description": self.description,
                    "input_schema": self.schema}
        function = {"name": self.name, "description": self.description,
                    "parameters": self.schema}
        if shape == "openai-responses":  # its `strict` defaults to true, which a pydantic
            return {"type": "function", **function, "strict": False}  # schema does not meet
        return {"type": "function", "function": function}

    def payload(self, arguments: Any) -> Any:
        """The run's payload (JSON) for a model's arguments; ValidationError, in words a
        model can act on, when they do not fit the schema."""
        if not isinstance(arguments, dict):
            raise ValidationError(f"arguments for {self.name} must be a JSON object, "
                                  f"got {type(arguments).__name__}")
        if self.adapter is None:
            return arguments
        try:
            value = self.adapter.validate_python(arguments)
        except pydantic.ValidationError as exc:
            raise ValidationError(f"invalid arguments for {self.name}: {summary(exc)}") from None
        return self.adapter.dump_python(value, mode="json")


def payload_type(fn: Any) -> Any | None:
    """The annotation of the task's payload when it has a schema: a pydantic model, a
    dataclass or a TypedDict."""
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        return None
    try:
        hints = get_type_hints(fn)
    except Exception:  # unresolvable forward references: treat as untyped, as triggers do
        return None
    annotation = hints.get(params[0].name)
    if is_typeddict(annotation):
        return annotation
    typed = inspect.isclass(annotation) and (
        is_model(annotation) or dataclasses.is_dataclass(annotation))
    return annotation if typed else None


def any_object() -> dict[str, Any]:
    """The schema of an untyped task: any JSON object (a new dict: callers may edit it)."""
    return {"type": "object", "properties": {}}


def description_of(task: Task[..., Any]) -> str:
    return inspect.getdoc(task.fn) or f"Runs the task {task.id}."


def summary(exc: pydantic.ValidationError) -> str:
    """Each problem as ``where: what`` (the first five), which a model can correct."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
