"""MkDocs hooks: the HTTP reference is rendered from the OpenAPI document the server serves.

The page ``reference/http.md`` holds a marker; at build time this hook builds the real app
on a throwaway SQLite database, asks it for ``/api/openapi.json`` (the same document a
running server answers with) and replaces the marker with the route table and the request
and response schemas. The document itself is published beside the page as
``reference/openapi.json``. Nothing is copied by hand, so the reference cannot drift from
the code, and nothing needs the network (the request goes to the app in process).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

MARKER = "<!-- http-reference -->"
SCHEMAS = "#/components/schemas/"
_METHODS = ("get", "post", "put", "patch", "delete")

_spec: dict[str, Any] | None = None


def openapi_document() -> dict[str, Any]:
    """The document a server built from this checkout serves at ``/api/openapi.json``."""
    global _spec
    if _spec is None:
        from outlast.engine import Engine
        from outlast.server.app import create_app
        from outlast.store import open_store

        with tempfile.TemporaryDirectory(prefix="outlast-docs-") as tmp:
            store = open_store(f"sqlite:///{Path(tmp) / 'docs.db'}")
            try:
                store.migrate()
                _spec = asyncio.run(_fetch(create_app(Engine(store), scheduler=False)))
            finally:
                store.close()
    return _spec


async def _fetch(app: Any) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get("/api/openapi.json")
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
        return document


def on_files(files: Files, config: MkDocsConfig) -> Files:
    content = json.dumps(openapi_document(), indent=2)
    files.append(File.generated(config, "reference/openapi.json", content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(openapi_document()))


def render(spec: dict[str, Any]) -> str:
    ops = list(operations(spec))
    parts = ["## Endpoints", "", "| method | path | what it does |", "|---|---|---|"]
    for path, method, op in ops:
        parts.append(f"| `{method.upper()}` | [`{path}`](#{anchor(op)}) | {cell(op)} |")
    parts.append("")
    tag = None
    for path, method, op in ops:
        op_tag = (op.get("tags") or ["service"])[0]
        if op_tag != tag:
            tag = op_tag
            parts += [f"## {tag}", ""]
        parts += operation_section(path, method, op)
    parts += ["## Schemas", ""]
    for name, schema in spec["components"]["schemas"].items():
        parts += schema_section(name, schema)
    return "\n".join(parts)


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [(path, method, op) for path, item in spec["paths"].items()
             for method, op in item.items() if method in _METHODS]
    return sorted(found, key=lambda o: ((o[2].get("tags") or [""])[0], o[0], o[1]))


def anchor(op: dict[str, Any]) -> str:
    return "op-" + str(op["operationId"]).replace(".", "-").replace("_", "-").lower()


def cell(op: dict[str, Any]) -> str:
    return str(op.get("summary", "")).replace("|", "\\|").replace("\n", " ")


def operation_section(path: str, method: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}` {{#{anchor(op)}}}", "", cell(op), ""]
    if op.get("security") == []:
        lines += ["No API key: the path itself (or nothing) is the credential.", ""]
    scope = op.get("x-outlast-key-scope")
    if scope and scope != "full":
        lines += [f"**Key scope**: `{scope}` (or `full`).", ""]
    elif scope:
        lines += ["**Key scope**: `full`.", ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | |", "|---|---|---|---|"]
        for p in params:
            kind = p.get("schema", {}).get("type", "")
            need = "required" if p.get("required") else ""
            desc = str(p.get("description", need)).replace("|", "\\|")
            lines.append(f"| `{p['name']}` | {p['in']} | {kind} | {desc} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        lines += [f"**Body** ({'required' if body.get('required') else 'optional'}): "
                  f"{type_of(schema)}", ""]
    answer = op.get("responses", {}).get("2XX", {}).get("content", {})
    schema = answer.get("application/json", {}).get("schema")
    if schema:
        lines += [f"**Answer**: {type_of(schema)}", ""]
    elif "text/event-stream" in json.dumps(op.get("responses", {})):
        lines += ["**Answer**: server-sent events (resume with `Last-Event-ID`)", ""]
    return lines


def schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#schema-{name.lower()}}}", ""]
    if schema.get("description"):
        lines += [" ".join(str(schema["description"]).split()), ""]
    props = schema.get("properties")
    if not props:
        return [*lines, f"Type: {type_of(schema)}", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | |", "|---|---|---|---|"]
    for field, sub in props.items():
        desc = " ".join(str(sub.get("description", "")).split()).replace("|", "\\|")
        need = "yes" if field in required else ""
        lines.append(f"| `{field}` | {type_of(sub)} | {need} | {desc} |")
    return [*lines, ""]


def type_of(schema: dict[str, Any]) -> str:
    """A short, linked description of a JSON schema's type, for a table cell."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMAS)
        return f"[{name}](#schema-{name.lower()})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(type_of(s) for s in schema[key])
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    return str(kind) if kind else "any JSON"
