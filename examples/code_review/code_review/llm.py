"""The language model, offline: a scripted stand-in that answers like a chat model would.

``ScriptedLLM.complete(system, prompt)`` returns text, as a real chat-completion call does;
the agent asks for JSON and parses it. The answers come from simple rules over the diff, so
every run gives the same review. Replace ``llm`` with a client for your provider (same
method); the tasks do not change. ``fail_next`` scripts provider errors for tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


class ProviderError(Exception):
    """What a provider's SDK raises on a 429 or a 5xx: worth retrying."""


#: (pattern in an added line, what a reviewer says about it)
RULES = [
    (re.compile(r"\bprint\("), "Use the logger instead of print()."),
    (re.compile(r"except\s*:"), "A bare except also catches KeyboardInterrupt; name the error."),
    (re.compile(r"\bTODO\b"), "Unresolved TODO; open an issue or finish it."),
    (re.compile(r"password\s*=\s*['\"]"), "A password in the source; read it from a secret."),
]


@dataclass
class ScriptedLLM:
    #: the first line of each prompt it was sent, in order
    calls: list[str] = field(default_factory=list)
    #: (first line of the prompt it applies to, or None for any; the error to raise)
    failures: list[tuple[str | None, Exception]] = field(default_factory=list)

    def fail_next(self, *errors: Exception, about: str | None = None) -> None:
        """The next calls (about the file ``about``, or any) raise these, in order."""
        self.failures.extend((about, error) for error in errors)

    def complete(self, system: str, prompt: str) -> str:
        subject = prompt.splitlines()[0]
        self.calls.append(subject)
        for index, (about, error) in enumerate(self.failures):
            if about in (None, subject):
                del self.failures[index]
                raise error
        if system.startswith("Review"):
            return json.dumps(review(prompt))
        return json.dumps(summary(prompt))


def review(prompt: str) -> dict[str, object]:
    """Comments on the added lines of the diff in ``prompt``."""
    comments = []
    for number, line in enumerate(prompt.splitlines()):
        if line.startswith("+") and not line.startswith("+++"):
            comments += [{"line": number, "body": say} for rule, say in RULES if rule.search(line)]
    return {"comments": comments}


def summary(prompt: str) -> dict[str, object]:
    """A summary of the per-file reviews listed in ``prompt`` (one JSON object per line)."""
    reviews = [json.loads(line) for line in prompt.splitlines()[1:] if line.strip()]
    total = sum(len(r["comments"]) for r in reviews)
    noisy = [r["path"] for r in reviews if r["comments"]]
    verdict = "Looks good to me." if total == 0 else \
        f"{total} comment(s) on {', '.join(noisy)}; please address them before merging."
    return {"summary": verdict, "comments": total}


#: the model the agent calls
llm = ScriptedLLM()
