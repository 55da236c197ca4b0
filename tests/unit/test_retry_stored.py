"""A run's row holds its retry policy as the fields that differ from the defaults.

So the defaults are part of the stored format: a run triggered with the default policy
holds ``{}``, and a release that changed a default would change the policy of every such
run already queued. This test holds them; changing one means storing the old values for
the runs written before (a migration), not editing this list.
"""

from __future__ import annotations

import json

import pytest

from outlast.core.retry import Retry

STORED_DEFAULTS = {"max_attempts": 3, "factor": 2.0, "min_delay": 1.0, "max_delay": 30.0,
                   "randomize": True, "out_of_memory_machine": None}


def test_the_defaults_a_stored_policy_leaves_out_do_not_change() -> None:
    assert Retry().to_dict() == STORED_DEFAULTS


def test_the_default_policy_is_stored_as_an_empty_object() -> None:
    assert Retry().to_json() == "{}"
    assert Retry.from_dict(json.loads("{}")) == Retry()


@pytest.mark.parametrize("policy", [
    Retry(max_attempts=1),
    Retry(max_attempts=7, factor=3.0, min_delay=0.5, max_delay=600.0, randomize=False),
    Retry(out_of_memory_machine="large-2x"),
    Retry(min_delay=0, max_delay=0),
])
def test_a_policy_comes_back_whole_from_what_is_stored(policy: Retry) -> None:
    stored = json.loads(policy.to_json())
    assert set(stored) == {k for k, v in policy.to_dict().items() if v != STORED_DEFAULTS[k]}
    assert Retry.from_dict(stored) == policy
