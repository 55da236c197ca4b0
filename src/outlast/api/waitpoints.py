"""``/waitpoints/tokens``: create, list, read and complete tokens (human in the loop).

A token's callback URL completes it with the request body and needs no API key: the
secret in the URL is the credential, so it can be handed to a reviewer or a webhook.
"""

from __future__ import annotations

from typing import Any

from outlast import inputs
from outlast.api.common import body_object, page_size
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.core.key_scopes import FULL
from outlast.core.options import parse_options
from outlast.core.params import JsonValue, TokenCompleteBody, TokenCreateBody
from outlast.core.records import CompletedToken, Page, Token
from outlast.durations import parse_duration
from outlast.errors import ValidationError


def create(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    unknown = set(body) - {"timeout", "tags", "idempotency_key"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}")
    timeout = body.get("timeout")
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key):
        raise ValidationError("idempotency_key must be a non-empty string",
                              option="idempotency_key")
    if key is not None:
        inputs.text(key, "idempotency_key")
    token = ctx.engine.durable.new_token(
        req.env, None if timeout is None else parse_duration(timeout, "timeout"),
        list(parse_options({"tags": body.get("tags") or []}, 0.0).tags), key)
    return 201, token


def list_tokens(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    status = req.q("status")
    tokens, cursor = ctx.engine.durable.list_tokens(
        req.env, status=status.upper() if status else None, tag=req.q("tag"),
        run_id=req.q("run_id"), limit=page_size(req.q("limit"), 50), cursor=req.q("cursor"))
    return 200, {"data": tokens, "next_cursor": cursor}


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.durable.retrieve_token(req.env, req.params["token_id"])


def complete(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    unknown = set(body) - {"output"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}; "
                              "send the result as {\"output\": ...}")
    token = ctx.engine.durable.complete_token(req.env, req.params["token_id"],
                                              body.get("output"))
    return 200, token


def callback(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """``POST token.url`` with any JSON body: the body is the token's output."""
    token = ctx.engine.durable.complete_token(None, req.params["token_id"], req.body,
                                              secret=req.params["secret"])
    return 200, {"id": token["id"], "status": token["status"]}


ROUTES = [
    Route("POST", "/waitpoints/tokens", create, "Create a waitpoint token",
          body=TokenCreateBody, returns=Token),
    # tokens carry their callback URL, which completes them: not for a read-only key
    Route("GET", "/waitpoints/tokens", list_tokens, "List waitpoint tokens",
          returns=Page[Token], needs=FULL),
    Route("GET", "/waitpoints/tokens/{token_id}", retrieve, "Retrieve a waitpoint token",
          returns=Token, needs=FULL),
    Route("POST", "/waitpoints/tokens/{token_id}/complete", complete,
          "Complete a waitpoint token", body=TokenCompleteBody, returns=Token),
    Route("POST", "/waitpoints/tokens/{token_id}/callback/{secret}", callback,
          "Complete a token through its callback URL (no API key)", public=True,
          body=JsonValue, returns=CompletedToken),
]
