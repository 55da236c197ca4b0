"""The app's own data, offline: users of several tenants (advisory firms), their portfolios,
and the e-mails sent. Replace these with your database and mailer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class User:
    id: str
    email: str
    tenant: str
    timezone: str


USERS = [
    User("u-ada", "ada@example.com", "northwind", "Europe/London"),
    User("u-kenji", "kenji@example.com", "northwind", "Asia/Tokyo"),
    User("u-maria", "maria@example.com", "contoso", "America/New_York"),
]

#: portfolio id → (owner, holdings: symbol → shares)
PORTFOLIOS: dict[str, tuple[str, dict[str, float]]] = {
    "p-ada-growth": ("u-ada", {"AAPL": 10, "MSFT": 5, "NVDA": 2}),
    "p-ada-income": ("u-ada", {"KO": 40, "PG": 12}),
    "p-kenji-main": ("u-kenji", {"SONY": 30, "TM": 8, "AAPL": 3}),
    "p-maria-main": ("u-maria", {"AMZN": 4, "GOOG": 6, "MSFT": 2, "V": 5}),
    "p-maria-kids": ("u-maria", {"DIS": 10}),
}


def user(user_id: str) -> User:
    return next(u for u in USERS if u.id == user_id)


def portfolios_of(user_id: str) -> list[str]:
    return [p for p, (owner, _) in PORTFOLIOS.items() if owner == user_id]


def holdings(portfolio_id: str) -> dict[str, float]:
    return dict(PORTFOLIOS[portfolio_id][1])


@dataclass
class Outbox:
    """E-mails, offline: kept in ``sent``."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append({"to": to, "subject": subject, "body": body})


outbox = Outbox()
