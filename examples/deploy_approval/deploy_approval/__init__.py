"""A deploy that waits for a person to approve it in Slack (see README.md)."""
