"""GET /api/v1/jobs/{id}/events: Server-Sent Events over a real HTTP server and worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(60)]

Event = dict[str, Any]


def _events(response: requests.Response) -> Iterator[Event]:
    """Parse a text/event-stream into {id, event, data} dicts and comments."""
    fields: Event = {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = json.loads(value) if name == "data" else value


def _open(
    base: str, job_id: str, auth: dict[str, str], after: int | None = None
) -> requests.Response:
    headers = dict(auth)
    if after is not None:
        headers["Last-Event-ID"] = str(after)
    response = requests.get(
        f"{base}/api/v1/jobs/{job_id}/events", headers=headers, stream=True, timeout=(3, 10)
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response


def _numbered(events: list[Event]) -> list[Event]:
    return [e for e in events if "id" in e]


def _submit(base: str, auth: dict[str, str]) -> str:
    body = {"kind": "image", "input": {"prompt": "streamed", "size": "256x256"}}
    response = requests.post(f"{base}/api/v1/jobs", json=body, headers=auth, timeout=10)
    assert response.status_code == 202
    return str(response.json()["id"])


@pytest.fixture
def auth(make_user: Callable[..., tuple[int, str]]) -> dict[str, str]:
    _, key = make_user("streamer")
    return {"Authorization": f"Bearer {key}"}


def test_a_stream_follows_a_job_to_completion_then_ends(
    live_server: str, auth: dict[str, str]
) -> None:
    job_id = _submit(live_server, auth)
    with _open(live_server, job_id, auth) as response:
        events = list(_events(response))  # ends by itself on the final status
    numbered = _numbered(events)
    assert [int(e["id"]) for e in numbered] == list(range(1, len(numbered) + 1))
    assert numbered[0]["data"]["status"] == "pending"
    assert numbered[-1]["event"] == "status" and numbered[-1]["data"]["status"] == "completed"
    assert numbered[-1]["data"]["progress"] == 100
    assert {e["data"]["stage"] for e in numbered if e["event"] == "stage"} >= {
        "generate",
        "finalize",
    }
    assert all("eta_seconds" in e["data"] for e in numbered)


def test_last_event_id_resumes_without_gap_or_duplicate(
    live_server: str, auth: dict[str, str], wait_for_job: Any
) -> None:
    job_id = _submit(live_server, auth)
    with _open(live_server, job_id, auth) as response:
        full = _numbered(list(_events(response)))
    with _open(live_server, job_id, auth, after=2) as response:
        resumed = _numbered(list(_events(response)))
    assert [e["id"] for e in resumed] == [e["id"] for e in full[2:]]
    assert [e["data"] for e in resumed] == [e["data"] for e in full[2:]]
    with _open(live_server, job_id, auth, after=len(full)) as response:
        assert _numbered(list(_events(response))) == []


def test_a_forced_disconnect_mid_run_loses_nothing(
    live_server: str, auth: dict[str, str], fake_provider: Any
) -> None:
    fake_provider.set_delay("images/generations", 1.5)
    job_id = _submit(live_server, auth)
    first: list[Event] = []
    with _open(live_server, job_id, auth) as response:
        for event in _events(response):
            if "id" in event:
                first.append(event)
            if len(first) == 3:
                break  # the client drops the connection mid-run
    time.sleep(0.5)
    with _open(live_server, job_id, auth, after=int(first[-1]["id"])) as response:
        rest = _numbered(list(_events(response)))
    ids = [int(e["id"]) for e in first + rest]
    assert ids == list(range(1, len(ids) + 1))
    assert rest[-1]["data"]["status"] == "completed"


def test_a_waiting_job_gets_its_queue_place_and_heartbeats(
    live_server: str, make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("waiter")
    auth = {"Authorization": f"Bearer {key}"}
    job_id = insert_job(user_id=user_id)  # never enqueued: it stays pending
    seen: list[Event] = []
    started = time.monotonic()
    with _open(live_server, job_id, auth) as response:
        for event in _events(response):
            seen.append(event)
            if (
                any(e.get("comment") == "keep-alive" for e in seen)
                or time.monotonic() - started > 8
            ):
                break
    assert _numbered(seen)[0]["data"]["status"] == "pending"
    (place,) = [e for e in seen if e.get("event") == "queue"]
    assert place["data"]["queue_position"] == 1
    assert {"comment": "keep-alive"} in seen


def test_streams_are_owner_only(
    live_server: str, auth: dict[str, str], make_user: Callable[..., tuple[int, str]]
) -> None:
    job_id = _submit(live_server, auth)
    _, other = make_user("other")
    url = f"{live_server}/api/v1/jobs/{job_id}/events"
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {other}"}, timeout=5).status_code
        == 404
    )
    assert requests.get(url, timeout=5).status_code == 401
    bad = requests.get(url, headers={**auth, "Last-Event-ID": "x"}, timeout=5)
    assert bad.status_code == 422


def test_events_missing_from_postgres_are_skipped_not_awaited(
    app: Any, live_server: str, auth: dict[str, str], wait_for_job: Any
) -> None:
    from tasks.db import db
    from tasks.models import JobEvent

    job_id = _submit(live_server, auth)
    with _open(live_server, job_id, auth) as response:
        full = _numbered(list(_events(response)))
    with app.app_context():  # as retention's event trimming would
        db.session.execute(
            db.delete(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq.in_([2, 3]))
        )
        db.session.commit()
    started = time.monotonic()
    with _open(live_server, job_id, auth) as response:
        replay = _numbered(list(_events(response)))
    assert time.monotonic() - started < 5
    assert [int(e["id"]) for e in replay] == [1] + list(range(4, len(full) + 1))
    assert replay[-1]["data"]["status"] == "completed"
