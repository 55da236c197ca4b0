"""``tags``: label the running run after it started, to find it and follow it.

    from outlast import tags

    tags.add("user:17")
    tags.add("plan:pro", "region:eu")

Tags added here behave like those given at trigger time: ``runs.list(tag=...)`` finds
the run and ``runs.subscribe(tag=...)`` starts showing it at once. A run has at most 10
tags of 1-128 characters; going past that raises ``ValidationError`` and adds none. A
tag the run already has is a no-op, so a retried attempt may add its tags again. From
outside a run, use ``runs.add_tags(run_id, [...])``.
"""

from __future__ import annotations

import asyncio

from outlast.core.durable_requests import AddTags
from outlast.sdk.durable import active


class _Tags:
    def add(self, *tags: str) -> list[str]:
        """Add ``tags`` to this run (fenced by the attempt's lease); returns its tags."""
        run = active("tags.add")
        result: list[str] = run.ask(AddTags(run.run_id, run.lease_id, list(tags)))
        return result

    async def add_async(self, *tags: str) -> list[str]:
        return await asyncio.to_thread(self.add, *tags)


tags = _Tags()
