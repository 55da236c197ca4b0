"""``readiness.has_input``: ``readable`` without waiting, with poll objects kept per thread."""

from __future__ import annotations

import socket
import threading

from outlast.readiness import has_input, readable


def test_has_input_says_what_readable_says() -> None:
    left, right = socket.socketpair()
    try:
        assert not has_input(left.fileno()) and not readable(left.fileno())
        right.send(b"x")
        assert has_input(left.fileno()) and readable(left.fileno())
        left.recv(1)
        assert not has_input(left.fileno())  # the same kept poll object, asked again
        right.close()  # the peer's goodbye: readable (an end of file to read)
        assert has_input(left.fileno())
    finally:
        left.close()
        right.close()


def test_each_thread_asks_with_its_own_poll_object() -> None:
    left, right = socket.socketpair()
    right.send(b"x")
    seen: list[bool] = []
    threads = [threading.Thread(target=lambda: seen.extend(has_input(left.fileno())
                                                          for _ in range(200)))
               for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        left.close()
        right.close()
    assert seen == [True] * 800
