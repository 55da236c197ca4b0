"""A PostgreSQL transaction's notifications as the JSON its statements take
(``store/postgres/outbox.py``): written by hand, read back as what was added."""

from __future__ import annotations

import json

from outlast.store.postgres.outbox import Outbox
from outlast.store.postgres.target import parse_target


def test_notifications_are_json_of_their_channels_and_payloads() -> None:
    outbox = Outbox(parse_target("postgresql://h/db?schema=proj"))
    outbox.add("outlast_queued", 'a "queue" \\ é\n\x01')
    outbox.add("outlast_changed", "")
    assert json.loads(outbox.take()) == [["proj:outlast_queued", 'a "queue" \\ é\n\x01'],
                                         ["proj:outlast_changed", ""]]
    assert json.loads(outbox.take()) == []  # each goes once
    outbox.add("outlast_queued", "q")
    assert json.loads(outbox.take()) == [["proj:outlast_queued", "q"]]


def test_without_a_schema_the_channel_is_its_name() -> None:
    outbox = Outbox(parse_target("postgresql://h/db"))
    outbox.add("outlast_due", "1.5")
    assert json.loads(outbox.take()) == [["outlast_due", "1.5"]]
