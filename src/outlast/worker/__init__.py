"""The worker: a supervisor process that claims runs and feeds warm child processes."""

#: runs of async tasks one child process runs at once unless told otherwise (``--async-slots``;
#: ``shared_runs.py``)
DEFAULT_ASYNC_SLOTS = 100
