"""Nested models of hand-declared request bodies, moved into the OpenAPI components.

A body a route declares itself (`openapi_extra`, for one that is read by hand: a CSV or
JSON import, a provider dialect's envelope) carries its model's `model_json_schema()`,
whose nested models sit in a local `$defs` and are referred to as `#/$defs/<Model>`. In
the OpenAPI document such a reference points at its root, where there is no `$defs`:
Swagger UI and schemathesis cannot resolve it. Here each of those models joins
`#/components/schemas` (the same place as every other) and its references follow it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

LOCAL = "#/$defs/"
COMPONENT = "#/components/schemas/"


def install(app: FastAPI) -> None:
    """`app.openapi()` answers the document with every local `$defs` moved."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # built once, then FastAPI's cached copy
        hoist(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def hoist(document: dict[str, Any]) -> None:
    """Moves, in place, every `$defs` found under paths and webhooks to the components.

    A model of the same name already there must be the same schema: two different models
    under one name would make one of them wrong, so that is refused (the document is
    built when it is first asked for, and the OpenAPI tests ask)."""
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            defs = node.pop("$defs", None)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(LOCAL):
                node["$ref"] = COMPONENT + ref.removeprefix(LOCAL)
            for value in node.values():
                visit(value)
            for name, schema in (defs or {}).items():
                visit(schema)
                known = components.setdefault(name, schema)
                if known != schema:
                    raise ValueError(
                        f"two different schemas named {name!r} in the OpenAPI document"
                    )
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document.get("paths", {}))
    visit(document.get("webhooks", {}))
