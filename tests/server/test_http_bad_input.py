"""Bad input over HTTP: every case answers 400 naming the field, and writes nothing.

Times and durations out of their documented range, NUL bytes and lone UTF-16 surrogates
in texts, integers out of their column's range, unreadable query values: each used to
reach the store (a 500, or a row that broke every later listing) and is now refused at the
boundary. The table is the list of cases tried; ``{RUN}`` stands for a delayed run's id.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from outlast.engine import Engine

API = "/api/v1"
HUGE = "99999999999999w"
TRIGGER = "POST /tasks/hello/trigger"


def opts(**options: Any) -> dict[str, Any]:
    return {"payload": None, "options": options}


#: (request, body: dict or raw JSON text or None, the field the message names)
CASES: list[tuple[str, Any, str]] = [
    # 1. times and durations: finite, within range
    (TRIGGER, '{"options": {"delay": {"at": 1e400}}}', "delay"),
    (TRIGGER, opts(delay={"at": 1e300}), "delay"),
    (TRIGGER, opts(delay={"at": -1}), "delay"),
    (TRIGGER, opts(delay=HUGE), "delay"),
    (TRIGGER, opts(delay=1e300), "delay"),
    (TRIGGER, opts(delay="9999-12-31T23:59:59-05:00"), "delay"),
    (TRIGGER, opts(ttl=HUGE), "ttl"),
    (TRIGGER, '{"options": {"ttl": 1e400}}', "ttl"),
    (TRIGGER, opts(idempotency_key="k", idempotency_key_ttl=HUGE), "idempotency_key_ttl"),
    (TRIGGER, opts(max_duration=1e300), "max_duration"),
    (TRIGGER, opts(debounce={"key": "k", "delay": HUGE}), "debounce.delay"),
    (TRIGGER, opts(debounce={"key": "k", "delay": "1s", "max_delay": HUGE}),
     "debounce.max_delay"),
    ("POST /batch", {"items": [{"task": "hello", "options": {"delay": HUGE}}]}, "delay"),
    ("POST /waitpoints/tokens", {"timeout": HUGE}, "timeout"),
    ("POST /waitpoints/tokens", '{"timeout": 1e400}', "timeout"),
    ("POST /waitpoints/tokens", {"timeout": 1e300}, "timeout"),
    ("POST /runs/{RUN}/reschedule", '{"delay": {"at": 1e400}}', "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": {"at": 1e300}}, "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": HUGE}, "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": {"at": "abc"}}, "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": {"at": None}}, "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": {"at": [1]}}, "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": {"at": True}}, "delay"),
    ("POST /runs/{RUN}/reschedule", {"delay": [1]}, "delay"),
    ("POST /schedules", {"task": "hello", "cron": "*/99999999999999999999 * * * *"}, "cron"),
    ("POST /schedules", {"task": "hello", "cron": "0 */25 * * *"}, "cron"),
    ("PATCH /queues/hello", {"rate_limit": f"1/{HUGE}"}, "rate_limit"),
    ("PATCH /queues/hello", {"rate_limit": "99999999999999999999/s"}, "rate_limit"),
    ("PATCH /queues/hello", {"key_rate_limit": "1/1e400s"}, "key_rate_limit"),
    ("POST /auth/public-tokens", {"scope": {"tag": "t"}, "ttl": HUGE}, "ttl"),
    # 2a. NUL bytes in texts that reach the store
    (TRIGGER, opts(tags=["a\x00b"]), "tags"),
    (TRIGGER, opts(concurrency_key="k\x00"), "concurrency_key"),
    (TRIGGER, opts(idempotency_key="k\x00"), "idempotency_key"),
    (TRIGGER, opts(queue="q\x00"), "queue"),
    ("POST /batch", {"items": [{"task": "hel\x00lo"}]}, "task"),
    ("POST /batch", {"items": [{"task": "hello\ud800"}]}, "task"),
    (TRIGGER, opts(debounce={"key": "k\x00", "delay": "1s"}), "debounce.key"),
    ("POST /tasks/hel%00lo/trigger", {}, "task_id"),
    ("GET /runs/run_%00x", None, "run_id"),
    ("POST /runs/run_%00x/cancel", None, "run_id"),
    ("GET /runs?tag=a%00", None, "tag"),
    ("GET /runs?task=a%00", None, "task"),
    ("GET /runs?parent_id=a%00", None, "parent_id"),
    ("GET /runs?root_id=a%00", None, "root_id"),
    ("GET /runs?idempotency_key=a%00", None, "idempotency_key"),
    ("GET /runs?cursor=a%00", None, "cursor"),
    ("POST /runs/{RUN}/tags", {"tags": ["a\x00"]}, "tags"),
    ("POST /waitpoints/tokens", {"tags": ["a\x00"]}, "tags"),
    ("POST /waitpoints/tokens", {"idempotency_key": "a\x00"}, "idempotency_key"),
    ("GET /waitpoints/tokens?tag=a%00", None, "tag"),
    ("GET /waitpoints/tokens?run_id=a%00", None, "run_id"),
    ("GET /waitpoints/tokens/wp_%00", None, "token_id"),
    ("POST /schedules", {"task": "hello", "cron": "0 * * * *", "external_id": "a\x00"},
     "external_id"),
    ("POST /schedules", {"task": "hello", "cron": "0 * * * *", "deduplication_key": "a\x00"},
     "deduplication_key"),
    ("GET /schedules/sched_%00", None, "schedule_id"),
    ("GET /queues/q%00", None, "name"),
    ("GET /runs/run_%00x/subscribe", None, "run_id"),
    ("GET /runs/subscribe?tag=a%00", None, "tag"),
    ("GET /runs/run_%00x/streams/k", None, "run_id"),
    ("GET /runs/{RUN}/streams/k%00", None, "key"),
    ("GET /runs/{RUN}/subscribe?after=%C2%B2", None, "Last-Event-ID"),
    # 2b. lone UTF-16 surrogates in payloads and texts
    (TRIGGER, '{"payload": "\\ud800"}', "payload"),
    (TRIGGER, '{"payload": {"\\udfff": 1}}', "payload"),
    (TRIGGER, '{"options": {"tags": ["\\ud800"]}}', "tags"),
    (TRIGGER, '{"options": {"metadata": {"k": "\\ud800"}}}', "metadata"),
    (TRIGGER, '{"options": {"concurrency_key": "\\udc00"}}', "concurrency_key"),
    ("POST /runs/{RUN}/replay", '{"payload": "\\ud800"}', "payload"),
    ("PUT /runs/{RUN}/metadata", '{"set": {"k": "\\ud800"}}', "metadata"),
    ("POST /runs/{RUN}/tags", '{"tags": ["\\ud800"]}', "tags"),
    ("POST /schedules", '{"task": "hello", "cron": "0 * * * *", "external_id": "\\ud800"}',
     "external_id"),
    # 2c. integers out of the column's range
    (TRIGGER, opts(priority=2**31), "priority"),
    (TRIGGER, opts(priority=-(2**31) - 1), "priority"),
    (TRIGGER, opts(priority=2**70), "priority"),
    (TRIGGER, opts(max_attempts=2**31), "max_attempts"),
    ("PATCH /queues/hello", {"concurrency_limit": 2**31}, "concurrency_limit"),
    ("PATCH /queues/hello", {"total_limit": 2**70}, "total_limit"),
    ("PUT /environment/limit", {"concurrency_limit": 2**31}, "concurrency_limit"),
    ("PUT /environment/limit", {"concurrency_limit": 2**70}, "concurrency_limit"),
    # 2d. query values that are not what they say
    ("GET /runs/{RUN}/events?after=abc", None, "after"),
    ("GET /runs/{RUN}/logs?after=abc", None, "after"),
    ("GET /runs/{RUN}/events?after=99999999999999999999", None, "after"),
    ("GET /runs/{RUN}/logs?after=-99999999999999999999", None, "after"),
    ("GET /runs?created_after=nan", None, "created_after"),
    ("GET /runs?created_after=inf", None, "created_after"),
    ("GET /runs?created_before=1e400", None, "created_before"),
    ("GET /runs?created_before=-nan", None, "created_before"),
    ("GET /runs?limit=99999999999999999999", None, "limit"),
    ("GET /waitpoints/tokens?limit=99999999999999999999", None, "limit"),
    ("GET /schedules?limit=99999999999999999999", None, "limit"),
]


def _state(engine: Engine, run_id: str) -> Any:
    """What a refused request must leave unchanged."""
    runs, _ = engine.list_runs("dev", limit=1000)
    tokens, _ = engine.durable.list_tokens("dev", limit=1000)
    schedules, _ = engine.schedules.list("dev", limit=1000)
    return ([(r["id"], r["available_at"], r["tags"], r["metadata"], r["status"]) for r in runs],
            len(tokens), len(schedules), engine.queues.list("dev"),
            engine.queues.environment_limit("dev"))


def _send(client: TestClient, request: str, body: Any) -> Any:
    method, path = request.split(" ", 1)
    content = None if body is None else body if isinstance(body, str) else json.dumps(body)
    headers = {"Content-Type": "application/json"} if content is not None else {}
    return client.request(method, API + path, content=content, headers=headers)


@pytest.mark.parametrize(("request_line", "body", "field"), CASES,
                         ids=[f"{r} {f}" for r, _, f in CASES])
def test_bad_input_is_a_400_naming_the_field(client: TestClient, engine: Engine,
                                             request_line: str, body: Any, field: str) -> None:
    delayed = client.post(f"{API}/tasks/hello/trigger", json=opts(delay="1h"))
    assert delayed.status_code == 201
    run_id = delayed.json()["id"]
    before = _state(engine, run_id)
    r = _send(client, request_line.replace("{RUN}", run_id), body)
    assert r.status_code == 400, (r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"], error
    assert _state(engine, run_id) == before


# -- property: whatever the values, never a 5xx ------------------------------------------

#: JSON leaves with the edges the table above is made of: huge and infinite numbers
#: (sent as 1e400), integers past INT8, NUL and lone surrogates in texts
LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
          | st.floats(allow_nan=False) | st.sampled_from([1e300, -1e300, 2.0**63])
          | st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
          | st.sampled_from(["99999999999999w", "1h", "\x00", "\ud800", "abc", "1/s",
                             "*/99999 * * * *", "9999-12-31T23:59:59-05:00"]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["at", "key", "delay"]), inner,
                                        max_size=2), max_leaves=4)
OPTION_NAMES = ["delay", "ttl", "idempotency_key", "idempotency_key_ttl", "concurrency_key",
                "queue", "priority", "tags", "metadata", "max_attempts", "machine",
                "max_duration", "debounce"]
BODIES = {
    "POST /tasks/hello/trigger": st.fixed_dictionaries(
        {"payload": VALUES}, optional={"options": st.dictionaries(
            st.sampled_from(OPTION_NAMES), VALUES, max_size=3)}),
    "POST /runs/{RUN}/reschedule": st.fixed_dictionaries({"delay": VALUES}),
    "POST /waitpoints/tokens": st.dictionaries(
        st.sampled_from(["timeout", "tags", "idempotency_key"]), VALUES, max_size=3),
    "PATCH /queues/hello": st.dictionaries(
        st.sampled_from(["concurrency_limit", "total_limit", "rate_limit", "key_rate_limit"]),
        VALUES, min_size=1, max_size=2),
    "PUT /environment/limit": st.fixed_dictionaries({"concurrency_limit": VALUES}),
    "POST /schedules": st.fixed_dictionaries(
        {"task": st.just("hello"), "cron": VALUES},
        optional={"timezone": VALUES, "external_id": VALUES}),
    "POST /runs/{RUN}/tags": st.fixed_dictionaries({"tags": VALUES}),
    "PUT /runs/{RUN}/metadata": st.fixed_dictionaries({"set": VALUES}),
}


def _json(value: Any) -> str:
    """JSON as a client may send it: an infinite float is written as 1e400."""
    return json.dumps(value).replace("-Infinity", "-1e400").replace("Infinity", "1e400")


@pytest.mark.parametrize("request_line", list(BODIES))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_value_makes_a_5xx(client: TestClient, request_line: str,
                              data: st.DataObject) -> None:
    delayed = client.post(f"{API}/tasks/hello/trigger", json=opts(delay="1h"))
    line = request_line.replace("{RUN}", delayed.json()["id"])
    body = data.draw(BODIES[request_line])
    r = _send(client, line, _json(body))
    assert r.status_code < 500, (line, body, r.text)
