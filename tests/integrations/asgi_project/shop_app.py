"""A FastAPI app with Outlast mounted at /outlast and a worker in its own process.

Run as ``uvicorn shop_app:app`` from this folder with ``SHOP_DATABASE_URL`` set.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from outlast.integrations.asgi import outlast_app, outlast_lifespan

outlast = outlast_app(database_url=os.environ["SHOP_DATABASE_URL"])
app = FastAPI(lifespan=outlast_lifespan(outlast, concurrency=2, grace=5.0))
app.mount("/outlast", outlast)


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "shop"}
