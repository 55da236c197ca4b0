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
    if not isinstance(message, m.Finished):
        assert data == _default(message, protocol)
    assert pickle.loads(pickle.dumps([message, message], protocol)) == [message, message]


def test_the_reduction_is_object_reduce_ex_s() -> None:
    for message in EXAMPLES:
        if isinstance(message, m.Finished):
            continue  # pickled by its values (below)
        for protocol in (2, 4, 5):
            assert object.__reduce_ex__(message, protocol)[:3] == message.__reduce_ex__(
                protocol) == (m._newobj, (type(message),), message.__dict__ or None)


def test_a_finished_run_is_pickled_by_its_values_and_read_back_as_init_makes_it() -> None:
    """Every field travels, in ``__init__``'s order, and what is read back is the
    instance ``Finished(...)`` makes."""
    import dataclasses

    names = [f.name for f in dataclasses.fields(m.Finished)]
    full = m.Finished("run_1", "lease_1", 2, "failed", 0.5, {"out": 1}, {"type": "E"}, 3.0,
                      True, 9.0, "large-1x", ({"hook": "h"},))
    for message in (full, m.Finished("run_2", "lease_2", 1, "completed", 0.1)):
        back = pickle.loads(pickle.dumps(message))
        assert back == message and vars(back) == vars(message)
        assert list(vars(back)) == names
        assert len(pickle.dumps(message)) < len(_default(message, 4))
        with pytest.raises(dataclasses.FrozenInstanceError):
            back.kind = "x"
    assert pickle.loads(pickle.dumps([full, full])) == [full, full]
