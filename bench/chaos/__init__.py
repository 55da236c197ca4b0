"""Outlast's fault suite: real workers, kill -9, SIGSTOP, database restarts; see ``run.py``."""
