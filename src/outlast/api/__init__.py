"""The API as a table of plain handlers, served over HTTP and dispatched in process.

``server`` serves ``routes.all_routes()`` over HTTP; the SDK's ``LocalTransport`` (a client
with a database URL, or a worker answering its children) dispatches the same table without
HTTP. The handlers call the engine; nothing here imports ``server``, ``sdk`` or ``worker``.
"""
