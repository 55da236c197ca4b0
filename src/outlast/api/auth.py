"""``/auth/public-tokens``: short-lived read-only realtime tokens for browsers."""

from __future__ import annotations

from typing import Any

from outlast.api import public_tokens
from outlast.api.common import body_object
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.core.key_scopes import READ
from outlast.core.params import PublicTokenBody
from outlast.core.records import PublicTokenJson
from outlast.durations import parse_duration
from outlast.engine.project_keys import server_keys
from outlast.errors import ValidationError


def create_public_token(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    unknown = set(body) - {"scope", "ttl"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}")
    scope = public_tokens.scope_from_request(req.env, body)
    ttl = public_tokens.DEFAULT_TTL if body.get("ttl") is None else parse_duration(
        body["ttl"], "ttl")
    if not 0 < ttl <= public_tokens.MAX_TTL:
        raise ValidationError("ttl must be more than 0 and at most 30 days")
    if scope.run_id is not None:
        ctx.engine.retrieve(req.env, scope.run_id)  # 404 for another environment's run
    expires_at = ctx.engine.clock.now() + ttl
    token = public_tokens.sign(server_keys(ctx.engine), scope, expires_at)
    return 201, {"token": token, "expires_at": expires_at,
                 "scope": {k: v for k, v in (("run_id", scope.run_id), ("tag", scope.tag))
                           if v is not None}}


ROUTES = [
    Route("POST", "/auth/public-tokens", create_public_token,
          "Create a short-lived public token for read-only realtime access to a run or tag",
          body=PublicTokenBody, returns=PublicTokenJson, needs=READ),
]
