"""parley.api.fastpath in front of Django's real ASGI handler, over ASGI messages: the routes it
serves never reach Django's handler and answer as Django's path does (status, body, headers,
cookies); everything else, and anything the middleware would answer themselves, reaches Django
with its body intact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

from parley.accounts import tokencache
from parley.accounts.services import token_create, token_revoke
from parley.api.fastpath import ApiFastPath
from parley.core import json
from parley.realtime import ratelimit, runtime
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = "a" * 32  # a CSRF secret as the cookie carries it; the header may send the same


class Recording(ASGIHandler):
    """Django's ASGI handler, noting the paths that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await super().__call__(scope, receive, send)


class Answer:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        start = messages[0]
        self.status: int = start["status"]
        self.headers = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
        self.body = b"".join(m.get("body", b"") for m in messages[1:])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    app: Any, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None, chunk: int = 0
) -> Answer:
    """One request through ``app`` as uvicorn makes it (the body in ``chunk``-byte parts)."""
    raw = [(b"host", b"127.0.0.1:8000"), *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())]
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
    inbox: list[dict[str, Any]] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        await asyncio.sleep(3600)  # the client stays: Django listens for a disconnect meanwhile
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    await asyncio.wait_for(app(scope, receive, send), 10)
    return Answer(sent)


@pytest.fixture
async def django_app() -> AsyncIterator[Recording]:
    yield Recording()
    await runtime.current().stop()


@pytest.fixture
def fast(django_app: Recording) -> ApiFastPath:
    app = ApiFastPath(django_app)
    assert app.enabled, "every middleware in settings is one the fast path knows"
    return app


@pytest.fixture
def ann_token() -> str:
    ann = factories.user("ann")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=factories.user("carl"), public=False)
    ratelimit._buckets.clear()
    tokencache._entries.clear()
    return token_create(user=ann, name="bot")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def post_body(cid: str, text: str = "hi") -> bytes:
    return json.dumps({"cid": cid, "body": text}).encode()


POST = "/api/v1/rooms/{}/messages"


async def test_a_post_never_reaches_django_and_answers_as_django_does(
    fast: ApiFastPath, django_app: Recording, ann_token: str, settings: Any
) -> None:
    first = await call(fast, "POST", POST.format("lobby"), body=post_body("c1"), headers=bearer(ann_token))
    assert (first.status, first.json()) == (201, {"room": "lobby", "cid": "c1", "seq": 1})
    again = await call(fast, "POST", POST.format("lobby"), body=post_body("c1"), headers=bearer(ann_token), chunk=7)
    assert (again.status, again.json()) == (200, {"room": "lobby", "cid": "c1", "seq": 1})
    history = await call(fast, "GET", POST.format("lobby"), headers=bearer(ann_token))
    assert history.status == 200 and [e["body"] for e in history.json()["events"]][-1] == "hi"
    one = await call(fast, "GET", POST.format("lobby") + "/1", headers=bearer(ann_token))
    assert (one.status, one.json()["cid"]) == (200, "c1")
    assert django_app.paths == []

    # The same post through Django's handler: the same answer, the same headers.
    settings.PARLEY_API_FAST_PATH = False
    slow = ApiFastPath(django_app)
    assert not slow.enabled
    old = await call(slow, "POST", POST.format("lobby"), body=post_body("c1"), headers=bearer(ann_token))
    assert django_app.paths == [POST.format("lobby")]
    assert (old.status, old.body) == (again.status, again.body)
    assert {k for k, _ in old.headers} == {k for k, _ in again.headers}
    for name in ("content-type", "x-frame-options", "x-content-type-options", "content-security-policy"):
        assert old.header(name) == again.header(name), name


async def test_refusals_keep_their_codes_and_statuses(
    fast: ApiFastPath, django_app: Recording, ann_token: str, settings: Any
) -> None:
    lobby = POST.format("lobby")
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        (lobby, b"{not json", bearer(ann_token), 400, "bad_request"),
        (lobby, json.dumps({"body": "no cid"}).encode(), bearer(ann_token), 400, "bad_request"),
        (POST.format("nowhere"), post_body("c2"), bearer(ann_token), 404, "not_found"),
        (POST.format("secret"), post_body("c3"), bearer(ann_token), 404, "not_found"),
        (lobby, post_body("c4"), bearer("pt_forged"), 401, "not_authenticated"),
        # no credentials at all: the session scheme's CSRF check answers first, as on Django's path
        (lobby, post_body("c5"), {"Content-Type": "application/json"}, 403, "forbidden"),
    ]
    answers = []
    for path, body, headers, status, code in cases:
        answer = await call(fast, "POST", path, body=body, headers=headers)
        assert (answer.status, answer.json()["error"]["code"]) == (status, code), answer.body
        answers.append(answer)
    assert (answers[4].header("www-authenticate") or "").startswith("Bearer")
    nobody = await call(fast, "GET", lobby)
    assert (nobody.status, nobody.json()["error"]["code"]) == (401, "not_authenticated")
    assert django_app.paths == []
    # Django's path answers each the same
    settings.PARLEY_API_FAST_PATH = False
    slow = ApiFastPath(django_app)
    for (path, body, headers, _, _), answer in zip(cases, answers, strict=True):
        old = await call(slow, "POST", path, body=body, headers=headers)
        assert (old.status, old.body) == (answer.status, answer.body), path
    assert len(django_app.paths) == len(cases)


async def test_the_send_bucket_is_spent_on_the_fast_path(fast: ApiFastPath, ann_token: str, settings: Any) -> None:
    settings.PARLEY_RATE_BURST = 5
    settings.PARLEY_RATE_PER_SECOND = 1
    answers = [
        await call(fast, "POST", POST.format("lobby"), body=post_body(f"burst-{i}"), headers=bearer(ann_token))
        for i in range(8)
    ]
    assert [a.status for a in answers] == [201] * 5 + [429] * 3
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert int(answers[-1].header("retry-after") or 0) >= 1


async def test_the_session_needs_csrf_on_the_fast_path(fast: ApiFastPath, django_app: Recording) -> None:
    ann = await sync_to_async(factories.user)("ann")
    await sync_to_async(factories.room)("lobby", creator=ann)
    ratelimit._buckets.clear()
    cookie = await sync_to_async(factories.session_cookie)(ann)
    headers = {"Cookie": f"{cookie}; csrftoken={CSRF}", "Content-Type": "application/json"}
    refused = await call(fast, "POST", POST.format("lobby"), body=post_body("s1"), headers=headers)
    assert (refused.status, refused.json()["error"]["code"]) == (403, "forbidden")
    posted = await call(
        fast, "POST", POST.format("lobby"), body=post_body("s1"), headers={**headers, "X-CSRFToken": CSRF}
    )
    assert (posted.status, posted.json()["seq"]) == (201, 1)
    assert "Cookie" in (posted.header("vary") or "")  # SessionMiddleware's answer hook ran
    read = await call(fast, "GET", POST.format("lobby"), headers={"Cookie": cookie})  # reads need no CSRF
    assert read.status == 200 and len(read.json()["events"]) >= 1
    assert django_app.paths == []


async def test_other_requests_reach_django_with_their_body(
    fast: ApiFastPath, django_app: Recording, ann_token: str, settings: Any
) -> None:
    me = await call(fast, "GET", "/api/v1/me", headers=bearer(ann_token))
    assert me.status == 200 and me.json()["username"] == "ann"
    made = await call(
        fast,
        "POST",
        "/api/v1/rooms",
        body=json.dumps({"title": "New", "room": "new"}).encode(),
        headers=bearer(ann_token),
    )
    assert made.status == 201, made.body
    edit = await call(
        fast, "PATCH", POST.format("lobby") + "/1", body=json.dumps({"body": "x"}).encode(), headers=bearer(ann_token)
    )
    assert edit.status == 404  # Django's path, the API's answer: no message 1 yet
    # a host Django refuses: Django's own 400, not the API's
    host = await call(
        fast, "POST", POST.format("lobby"), body=post_body("h"), headers={**bearer(ann_token), "Host": "evil.example"}
    )
    assert host.status == 400
    # a body over DATA_UPLOAD_MAX_MEMORY_SIZE, read in parts: Django reads the rest and answers 413
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"cid": "big", "body": "x" * 5000}).encode()
    too_big = await call(fast, "POST", POST.format("lobby"), body=big, headers=bearer(ann_token), chunk=700)
    assert too_big.status == 413 and too_big.json()["error"]["code"] == "too_large"
    assert django_app.paths == [
        "/api/v1/me",
        "/api/v1/rooms",
        POST.format("lobby") + "/1",
        POST.format("lobby"),
        POST.format("lobby"),
    ]


async def test_a_revoked_token_stops_at_once_though_it_was_cached(fast: ApiFastPath, ann_token: str) -> None:
    posted = await call(fast, "POST", POST.format("lobby"), body=post_body("r1"), headers=bearer(ann_token))
    assert posted.status == 201 and len(tokencache._entries) == 1
    await sync_to_async(token_revoke)(token_ids=await sync_to_async(_token_ids)())
    assert tokencache._entries == {}
    after = await call(fast, "POST", POST.format("lobby"), body=post_body("r2"), headers=bearer(ann_token))
    assert (after.status, after.json()["error"]["code"]) == (401, "not_authenticated")


def _token_ids() -> list[int]:
    from parley.accounts.models import ApiToken

    return list(ApiToken.objects.values_list("pk", flat=True))


async def test_an_incoming_webhook_posts_on_the_fast_path(fast: ApiFastPath, django_app: Recording) -> None:
    from parley.hooks.services import webhook_create

    def make() -> str:
        carl = factories.user("carl")
        factories.room("builds", creator=carl)
        return webhook_create(actor=carl, slug="builds", name="CI")[1]

    secret = await sync_to_async(make)()
    body = json.dumps({"text": "build passed", "cid": "deploy-1"}).encode()
    first = await call(fast, "POST", f"/hooks/{secret}", body=body, headers={"Content-Type": "application/json"})
    again = await call(fast, "POST", f"/hooks/{secret}", body=body, headers={"Content-Type": "application/json"})
    assert (first.status, again.status) == (201, 200) and first.json() == again.json()
    bad = await call(fast, "POST", f"/hooks/{secret}", body=b"not json")
    assert (bad.status, bad.json()["error"]["code"]) == (400, "bad_request")
    unknown = await call(fast, "POST", "/hooks/wh_unknown", body=body)
    assert unknown.status == 404
    assert django_app.paths == []
    assert (await call(fast, "GET", f"/hooks/{secret}")).status == 405  # not a fast route: Django's
    assert django_app.paths == [f"/hooks/{secret}"]
