"""An AI code-review agent: a step per file, a person approves the summary (see README.md)."""
