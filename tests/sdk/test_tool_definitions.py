"""``task.as_tool()`` and ``tools.Toolset``: what a model is shown, and how a model's calls
and our results are read and written in each provider's shape (no run involved)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
from typing_extensions import TypedDict

from outlast import ConfigError, ValidationError, task, tools
from outlast.sdk.registry import Registry
from outlast.sdk.tool_calls import ToolCall, ToolResult, parse

reg = Registry()


@dataclass
class City:
    city: str
    days: int = 1


class Query(pydantic.BaseModel):
    text: str
    limit: int = 5


class Refund(TypedDict):
    order_id: str
    cents: int


@task(id="weather.current", registry=reg)
def weather(query: City) -> dict[str, Any]:
    """The current temperature in a city.

    In degrees Celsius."""
    return {"city": query.city}


@task(id="docs/search", registry=reg)
def search(query: Query) -> list[str]:
    """Search the docs."""
    return []


@task(id="billing.refund", registry=reg)
def refund(payload: Refund) -> None:
    """Refund part of an order."""


@task(id="anything", registry=reg)
def untyped(payload: Any) -> Any:
    return payload


CITY_SCHEMA = {"properties": {"city": {"title": "City", "type": "string"},
                              "days": {"default": 1, "title": "Days", "type": "integer"}},
               "required": ["city"], "title": "City", "type": "object"}


# -- definitions ---------------------------------------------------------------------------


def test_each_format_has_its_api_shape_exactly() -> None:
    described = "The current temperature in a city.\n\nIn degrees Celsius."
    assert weather.as_tool() == weather.as_tool("openai") == {
        "type": "function",
        "function": {"name": "weather_current", "description": described,
                     "parameters": CITY_SCHEMA}}
    assert weather.as_tool("openai-responses") == {
        "type": "function", "name": "weather_current", "description": described,
        "parameters": CITY_SCHEMA, "strict": False}
    assert weather.as_tool("anthropic") == {
        "name": "weather_current", "description": described, "input_schema": CITY_SCHEMA}


def test_schemas_of_pydantic_typeddict_and_untyped_payloads() -> None:
    assert search.as_tool("anthropic")["input_schema"] == {
        "properties": {"text": {"title": "Text", "type": "string"},
                       "limit": {"default": 5, "title": "Limit", "type": "integer"}},
        "required": ["text"], "title": "Query", "type": "object"}
    assert refund.as_tool("anthropic")["input_schema"] == {
        "properties": {"order_id": {"title": "Order Id", "type": "string"},
                       "cents": {"title": "Cents", "type": "integer"}},
        "required": ["order_id", "cents"], "title": "Refund", "type": "object"}
    definition = untyped.as_tool("anthropic")
    assert definition["input_schema"] == {"type": "object", "properties": {}}
    assert definition["description"] == "Runs the task anything."
    definition["input_schema"]["properties"]["x"] = 1  # a copy: the next one is untouched
    assert untyped.as_tool("anthropic")["input_schema"] == {"type": "object", "properties": {}}


def test_an_unknown_format_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="'gemini'.*openai, openai-responses, anthropic"):
        weather.as_tool("gemini")


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("task_id", "name"), [
    ("send-email", "send-email"),
    ("send_email", "send_email"),
    ("billing.refund", "billing_refund"),
    ("acme/billing/refund v2", "acme_billing_refund_v2"),
    ("café", "caf_"),
])
def test_task_ids_become_valid_tool_names(task_id: str, name: str) -> None:
    assert tools.tool_name(task_id) == name
    assert tools.NAME.match(name)


def test_a_long_id_is_cut_and_ends_with_a_hash_of_the_whole_id() -> None:
    long_a, long_b = "x" * 70 + ".a", "x" * 70 + ".b"
    name = tools.tool_name(long_a)
    assert len(name) == 64 and tools.NAME.match(name)
    assert name == "x" * 55 + "-" + hashlib.sha256(long_a.encode()).hexdigest()[:8]
    assert tools.tool_name(long_b) != name
    assert tools.tool_name(long_a) == name  # the same in every process


def test_the_toolset_maps_names_back_to_tasks() -> None:
    toolset = tools.Toolset(weather, search, refund, untyped)
    assert toolset.names == {"weather_current": "weather.current", "docs_search": "docs/search",
                             "billing_refund": "billing.refund", "anything": "anything"}
    assert toolset.task("docs_search") is search
    assert [d["name"] for d in toolset.definitions("anthropic")] == list(toolset.names)
    assert toolset.definitions("openai")[0] == weather.as_tool("openai")


def test_colliding_names_are_refused_and_an_own_name_resolves_them() -> None:
    other = Registry()

    @task(id="docs.search", registry=other)
    def dotted(payload: Any) -> None: ...

    with pytest.raises(ConfigError, match="'docs/search' and 'docs.search'.*names="):
        tools.Toolset(search, dotted)
    toolset = tools.Toolset(search, dotted, names={"docs.search": "docs_search_dotted"})
    assert toolset.task("docs_search_dotted") is dotted
    assert dotted.as_tool(name="mine")["function"]["name"] == "mine"
    with pytest.raises(ConfigError, match="must match"):
        dotted.as_tool(name="has space")


# -- reading calls, writing results ---------------------------------------------------------


def test_each_providers_call_shape_is_read_from_dicts_and_objects() -> None:
    chat = {"id": "c1", "type": "function",
            "function": {"name": "weather_current", "arguments": '{"city": "Oslo"}'}}
    responses = {"type": "function_call", "id": "fc_1", "call_id": "c2",
                 "name": "weather_current", "arguments": '{"city": "Oslo"}'}
    anthropic = {"type": "tool_use", "id": "c3", "name": "weather_current",
                 "input": {"city": "Oslo"}}
    expected = [ToolCall("openai", "c1", "weather_current", {"city": "Oslo"}),
                ToolCall("openai-responses", "c2", "weather_current", {"city": "Oslo"}),
                ToolCall("anthropic", "c3", "weather_current", {"city": "Oslo"})]
    assert [parse(c) for c in (chat, responses, anthropic)] == expected
    as_objects = [SimpleNamespace(id="c1", type="function",
                                  function=SimpleNamespace(**chat["function"])),
                  SimpleNamespace(**responses), SimpleNamespace(**anthropic)]
    assert [parse(c) for c in as_objects] == expected


def test_text_and_reasoning_parts_are_passed_over_and_junk_is_refused() -> None:
    assert parse({"type": "text", "text": "hi"}) is None
    assert parse({"type": "reasoning", "summary": []}) is None
    with pytest.raises(ValidationError, match="not a tool call"):
        parse("weather_current")
    with pytest.raises(ValidationError, match="string id and name"):
        parse({"type": "tool_use", "name": "x", "input": {}})


def test_arguments_that_are_not_json_are_kept_as_a_problem() -> None:
    call = parse({"id": "c", "function": {"name": "f", "arguments": "{city: Oslo"}})
    assert call is not None and call.arguments is None
    assert call.problem is not None and call.problem.startswith("arguments are not valid JSON")
    empty = parse({"id": "c", "function": {"name": "f", "arguments": ""}})
    assert empty is not None and empty.arguments == {} and empty.problem is None


def test_result_messages_have_each_providers_shape_exactly() -> None:
    def result(format: Any, ok: bool) -> ToolResult:
        call = ToolCall(format, "id-1", "weather_current", {})
        return ToolResult(call, ok, {"temp_c": 4} if ok else None,
                          None if ok else "boom", "run_1" if ok else None)

    assert result("openai", True).message == {
        "role": "tool", "tool_call_id": "id-1", "content": '{"temp_c": 4}'}
    assert result("openai", False).message == {
        "role": "tool", "tool_call_id": "id-1", "content": "Error: boom"}
    assert result("openai-responses", True).message == {
        "type": "function_call_output", "call_id": "id-1", "output": '{"temp_c": 4}'}
    assert result("openai-responses", False).message["output"] == "Error: boom"
    assert result("anthropic", True).message == {
        "type": "tool_result", "tool_use_id": "id-1", "content": '{"temp_c": 4}',
        "is_error": False}
    assert result("anthropic", False).message == {
        "type": "tool_result", "tool_use_id": "id-1", "content": "boom", "is_error": True}
    text = ToolResult(ToolCall("anthropic", "i", "n", {}), True, "sunny")
    assert text.content == "sunny"  # a string output is sent as is, not as JSON


def test_refused_calls_are_answered_without_any_run_or_client() -> None:
    """Outside a run and with no Outlast configured: nothing is triggered, nothing raises."""
    toolset = tools.Toolset(weather, refund)
    results = toolset.call([
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "a", "name": "nope", "input": {}},
        {"type": "tool_use", "id": "b", "name": "weather_current", "input": {"days": "many"}},
        {"type": "tool_use", "id": "c", "name": "billing_refund", "input": ["o1", 5]},
        {"type": "tool_use", "id": "d", "name": "billing_refund",
         "input": {"order_id": "o1"}},
    ])
    assert [r.call.id for r in results] == ["a", "b", "c", "d"]
    assert not any(r.ok or r.run_id for r in results)
    assert [r.message["is_error"] for r in results] == [True] * 4
    assert results[0].content == ("unknown tool 'nope'; the tools are: weather_current, "
                                  "billing_refund")
    assert results[1].content == ("invalid arguments for weather_current: city: Field "
                                  "required; days: Input should be a valid integer, unable "
                                  "to parse string as an integer")
    assert results[2].content == "arguments for billing_refund must be a JSON object, got list"
    assert results[3].content == "invalid arguments for billing_refund: cents: Field required"
    bad_json = toolset.call_one({"id": "e", "type": "function",
                                 "function": {"name": "weather_current", "arguments": "{"}})
    assert bad_json.message["content"].startswith("Error: arguments are not valid JSON")
    assert json.dumps(bad_json.message)  # plain JSON, ready for the API
