"""The market-data provider, offline: a price API that enforces its plan's rate limit.

Like a real provider, ``FakePriceAPI`` answers at most ``limit`` requests in any ``window``
seconds and refuses the rest with a 429 (``RateLimited``). Outlast keeps the calls under
that limit with the `price-api` queue's `rate_limit`, so no call is refused and no retry is
spent. Prices are made up, the same on every run. Replace ``price_api`` with your
provider's client; ``clock`` lets tests give it Outlast's test clock.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

#: the provider's plan: requests per window
LIMIT, WINDOW = 10, 60.0


class RateLimited(Exception):
    """HTTP 429 from the provider."""


@dataclass
class FakePriceAPI:
    limit: int = LIMIT
    window: float = WINDOW
    clock: Callable[[], float] = time.time
    #: when each request arrived and for which symbol (refused ones too)
    calls: list[tuple[float, str]] = field(default_factory=list)
    refused: int = 0

    def quote(self, symbol: str) -> float:
        now = self.clock()
        recent = [t for t, _ in self.calls if now - t < self.window]
        self.calls.append((now, symbol))
        if len(recent) >= self.limit:
            self.refused += 1
            raise RateLimited(f"429: more than {self.limit} requests in {self.window:g}s")
        return round(20 + zlib.crc32(symbol.encode()) % 48000 / 100, 2)


price_api = FakePriceAPI()
