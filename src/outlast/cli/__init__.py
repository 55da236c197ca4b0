"""The ``outlast`` command line: ``main.py`` is the entry point and holds the group;
each command (or command group) lives in its own module, sharing ``common.py``
(config, engine, client), ``output.py`` (how results and errors are printed) and
``serving.py`` (sockets, signals, uvicorn) for the long-running ones."""
