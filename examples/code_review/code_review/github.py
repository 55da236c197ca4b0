"""The code host, offline: pull requests to read and a place to post the review.

``FakeGitHub`` holds pull requests in memory (one sample is there from the start) and keeps
the reviews posted to them. Replace ``github`` with a client for your code host's API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_FILES = [
    {"path": "billing/invoice.py", "patch": (
        "@@ -10,3 +10,6 @@ def total(lines):\n"
        "+    # TODO: currencies\n"
        "+    print('total', lines)\n"
        "+    return sum(line.amount for line in lines)\n")},
    {"path": "billing/refund.py", "patch": (
        "@@ -1,2 +1,4 @@\n"
        "+def refund(charge):\n"
        "+    return gateway.refund(charge.id)\n")},
    {"path": "billing/client.py", "patch": (
        "@@ -5,2 +5,6 @@\n"
        "+try:\n"
        "+    connect()\n"
        "+except:\n"
        "+    pass\n")},
]


@dataclass
class FakeGitHub:
    pulls: dict[tuple[str, int], list[dict[str, str]]] = field(
        default_factory=lambda: {("acme/shop", 7): SAMPLE_FILES})
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def pull_request_files(self, repo: str, number: int) -> list[dict[str, str]]:
        return list(self.pulls[(repo, number)])

    def post_review(self, repo: str, number: int, body: str,
                    comments: list[dict[str, Any]]) -> int:
        self.reviews.append({"repo": repo, "number": number, "body": body,
                             "comments": comments})
        return len(self.reviews)


#: the code host the agent reads and writes
github = FakeGitHub()
