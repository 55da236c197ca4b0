"""Messages between a supervisor and its children pickle as dataclass instances do."""

from __future__ import annotations

import io
import pickle
from typing import Any

import pytest

from outlast.worker import messages as m

EXAMPLES: list[Any] = [
    m.Assignment({"id": "run_1", "task_id": "t", "payload": "null"}, "lease_1", 2, None,
                 "dev", journal=[{"op": "x"}], shared=True, held_until=12.5),
    m.HookJob({"id": "run_1"}, "on_success", "lease_1", "dev"),
    m.Stop(),
    m.Cancel("run_1"),
    m.Reply(3, True, data={"a": [1, 2]}),
    m.Ready(11, [{"id": "t"}], import_errors={"x.py": {"error": "e", "traceback": "tb"}},
            async_tasks=("t",)),
    m.LogBatch("run_1", "lease_1", 1, [{"at": 1.0, "level": "info", "message": "hi"}]),
    m.Finished("run_1", "lease_1", 1, "completed", 0.25, output={"ok": True},
               hook_errors=({"hook": "h"},)),
    m.HookDone("run_1", "lease_1", [{"hook": "h"}]),
]


def _default(message: Any, protocol: int) -> bytes:
    """``message`` pickled by ``object.__reduce_ex__``, as without ``_Message``."""

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, m._Message):
                return object.__reduce_ex__(obj, protocol)
            return NotImplemented

    out = io.BytesIO()
    Pickler(out, protocol).dump(message)
    return out.getvalue()


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda x: type(x).__name__)
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_message_pickles_as_a_dataclass_instance_and_reads_back_equal(
        message: Any, protocol: int) -> None:
    data = pickle.dumps(message, protocol)
    assert pickle.loads(data) == message
    assert data == _default(message, protocol)
    assert pickle.loads(pickle.dumps([message, message], protocol)) == [message, message]


def test_the_reduction_is_object_reduce_ex_s() -> None:
    for message in EXAMPLES:
        for protocol in (2, 4, 5):
            assert object.__reduce_ex__(message, protocol)[:3] == message.__reduce_ex__(
                protocol) == (m._newobj, (type(message),), message.__dict__ or None)
