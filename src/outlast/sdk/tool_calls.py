"""A model's tool calls in, tool results out, in each provider's shape.

Read (as dicts or as the provider SDK's objects, field by field):

- OpenAI Chat Completions: ``message.tool_calls[i]`` =
  ``{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}``
- OpenAI Responses: an output item ``{"type": "function_call", "call_id", "name",
  "arguments": "<JSON text>"}``
- Anthropic: a content block ``{"type": "tool_use", "id", "name", "input": {...}}``

Answered with the result message that provider expects next: ``{"role": "tool",
"tool_call_id", "content"}``, ``{"type": "function_call_output", "call_id", "output"}`` or
``{"type": "tool_result", "tool_use_id", "content", "is_error"}``.

Arguments that are not JSON are kept as a ``problem`` on the call, not raised: the model
wrote them, and the model is who reads the error and tries again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outlast.errors import ValidationError
from outlast.sdk.tool_specs import ToolFormat

#: item types of a model's turn that are not tool calls (text, reasoning): passed over
_CALL_TYPES = {"tool_use": "anthropic", "function_call": "openai-responses"}


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a model's turn, whatever the provider."""

    format: ToolFormat
    id: str
    name: str
    #: the decoded arguments (None when ``problem`` says why they could not be read)
    arguments: Any
    problem: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What a tool call gave: ``output`` when ``ok``, else ``error`` (text the model
    reads). ``message`` is the provider's tool-result message to send back."""

    call: ToolCall
    ok: bool
    output: Any = None
    error: str | None = None
    #: the run that executed the call (None when the call was refused before running)
    run_id: str | None = None

    @property
    def content(self) -> str:
        """The text the model reads: the output (JSON unless a string) or the error."""
        if not self.ok:
            prefix = "" if self.call.format == "anthropic" else "Error: "
            return prefix + (self.error or "the tool failed")
        if isinstance(self.output, str):
            return self.output
        return json.dumps(self.output, ensure_ascii=False)

    @property
    def message(self) -> dict[str, Any]:
        if self.call.format == "anthropic":
            return {"type": "tool_result", "tool_use_id": self.call.id,
                    "content": self.content, "is_error": not self.ok}
        if self.call.format == "openai-responses":
            return {"type": "function_call_output", "call_id": self.call.id,
                    "output": self.content}
        return {"role": "tool", "tool_call_id": self.call.id, "content": self.content}


def parse(item: Any) -> ToolCall | None:
    """The tool call ``item`` is; None for a part of the turn that is not one (a text or
    reasoning block); ValidationError for something that is no part of a model's turn."""
    function = _field(item, "function")
    if function is not None:
        return _call("openai", _field(item, "id"), _field(function, "name"),
                     _field(function, "arguments"))
    kind = _field(item, "type")
    if kind == "tool_use":
        return _call("anthropic", _field(item, "id"), _field(item, "name"),
                     _field(item, "input"))
    if kind == "function_call":
        return _call("openai-responses", _field(item, "call_id"), _field(item, "name"),
                     _field(item, "arguments"))
    if isinstance(kind, str):
        return None
    raise ValidationError(
        "not a tool call: expected an OpenAI tool_calls item, a Responses function_call "
        f"item or an Anthropic tool_use block, got {type(item).__name__}")


def _call(format: ToolFormat, call_id: Any, name: Any, raw: Any) -> ToolCall:
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise ValidationError(f"a {format} tool call needs a string id and name")
    arguments, problem = _decoded(raw)
    return ToolCall(format, call_id, name, arguments, problem)


def _decoded(raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, str):
        return raw, None
    if not raw.strip():  # a tool without parameters may be called with ""
        return {}, None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"arguments are not valid JSON ({exc})"


def _field(item: Any, key: str) -> Any:
    """``item[key]`` for a dict, ``item.key`` for a provider SDK's object."""
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)
