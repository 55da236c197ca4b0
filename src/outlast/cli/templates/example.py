"""Example tasks: the kinds of work people move out of web requests into the background.

With `outlast dev` running in this project, trigger them from another terminal:

    outlast trigger hello-world '{"name": "Ada"}' --wait
    outlast trigger summarize-document --wait
    outlast trigger import-orders-csv --wait
    outlast trigger fetch-url '{"url": "http://127.0.0.1:8030/healthz"}' --wait
    outlast trigger watchlist-snapshot --wait

or from Python code: `hello_world.trigger({"name": "Ada"})`. Every task here runs
offline: the language model and the price feed are deterministic stand-ins, marked
"replace me", so the examples behave the same on every machine.
"""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
import zlib
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, Field
from pydantic import ValidationError as RowError

from outlast import AbortTaskRunError, Queue, Retry, RunContext, logger, step, task, wait

# -- 1. hello world -------------------------------------------------------------------


@task(id="hello-world")
def hello_world(payload: dict[str, Any] | None) -> dict[str, str]:
    """The smallest task: a JSON payload in, a JSON value out."""
    name = str((payload or {}).get("name") or "world")
    logger.info("greeting someone", name=name)
    return {"message": f"Hello, {name}!"}


# -- 2. a multi-step LLM pipeline -------------------------------------------------------

SAMPLE_DOCUMENT = {
    "title": "Support ticket #4821",
    "text": (
        "Our invoices for March were charged twice and the refund has not arrived. "
        "The billing page also shows an error when we try to download the receipt. "
        "Support was helpful on the phone, but we need this fixed before month end."
    ),
}

_TOPICS = {
    "billing": ("invoice", "charged", "refund", "receipt", "payment"),
    "outage": ("down", "outage", "timeout", "unreachable"),
    "feature-request": ("please add", "would love", "wish", "feature"),
}
_POSITIVE = ("helpful", "thanks", "great", "love", "fast")
_NEGATIVE = ("twice", "error", "not arrived", "broken", "slow", "angry")


def fake_model(instruction: str, text: str) -> str:
    """Stand-in for a language-model call that answers in JSON. Replace me.

    A real call is slow, rate-limited and sometimes fails, which is why it runs in a
    task with retries rather than in a web request. This one is instant and repeatable.
    """
    lowered = text.lower()
    if instruction == "summarize":
        first = text.split(". ")[0].rstrip(".")
        return json.dumps({"summary": f"{first}."})
    scores = {topic: sum(w in lowered for w in words) for topic, words in _TOPICS.items()}
    mood = sum(w in lowered for w in _POSITIVE) - sum(w in lowered for w in _NEGATIVE)
    return json.dumps({
        "topic": max(scores, key=lambda t: scores[t]) if any(scores.values()) else "other",
        "sentiment": "positive" if mood > 0 else "negative" if mood < 0 else "neutral",
    })


@task(id="summarize-document", retry=Retry(max_attempts=3, min_delay=2, max_delay=30),
      max_duration=300)
def summarize_document(payload: dict[str, Any] | None, ctx: RunContext) -> dict[str, Any]:
    """Summarise a document, then classify it: two model calls, each logged."""
    document = payload or SAMPLE_DOCUMENT
    text = str(document.get("text") or "")
    if not text.strip():
        raise AbortTaskRunError("the document has no text; retrying will not change that")
    logger.info("summarizing", title=document.get("title"), characters=len(text),
                attempt=ctx.attempt.number)
    # each model call is a step: recorded once done, so a retry does not pay for it again
    summary = json.loads(step.run("summarize", fake_model, "summarize", text))["summary"]
    logger.info("summary ready", words=len(summary.split()))
    label = json.loads(step.run("classify", fake_model, "classify", text))
    logger.info("classified", topic=label["topic"], sentiment=label["sentiment"])
    return {"title": document.get("title"), "summary": summary, **label}


# -- 3. a CSV batch import ----------------------------------------------------------------

SAMPLE_ORDERS = """order_id,customer,quantity,unit_price
A-1001,Ada Lovelace,2,19.99
A-1002,Grace Hopper,1,249.00
A-1003,Alan Turing,-3,5.00
A-1004,Katherine Johnson,4,n/a
A-1005,Edsger Dijkstra,10,1.25
"""


class OrderRow(BaseModel):
    order_id: str = Field(min_length=1)
    customer: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(ge=0)


@task(id="import-orders-csv", queue=Queue("imports", concurrency_limit=2))
def import_orders_csv(payload: dict[str, Any] | None) -> dict[str, Any]:
    """Validate every row, import the good ones, and report the bad ones by line."""
    reader = csv.DictReader(io.StringIO(str((payload or {}).get("csv") or SAMPLE_ORDERS)))
    missing = set(OrderRow.model_fields) - set(reader.fieldnames or [])
    if missing:
        raise AbortTaskRunError(f"the CSV lacks column(s): {', '.join(sorted(missing))}")
    orders: list[OrderRow] = []
    rejected: list[dict[str, Any]] = []
    for line, row in enumerate(reader, start=2):
        try:
            orders.append(OrderRow.model_validate(row))
        except RowError as exc:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            rejected.append({"line": line, "order_id": row.get("order_id"), "errors": problems})
            logger.warning("rejected row", line=line, errors=problems)
    revenue = sum((o.quantity * o.unit_price for o in orders), Decimal("0"))
    logger.info("import finished", imported=len(orders), rejected=len(rejected))
    return {
        "imported": len(orders),
        "rejected": rejected,
        "total_quantity": sum(o.quantity for o in orders),
        "revenue": str(revenue.quantize(Decimal("0.01"))),
    }


# -- 4. an HTTP fetch that retries --------------------------------------------------------

# The dev server's own health check, so the example works with no network.
DEFAULT_URL = "http://127.0.0.1:8030/healthz"


@task(id="fetch-url", retry=Retry(max_attempts=4, min_delay=1, max_delay=10, factor=2),
      queue=Queue("http", concurrency_limit=5), max_duration=60)
def fetch_url(payload: dict[str, Any] | None, ctx: RunContext) -> dict[str, Any]:
    """Server errors and timeouts are retried with backoff; client errors are final."""
    url = str((payload or {}).get("url") or DEFAULT_URL)
    logger.info("fetching", url=url, attempt=ctx.attempt.number)
    response = httpx.get(url, timeout=5.0, follow_redirects=True)
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise AbortTaskRunError(f"{url} answered {response.status_code}; retrying will not help")
    response.raise_for_status()
    return {
        "url": url,
        "status": response.status_code,
        "bytes": len(response.content),
        "attempt": ctx.attempt.number,
    }


# -- 5. an investment-dashboard snapshot --------------------------------------------------

WATCHLIST = [
    {"symbol": "005930.KS", "name": "Samsung Electronics", "asset_type": "stock"},
    {"symbol": "000660.KS", "name": "SK hynix", "asset_type": "stock"},
    {"symbol": "069500.KS", "name": "KODEX 200", "asset_type": "etf"},
    {"symbol": "AAPL", "name": "Apple", "asset_type": "stock"},
    {"symbol": "BTC-USD", "name": "Bitcoin", "asset_type": "crypto"},
]
_VOLATILITY = {"etf": 0.004, "stock": 0.01, "crypto": 0.02}


def stub_prices(symbol: str, asset_type: str, hours: int = 24) -> list[float]:
    """Hourly prices for the last day. Replace me with your market-data API.

    Seeded by the symbol, so every run sees the same series and the output is stable.
    """
    rng = random.Random(zlib.crc32(symbol.encode()))
    price = float(rng.randint(20, 900))
    prices = [price]
    for _ in range(hours - 1):
        price *= 1 + rng.gauss(0, _VOLATILITY.get(asset_type, 0.01))
        prices.append(round(price, 2))
    return prices


def asset_stats(asset: dict[str, str], threshold_pct: float) -> dict[str, Any]:
    prices = stub_prices(asset["symbol"], asset.get("asset_type", "stock"))
    returns = [(b - a) / a * 100 for a, b in zip(prices, prices[1:], strict=False)]
    change = (prices[-1] - prices[0]) / prices[0] * 100
    return {
        "symbol": asset["symbol"],
        "name": asset.get("name", asset["symbol"]),
        "last": prices[-1],
        "change_pct": round(change, 2),
        "high": max(prices),
        "low": min(prices),
        "mean": round(statistics.fmean(prices), 2),
        "volatility_pct": round(statistics.pstdev(returns), 3),
        "alert": abs(change) >= threshold_pct,
    }


@task(id="watchlist-snapshot", retry=Retry(max_attempts=3))
def watchlist_snapshot(payload: dict[str, Any] | None) -> dict[str, Any]:
    """Snapshot a watchlist: per-asset stats, movers, and alerts on big swings."""
    options = payload or {}
    watchlist = options.get("watchlist") or WATCHLIST
    threshold = float(options.get("threshold_pct", 5.0))
    assets = [asset_stats(a, threshold) for a in watchlist]
    for a in assets:
        if a["alert"]:
            logger.warning("price alert", symbol=a["symbol"], change_pct=a["change_pct"])
    average = statistics.fmean(a["change_pct"] for a in assets)
    ranked = sorted(assets, key=lambda a: a["change_pct"])
    logger.info("snapshot taken", assets=len(assets), average_change_pct=round(average, 2))
    return {
        "assets": assets,
        "best": ranked[-1]["symbol"],
        "worst": ranked[0]["symbol"],
        "alerts": [a["symbol"] for a in assets if a["alert"]],
        "sentiment": "bullish" if average > 0.5 else "bearish" if average < -0.5 else "neutral",
    }


# -- 6. an approval that waits for a person ---------------------------------------------


@task(id="approve-refund")
def approve_refund(payload: dict[str, Any] | None) -> dict[str, Any]:
    """Ask a person to approve a refund, then act on the answer.

    The run waits without holding a worker, for up to a day. Approve it from the
    dashboard's Waitpoint tokens page, with `outlast tokens complete ID '{"approved": true}'`,
    or with a POST of that JSON to the token's URL (no API key needed).
    """
    refund = payload or {"order_id": "A-1002", "amount": "249.00"}
    token = wait.create_token(timeout="24h", tags=["refund", f"order:{refund['order_id']}"])
    logger.info("waiting for approval", order=refund["order_id"], url=token.url)
    answer = wait.for_token(token)
    if not answer.ok:
        return {"order_id": refund["order_id"], "refunded": False, "reason": "no answer"}
    approved = bool((answer.output or {}).get("approved"))
    return {"order_id": refund["order_id"], "refunded": approved, "amount": refund["amount"]}
