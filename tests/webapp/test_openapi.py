"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document of every route, true to what they do."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

API_PREFIX = "/api/v1/"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    """The document as the API serves it, to anyone."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def schema_validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for the component schema `name`, resolving refs within the document."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(schema)


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises naming the first problem


def test_every_api_route_is_documented_with_its_methods(app: Any, document: dict[str, Any]) -> None:
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        served.setdefault(path, set()).update(rule.methods - IGNORED_METHODS)
    documented = {path: {m.upper() for m in item} for path, item in document["paths"].items()}
    api_routes = {path: methods for path, methods in served.items() if path.startswith(API_PREFIX)}
    assert {p: m for p, m in documented.items() if p.startswith(API_PREFIX)} == api_routes
    for path, methods in documented.items():  # root routes too (health, metrics) must exist
        assert methods <= served.get(path, set()), path
    assert {"/healthz", "/readyz", "/metrics"} <= set(documented)


def test_operations_say_their_auth_and_link_their_view(document: dict[str, Any]) -> None:
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    create = operations[("POST", "/api/v1/jobs")]
    assert create["operationId"] == "jobs.create_job"
    assert create["summary"] == "Submit a job."
    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert create["security"] == [{"apiKey": []}]
    assert operations[("GET", "/api/v1/jobs/{job_id}/events")]["security"] == [
        {"apiKey": []},
        {"session": []},
    ]
    assert operations[("POST", "/api/v1/callbacks/{provider}/{token}")]["security"] == [
        {"standardWebhooks": []}
    ]
    assert operations[("POST", "/api/v1/jobs/{job_id}/progress")]["security"] == [
        {"progressSecret": []}
    ]
    assert operations[("GET", "/api/v1/openapi.json")]["security"] == []


def test_operations_that_need_a_key_answer_401_without_one(
    client: Any, document: dict[str, Any]
) -> None:
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if {"apiKey": []} not in operation["security"]:
                continue
            url = re.sub(r"\{[^}]+\}", "x", path)
            response = client.open(url, method=method.upper(), json={})
            assert response.status_code == 401, (method, path)
            assert response.get_json()["error"]["code"] == "unauthorized"
            checked += 1
    assert checked >= 15  # the loop ran (19 such operations today)


PROMPT = {"prompt": "a red lighthouse"}

JOB_BODIES = [
    ({"kind": "image", "input": PROMPT}, True),
    ({"kind": "image", "input": {**PROMPT, "size": "512x512", "quality": "low"}}, True),
    ({"kind": "image", "input": PROMPT, "priority": "high"}, True),  # a vip may
    ({"kind": "image", "input": PROMPT, "priority": None, "webhook": None}, True),
    ({"kind": "script", "input": {"text": "第一章 雨夜。", "episodes": 2, "language": "zh"}}, True),
    ({"kind": "script", "input": {"text": "Chapter 1.", "style": None}}, True),
    ({"input": PROMPT}, False),
    ({"kind": "image"}, False),
    ({"kind": "video", "input": PROMPT}, False),
    ({"kind": "image", "input": "a cat"}, False),
    ({"kind": "image", "input": {}}, False),
    ({"kind": "image", "input": {"prompt": "   "}}, False),
    ({"kind": "image", "input": {"prompt": 42}}, False),
    ({"kind": "image", "input": {"prompt": "x" * 4001}}, False),
    ({"kind": "image", "input": {**PROMPT, "size": "3x3"}}, False),
    ({"kind": "image", "input": {**PROMPT, "seed": 1}}, False),
    ({"kind": "image", "input": PROMPT, "colour": "red"}, False),
    ({"kind": "image", "input": PROMPT, "priority": "urgent"}, False),
    ({"kind": "image", "input": PROMPT, "webhook": {"url": ""}}, False),
    (
        {"kind": "image", "input": PROMPT, "webhook": {"url": "https://a.example", "events": []}},
        False,
    ),
    ({"kind": "script", "input": PROMPT}, False),  # the other kind's input
    ({"kind": "script", "input": {"text": "  \n "}}, False),
    ({"kind": "script", "input": {"text": "x", "episodes": "2"}}, False),
    ({"kind": "script", "input": {"text": "x", "episodes": 0}}, False),
    ({"kind": "script", "input": {"text": "x", "language": "chinese!"}}, False),
    ({"kind": "tryon", "input": {"human_image": "a" * 64, "occasion": "a wedding"}}, False),
    ([PROMPT], False),
]
"""Request bodies and whether they are valid. Checks JSON Schema cannot express are left
out: whether a tryon digest names a stored upload, the novel size limit, the SSRF guard
on webhook URLs, and which priorities the caller's tier allows (a vip user posts here)."""


@pytest.mark.parametrize(("body", "valid"), JOB_BODIES)
def test_job_request_schema_accepts_what_the_api_accepts(
    client: Any,
    make_user: Callable[..., tuple[int, str]],
    document: dict[str, Any],
    body: Any,
    valid: bool,
) -> None:
    errors = list(schema_validator(document, "JobRequest").iter_errors(body))
    assert not errors if valid else errors, [error.message for error in errors]
    _, key = make_user("vera", tier="vip")
    headers = {"Authorization": f"Bearer {key}"}
    response = client.post("/api/v1/jobs", json=body, headers=headers)
    assert response.status_code == (202 if valid else 422), response.get_json()
    if valid:  # a worker left running by other tests need not make it
        client.post(f"/api/v1/jobs/{response.get_json()['id']}/cancel", headers=headers)


@pytest.mark.usefixtures("celery_session_worker")
@pytest.mark.timeout(60)
def test_answers_match_their_documented_schemas(
    client: Any,
    auth: dict[str, str],
    document: dict[str, Any],
    wait_for_job: Callable[..., dict[str, Any]],
) -> None:
    def check(name: str, response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.get_json()
        body: dict[str, Any] = response.get_json()
        errors = [e.message for e in schema_validator(document, name).iter_errors(body)]
        assert not errors, (name, errors, body)
        return body

    image = {"kind": "image", "input": {"prompt": "a lighthouse", "size": "256x256"}}
    job = check("Job", client.post("/api/v1/jobs", json=image, headers=auth), 202)
    check("Error", client.post("/api/v1/jobs", json={"kind": "video"}, headers=auth), 422)
    check("Error", client.get("/api/v1/jobs/nope", headers=auth), 404)
    check("Error", client.get("/api/v1/me"), 401)
    completed = wait_for_job(job["id"], auth)
    assert completed["status"] == "completed" and completed["result"]["artifacts"]
    check("Job", client.get(f"/api/v1/jobs/{job['id']}", headers=auth))
    check("JobList", client.get("/api/v1/jobs?limit=5", headers=auth))
    batch = check(
        "Batch", client.post("/api/v1/batches", json={"jobs": [image]}, headers=auth), 202
    )
    check("Batch", client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=auth))
    check("DeliveryLog", client.get(f"/api/v1/jobs/{job['id']}/webhooks", headers=auth))
    check("Me", client.get("/api/v1/me", headers=auth))
    check("WebhookSecret", client.get("/api/v1/webhooks/default/secret", headers=auth))
    check("RotatedSecret", client.post("/api/v1/webhooks/default/secret/rotate", headers=auth))
    check("Health", client.get("/healthz"))
    check("Ready", client.get("/readyz"))


def test_multipart_forms_list_the_fields_the_api_takes(document: dict[str, Any]) -> None:
    from webapp.api.uploads import COMMON_FIELDS, MULTIPART_KINDS

    forms = document["components"]["schemas"]["JobForm"]["oneOf"]
    documented = {}
    for ref in forms:
        form = document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        documented[form["properties"]["kind"]["const"]] = set(form["properties"])
    assert documented == {
        kind: set(COMMON_FIELDS | spec.fields | spec.files)
        for kind, spec in MULTIPART_KINDS.items()
    }
