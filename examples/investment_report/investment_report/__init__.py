"""A nightly investment report per user, in each user's time zone (see README.md)."""
