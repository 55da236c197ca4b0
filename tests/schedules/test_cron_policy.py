"""The pure next-fire policy: parsing, zones, DST edges in several zones, no back-fill."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from outlast.core import cron
from outlast.errors import ValidationError


def at(text: str, tz: str) -> float:
    """Epoch seconds of a wall-clock time in ``tz`` (fold=0: the first of a repeated hour)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def local(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat()


def fires(expr: str, tz: str, start: str, count: int) -> list[str]:
    """The next ``count`` fire times after local ``start``, as local ISO strings."""
    after = at(start, tz)
    out = []
    for _ in range(count):
        after = cron.next_after(expr, tz, after)
        out.append(local(after, tz))
    return out


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expanded"), [
    ("*/5 * * * *", "*/5 * * * *"),
    ("  0   9 * *   1-5 ", "0 9 * * 1-5"),
    ("0 9 * * MON-FRI", "0 9 * * MON-FRI"),
    ("0 9 * * mon-fri", "0 9 * * mon-fri"),
    ("0 0 1 JAN,JUL *", "0 0 1 JAN,JUL *"),
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@HOURLY", "0 * * * *"),
    ("0 0 L * *", "0 0 L * *"),
    ("15,45 8-18/2 * * SAT,SUN", "15,45 8-18/2 * * SAT,SUN"),
])
def test_valid_expressions_expand_to_five_fields(given: str, expanded: str) -> None:
    assert cron.expand(given) == expanded


@pytest.mark.parametrize(("given", "message"), [
    ("", "non-empty"),
    ("* * * *", "expected 5 fields"),
    ("*/5 * * * * *", "expected 5 fields"),  # no seconds field: minute precision only
    ("0 0 1 1 * 2027", "expected 5 fields"),
    ("60 * * * *", "Bad minute"),
    ("* 24 * * *", "Bad hour"),
    ("* * 32 * *", "Bad day-of-month"),
    ("* * * 13 *", "Bad month"),
    ("* * * * MONDAY", "Bad day-of-week"),
    ("@every_minute", "expected 5 fields"),
    ("*/0 * * * *", "invalid cron"),
])
def test_invalid_expressions_are_clear_errors(given: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cron.expand(given)


@pytest.mark.parametrize("name", ["UTC", "Asia/Seoul", "America/New_York", "Europe/Berlin"])
def test_known_zones(name: str) -> None:
    assert cron.zone(name).key == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "utc ", "EST5EDT/x", "../etc/passwd"])
def test_unknown_zones_are_clear_errors(name: str) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        cron.zone(name)


def test_describe_reads_the_expression() -> None:
    assert cron.describe("0 9 * * MON-FRI") == "At 09:00 on Monday through Friday"


# -- next fire times, including DST edges ----------------------------------------------------

NEXT_FIRE = [
    # (cron, zone, start (local), expected next fire times (local))
    ("*/5 * * * *", "UTC", "2026-01-01T00:00:00",
     ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]),
    ("0 9 * * MON-FRI", "UTC", "2026-01-02T10:00:00",  # a Friday, after 09:00
     ["2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"]),
    ("0 0 1 JAN *", "UTC", "2026-06-01T00:00:00", ["2027-01-01T00:00:00+00:00"]),
    ("@hourly", "Asia/Seoul", "2026-03-08T01:30:00",  # no DST in Korea
     ["2026-03-08T02:00:00+09:00", "2026-03-08T03:00:00+09:00"]),
    ("0 9 * * *", "Asia/Seoul", "2026-11-01T00:00:00", ["2026-11-01T09:00:00+09:00"]),
    # New York springs forward 2026-03-08 02:00 → 03:00: 02:30 does not exist that day;
    # the daily 02:30 job runs once, at 03:00, and is back at 02:30 the next day
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00",
     ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    # New York falls back 2026-11-01 02:00 → 01:00: 01:30 happens twice; the job runs once
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00",
     ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
    # an hourly job runs in both 01:00 hours of the fall-back day: they are distinct hours
    ("0 * * * *", "America/New_York", "2026-11-01T00:30:00",
     ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
    # and skips the hour that does not exist on the spring-forward day
    ("0 * * * *", "America/New_York", "2026-03-08T00:30:00",
     ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"]),
    # Berlin: forward 2026-03-29 02:00 → 03:00, back 2026-10-25 03:00 → 02:00
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00",
     ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00",
     ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    # Sydney (southern hemisphere): back 2026-04-05 03:00 → 02:00, forward 2026-10-04 02:00 → 03:00
    ("30 2 * * *", "Australia/Sydney", "2026-04-04T12:00:00",
     ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"]),
    ("30 2 * * *", "Australia/Sydney", "2026-10-03T12:00:00",
     ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"]),
    ("0 9 * * 1-5", "Australia/Sydney", "2026-04-03T12:00:00",  # Friday → Monday
     ["2026-04-06T09:00:00+10:00"]),
    # a day of month that some months lack, and the last day of the month
    ("0 0 31 * *", "UTC", "2026-04-01T00:00:00", ["2026-05-31T00:00:00+00:00"]),
    ("0 12 L * *", "Europe/Berlin", "2026-02-01T00:00:00", ["2026-02-28T12:00:00+01:00"]),
]


@pytest.mark.parametrize(("expr", "tz", "start", "expected"), NEXT_FIRE)
def test_next_fire_times(expr: str, tz: str, start: str, expected: list[str]) -> None:
    assert fires(expr, tz, start, len(expected)) == expected


@pytest.mark.parametrize(("tz", "spring", "autumn"), [
    ("America/New_York", "2026-03-08", "2026-11-01"),
    ("Europe/Berlin", "2026-03-29", "2026-10-25"),
    ("Australia/Sydney", "2026-10-04", "2026-04-05"),
])
def test_a_daily_0230_job_runs_exactly_once_on_each_transition_day(
    tz: str, spring: str, autumn: str
) -> None:
    for day in (spring, autumn):
        start = at(f"{day}T00:00:00", tz)
        end = at(f"{day}T23:59:00", tz)
        count, after = 0, start
        while (after := cron.next_after("30 2 * * *", tz, after)) <= end:
            count += 1
        assert count == 1, day


def test_next_after_is_strictly_after() -> None:
    tick = at("2026-01-01T00:05:00", "UTC")
    assert cron.next_after("*/5 * * * *", "UTC", tick) == tick + 300
    assert cron.next_after("*/5 * * * *", "UTC", tick - 0.001) == tick


def test_upcoming_lists_the_next_five_in_the_zone() -> None:
    times = cron.upcoming("0 9 * * *", "Asia/Seoul", at("2026-01-01T10:00:00", "Asia/Seoul"))
    assert cron.iso_times(times) == [f"2026-01-0{d}T09:00:00+09:00" for d in range(2, 7)]


# -- the firing plan -------------------------------------------------------------------------

T = at("2026-01-01T00:00:00", "UTC")


@pytest.mark.parametrize(("now", "fire", "next_tick", "skipped"), [
    (T - 1, None, None, 0),  # not due yet
    (T, T, T + 300, 0),  # due exactly now
    (T + 299, T, T + 300, 0),
    (T + 300, T + 300, T + 600, 1),  # two due: the later fires, the earlier is skipped
    (T + 3600 + 10, T + 3600, T + 3900, 12),  # an hour down: one run, twelve skipped
])
def test_plan_fires_only_the_latest_due_tick(now: float, fire: float | None,
                                             next_tick: float | None, skipped: int) -> None:
    decision = cron.plan("*/5 * * * *", "UTC", T, now)
    if fire is None:
        assert decision is None
        return
    assert decision is not None
    assert (decision.fire, decision.next_tick, decision.skipped_count) == (fire, next_tick, skipped)
    assert decision.skipped == tuple(T + 300 * i for i in range(skipped))


def test_plan_records_at_most_the_latest_skipped_ticks() -> None:
    decision = cron.plan("* * * * *", "UTC", T, T + 86_400)
    assert decision is not None
    assert decision.skipped_count == 1440 and len(decision.skipped) == cron.MAX_SKIPPED_RECORDED
    assert decision.skipped[-1] == T + 86_400 - 60 and decision.fire == T + 86_400


def test_payload_has_every_field_in_the_schedule_zone() -> None:
    fire = at("2026-03-08T03:00:00", "America/New_York")
    last = at("2026-03-07T02:30:00", "America/New_York")
    body = cron.payload(fire=fire, last=last, cron="30 2 * * *", tz="America/New_York",
                        schedule_id="sched_1", external_id="user-17")
    assert body == {
        "timestamp": "2026-03-08T03:00:00-04:00",
        "last_timestamp": "2026-03-07T02:30:00-05:00",
        "timezone": "America/New_York",
        "schedule_id": "sched_1",
        "external_id": "user-17",
        "upcoming": [f"2026-03-{d:02d}T02:30:00-04:00" for d in range(9, 14)],
    }
