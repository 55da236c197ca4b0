"""A worker's child reads and writes its pipe itself, framed as ``Connection`` frames it:
either end may be a ``Connection``."""

from __future__ import annotations

import os
import struct
import threading
from multiprocessing import Pipe
from typing import Any

import pytest

from outlast.worker.child import _received, _write
from outlast.worker.child_pipe import framed


@pytest.mark.parametrize("message", [None, {"run": "x" * 100}, b"y" * 20_000,
                                     ["z" * 1_000_000, 3]])
def test_messages_cross_either_way(message: Any) -> None:
    mine, theirs = Pipe()
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(theirs.recv()))
    reader.start()  # a message larger than the socket's buffer is written while read
    _write(mine.fileno(), framed(message))
    reader.join(10)
    assert got == [message]
    writer = threading.Thread(target=lambda: theirs.send(message))
    writer.start()
    assert _received(mine.fileno()) == message
    writer.join(10)


def test_a_closed_other_end_is_the_end_of_the_pipe() -> None:
    for sent in (b"", struct.pack("!i", 100) + b"cut short"):
        mine, theirs = Pipe()
        os.write(theirs.fileno(), sent)
        theirs.close()
        with pytest.raises(EOFError):
            _received(mine.fileno())
