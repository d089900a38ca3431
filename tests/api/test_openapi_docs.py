"""The OpenAPI document stands alone: every field of every request and response, native
and dialects', says what it is (a description) and shows a value (an example); so does
every parameter; every operation has a summary and every response a description.

`undocumented` walks the whole document: each component schema, the inline schemas of
parameters, request bodies and responses, and the webhooks' payloads, through `$ref`,
`allOf`, `anyOf`, `oneOf`, `items` and `additionalProperties`. A property documents
itself (a `description` of its own: a shared model says what it is, not what this field
holds); an example may be its own, or that of the schema it refers to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xmlschema
from fastapi import FastAPI
from pydantic import BaseModel, Field

from payoutd.api import openapi_defs
from payoutd.api.app import create_app
from payoutd.api.v1.ramp_schemas import MEMO_EXAMPLE
from payoutd.bootstrap import build
from tests import support
from tests.services import ramp_support as rs
from tests.support import Harness

Schema = dict[str, Any]
COMBINERS = ("allOf", "anyOf", "oneOf")


def undocumented(document: Schema) -> list[str]:
    """What lacks a description or an example, one line each (empty: all documented)."""
    components: dict[str, Schema] = document.get("components", {}).get("schemas", {})
    problems: list[str] = []

    def target(schema: Schema) -> Schema:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return components[ref.rsplit("/", 1)[1]]
        return schema

    def has_example(schema: Schema, seen: frozenset[str] = frozenset()) -> bool:
        # an enumeration shows its values (Swagger UI's example is the first)
        if schema.get("examples") or "example" in schema or "const" in schema or "enum" in schema:
            return True
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return False
            return has_example(target(schema), seen | {ref})
        branches = [b for c in COMBINERS for b in schema.get(c, [])]
        real = [b for b in branches if b.get("type") != "null"]
        if real:
            return all(has_example(b, seen) for b in real)
        if isinstance(schema.get("items"), dict):
            return has_example(schema["items"], seen)
        if schema.get("type") == "object" and schema.get("properties"):
            # an object whose every property shows a value shows one whole
            return all(has_example(p, seen) for p in schema["properties"].values())
        return False

    def walk(where: str, schema: Schema) -> None:
        """The properties of `schema` (an object, or what it combines or holds)."""
        if "$ref" in schema:
            return  # a component: walked once, under its own name
        for name, prop in (schema.get("properties") or {}).items():
            at = f"{where}.{name}"
            if not str(prop.get("description", "")).strip():
                problems.append(f"{at}: no description")
            if not has_example(prop):
                problems.append(f"{at}: no example")
            walk(at, prop)
        for combiner in COMBINERS:
            for i, branch in enumerate(schema.get(combiner, [])):
                walk(f"{where}<{combiner}[{i}]>", branch)
        items = schema.get("items")
        if isinstance(items, dict):
            walk(f"{where}[]", items)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            walk(f"{where}{{}}", extra)

    for name, schema in components.items():
        if not str(schema.get("description", "")).strip():
            problems.append(f"#/components/schemas/{name}: no description")
        if not has_example(schema):
            problems.append(f"#/components/schemas/{name}: no example")
        walk(name, schema)

    def operations() -> list[tuple[str, Schema]]:
        found = []
        for path, item in document.get("paths", {}).items():
            for method, op in item.items():
                if isinstance(op, dict):
                    found.append((f"{method.upper()} {path}", op))
        for name, item in (document.get("webhooks") or {}).items():
            for method, op in item.items():
                found.append((f"webhook {name} {method.upper()}", op))
        return found

    for where, op in operations():
        if not str(op.get("summary", "")).strip():
            problems.append(f"{where}: no summary")
        for param in op.get("parameters", []):
            at = f"{where} {param.get('in')}:{param.get('name')}"
            if not str(param.get("description", "")).strip():
                problems.append(f"{at}: no description")
            schema = param.get("schema", {})
            if not (param.get("example") or param.get("examples") or has_example(schema)):
                problems.append(f"{at}: no example")
            walk(at, schema)
        for media, content in (op.get("requestBody") or {}).get("content", {}).items():
            body = content.get("schema", {})
            if not has_example(body):
                problems.append(f"{where} body {media}: no example")
            walk(f"{where} body", body)
        for status, response in op.get("responses", {}).items():
            said = str(response.get("description", "")).strip()
            # FastAPI's default says nothing about the answer
            if said in ("", "Successful Response"):
                problems.append(f"{where} {status}: no description")
            for content in response.get("content", {}).values():
                walk(f"{where} {status}", content.get("schema", {}))
    return problems


def example_of(document: Schema, schema: Schema) -> Any:
    """The value Swagger UI fills a request in with: the schema's first example, else an
    object of its properties' (those whose first example is null left out)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_of(document, document["components"]["schemas"][ref.rsplit("/", 1)[1]])
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    found = {name: example_of(document, prop) for name, prop in schema["properties"].items()}
    return {name: value for name, value in found.items() if value is not None}


def _document(tmp_path: Path) -> tuple[FastAPI, Schema]:
    app = create_app(build(support.test_settings(tmp_path, None)))
    return app, app.openapi()


def test_every_field_of_the_api_has_a_description_and_an_example(tmp_path: Path) -> None:
    _, document = _document(tmp_path)
    assert document["components"]["schemas"]
    problems = undocumented(document)
    assert not problems, "\n".join(problems)


class _Bare(BaseModel):
    """A model whose field says nothing."""

    amount: str


class _Described(BaseModel):
    """A model whose field is described but shows no value."""

    amount: str = Field(description="The amount")


class _Outer(BaseModel):
    """A documented field holding, through a reference, a model that is not."""

    inner: _Bare | None = Field(description="Nested", examples=[None])


def test_a_field_without_a_description_fails_the_check(tmp_path: Path) -> None:
    """Each defect, added to the real document, is named; the real document alone is
    clean (the test above), so the names come from the defects."""
    app, _ = _document(tmp_path)

    @app.post("/v1/undocumented", summary="A route added without documenting its model")
    async def bare(body: _Bare) -> _Described:
        return _Described(amount=body.amount)

    @app.get("/v1/undocumented-param", summary="A query parameter without a description")
    async def param(q: str | None = None) -> _Outer:
        return _Outer(inner=None)

    app.openapi_schema = None
    problems = undocumented(app.openapi())
    assert "_Bare.amount: no description" in problems
    assert "_Bare.amount: no example" in problems
    assert "_Described.amount: no example" in problems
    assert "_Described.amount: no description" not in problems
    assert "#/components/schemas/_Bare: no example" in problems
    assert "GET /v1/undocumented-param query:q: no description" in problems
    assert "POST /v1/undocumented 200: no description" in problems
    # _Outer.inner is documented itself; what it refers to (_Bare) is reported once, there
    assert not [p for p in problems if p.startswith("_Outer.")]


def test_an_object_nested_inline_is_walked() -> None:
    """A property inside an inline object, an array's items or a map's values."""
    document: Schema = {
        "components": {
            "schemas": {
                "Outer": {
                    "description": "d",
                    "examples": [{}],
                    "properties": {
                        "list": {
                            "description": "d",
                            "examples": [[]],
                            "type": "array",
                            "items": {"type": "object", "properties": {"deep": {"type": "string"}}},
                        },
                        "map": {
                            "description": "d",
                            "examples": [{}],
                            "anyOf": [
                                {
                                    "type": "object",
                                    "additionalProperties": {
                                        "properties": {"deeper": {"description": "d"}}
                                    },
                                },
                                {"type": "null"},
                            ],
                        },
                    },
                }
            }
        }
    }
    assert undocumented(document) == [
        "Outer.list[].deep: no description",
        "Outer.list[].deep: no example",
        "Outer.map<anyOf[0]>{}.deeper: no example",
    ]


async def test_the_documented_examples_make_a_payout_and_a_quote(h: Harness) -> None:
    """What /docs fills the requests in with is taken: the field examples agree with one
    another (the currency, network and address of one real payout)."""
    document = (await h.client.get("/openapi.json")).json()
    m = await h.merchant(LTC="2")
    for path, status in (("/v1/payouts", 201), ("/v1/quotes", 200)):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        body = example_of(document, content["application/json"]["schema"])
        r = await h.client.post(path, headers=m.headers, json=body)
        assert r.status_code == status, (body, r.text)


CAMT_XSD = Path(__file__).resolve().parents[1] / "rails" / "data" / "xsd" / "camt.053.001.02.xsd"


async def test_the_documented_statements_are_real_statements(h: Harness) -> None:
    """Each documented body of `POST /v1/admin/bank/statements` is a statement payoutd
    reads (the camt.053 valid against its XSD): as documented its one line matches no
    payout (review), imported again it changes nothing; with a real on-ramp's memo in
    place of the example's, the same file funds it."""
    document = (await h.client.get("/openapi.json")).json()
    content = document["paths"]["/v1/admin/bank/statements"]["post"]["requestBody"]["content"]
    bodies = {media: part["schema"]["examples"][0] for media, part in content.items()}
    assert set(bodies) == {"application/xml", "text/plain", "application/octet-stream"}
    xmlschema.XMLSchema(str(CAMT_XSD)).validate(bodies["application/xml"])
    m = await h.merchant()
    c = await rs.customer(h, m)
    for media, body in bodies.items():
        # an import of the same line again (the octet-stream example is the MT940) is a
        # duplicate: the bank reference names the line
        first = media != "application/octet-stream"
        headers = {**h.admin, "Content-Type": media}
        r = await h.client.post("/v1/admin/bank/statements", headers=headers, content=body)
        assert r.status_code == 200, (media, r.text)
        assert r.json() == {
            "lines": 1,
            "funded": 0,
            "settled": 0,
            "returned": 0,
            "review": 1 if first else 0,
            "duplicate": 0 if first else 1,
        }
    for media, currency in (("application/xml", "eur"), ("text/plain", "usd")):
        ramp = await rs.create(h, m, rs.on_ramp_body(c, "10.00", currency))
        body = bodies[media].replace(MEMO_EXAMPLE, ramp["instructions"]["memo"])
        # another bank reference: a new line, not the example's again
        body = body.replace("E2612080001", "E2612080002").replace("//B1", "//B2")
        headers = {**h.admin, "Content-Type": media}
        r = await h.client.post("/v1/admin/bank/statements", headers=headers, content=body)
        assert r.status_code == 200, (media, r.text)
        assert r.json()["funded"] == 1, (media, r.json())
        assert (await rs.status_of(h, m, ramp["id"]))["status"] == "funded"


def references(node: Any) -> set[str]:
    """Every `$ref` in a (part of a) document."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(references(v) for v in node))
    return set()


def resolves(document: Schema, ref: str) -> bool:
    """Whether a local reference (a JSON pointer from the document's root) names a part
    of the document."""
    if not ref.startswith("#/"):
        return False
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_every_reference_of_the_document_resolves(tmp_path: Path) -> None:
    """A body a route declares by hand (`openapi_extra`, e.g. the JSON form of
    `POST /v1/payout-imports`) carries its model's nested models in its own `$defs`:
    payoutd.api.openapi_defs moves them to the components, or Swagger UI and schemathesis
    could not resolve `#/$defs/...` against the document."""
    _, document = _document(tmp_path)
    refs = references(document)
    assert "#/components/schemas/ImportRowIn" in refs
    assert [ref for ref in sorted(refs) if not resolves(document, ref)] == []
    assert "$defs" not in str(document)


def test_two_different_models_under_one_name_are_refused() -> None:
    document: Schema = {
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "$ref": "#/$defs/Row",
                                    "$defs": {"Row": {"type": "object", "description": "a row"}},
                                }
                            }
                        }
                    }
                }
            }
        },
        "components": {"schemas": {"Row": {"type": "string", "description": "another"}}},
    }
    with pytest.raises(ValueError, match="two different schemas named 'Row'"):
        openapi_defs.hoist(document)


def test_nested_models_join_the_components_and_their_references_follow() -> None:
    row = {"type": "object", "description": "a row", "properties": {"n": {"type": "integer"}}}
    document: Schema = {
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/$defs/Row"},
                                    "$defs": {"Row": row},
                                }
                            }
                        }
                    }
                }
            }
        },
    }
    openapi_defs.hoist(document)
    body = document["paths"]["/a"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Row"}}
    assert document["components"]["schemas"] == {"Row": row}
