"""The HTTP API and incoming webhooks against a real server (uvicorn, bin/serve) over real
sockets: every endpoint's success and refusals, each answer validated against
/api/v1/openapi.json, and HTTP posts seen in seq order by a /ws/ subscriber and a tutorial socket."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.api.client import PREFIX, Api, Schema
from tests.api.test_api_account_live import COVERED
from tests.support.http import Session, signup
from tests.support.server import Databases, LiveServer, running

pytestmark = pytest.mark.live


def _csrf(session: Session) -> str:
    return next(c.value for c in session.jar if c.name == "csrftoken")


def _token_for(live: LiveServer, schema: Schema, session: Session) -> str:
    """A token made over the API with the browser's session (and its CSRF token)."""
    browser = Api(live.base_url, schema, cookies=session.cookie_header())
    browser.error("POST", "/tokens", 403, "forbidden", json={"name": "no csrf"})
    made = browser.call("POST", "/tokens", expect=201, json={"name": "bot"}, headers={"X-CSRFToken": _csrf(session)})
    assert made["token"].startswith("pt_")
    assert browser.call("GET", "/me", expect=200)["auth"] == "session"
    browser.close()
    return str(made["token"])


async def _recv(ws: Any, timeout: float = 5) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def _events(ws: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        frame = await _recv(ws)
        if frame.get("type") == "event":
            found.append(frame)
    return found


def _ws(live: LiveServer, path: str, cookie: str | None = None) -> Any:
    headers = {"Cookie": cookie} if cookie else None
    return websockets.connect(live.ws_base + path, origin=live.base_url, additional_headers=headers)


async def _fan_out(live: LiveServer, ann: Api, bob_cookie: str) -> None:
    """HTTP posts (and one /ws/ send between them) reach a /ws/ subscriber and a tutorial
    socket in seq order, as one log."""
    async with _ws(live, "/ws/", bob_cookie) as sub, _ws(live, "/ws/chats/lobby/") as tut:
        await sub.send(json.dumps({"type": "subscribe", "room": "lobby"}))
        start = (await _recv(sub))["last_seq"]
        loop = asyncio.get_running_loop()
        acks = []
        for i in range(3):
            body = {"cid": f"fan-{i}", "body": f"over http {i}"}
            acks.append(
                await loop.run_in_executor(
                    None, lambda b=body: ann.call("POST", "/rooms/{room}/messages", expect=201, json=b, room="lobby")
                )
            )
            if i == 1:
                await sub.send(json.dumps({"type": "send", "room": "lobby", "cid": "ws-1", "body": "over ws"}))
        seen = await _events(sub, 4)
        assert [e["seq"] for e in seen] == list(range(start + 1, start + 5))
        assert [e["body"] for e in seen] == ["over http 0", "over http 1", "over ws", "over http 2"] or [
            e["body"] for e in seen
        ] == ["over http 0", "over http 1", "over http 2", "over ws"]
        assert {a["seq"] for a in acks} <= {e["seq"] for e in seen}
        tutorial = [await _recv(tut) for _ in range(4)]
        assert [t["message"] for t in tutorial] == [e["body"] for e in seen]


def _exercise(live: LiveServer) -> None:
    schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
    assert httpx.get(live.base_url + "/api/v1/docs").status_code == 200
    ann_s, bob_s, carl_s = (signup(live.base_url, name) for name in ("ann", "bob", "carl"))
    ann = Api(live.base_url, schema, token=_token_for(live, schema, ann_s))
    bob = Api(live.base_url, schema, token=_token_for(live, schema, bob_s))
    carl = Api(live.base_url, schema, token=_token_for(live, schema, carl_s))
    nobody = Api(live.base_url, schema)
    forged = Api(live.base_url, schema, token="pt_forged")

    # auth
    assert ann.call("GET", "/me", expect=200)["username"] == "ann"
    nobody.error("GET", "/me", 401, "not_authenticated")
    assert nobody.last.headers["WWW-Authenticate"].startswith("Bearer")
    forged.error("GET", "/rooms", 401, "not_authenticated")

    # rooms
    lobby = ann.call("POST", "/rooms", expect=201, json={"title": "Lobby", "room": "lobby", "topic": "hi"})
    assert lobby["entry"]["role"] == "owner"
    ann.call("POST", "/rooms", expect=201, json={"title": "Secret", "room": "secret", "visibility": "private"})
    ann.error("POST", "/rooms", 400, "bad_request", json={"title": "again", "room": "lobby"})
    ann.error("POST", "/rooms", 400, "bad_request", json={"room": "no-title"})
    ann.call("PATCH", "/rooms/{room}", expect=200, json={"topic": "welcome"}, room="lobby")
    bob.error("PATCH", "/rooms/{room}", 403, "forbidden", json={"topic": "mine"}, room="lobby")
    assert bob.call("GET", "/rooms/{room}", expect=200, room="lobby")["entry"] is None
    bob.error("GET", "/rooms/{room}", 404, "not_found", room="secret")
    bob.error("GET", "/rooms/{room}/messages", 404, "not_found", room="secret")
    bob.error("POST", "/rooms/{room}/messages", 404, "not_found", json={"cid": "x", "body": "in?"}, room="secret")
    bob.error("GET", "/rooms/{room}", 400, "bad_request", room="Not_A_Slug!")
    found = bob.call("GET", "/directory", expect=200, params={"q": "lob"})["rooms"]
    assert [r["room"] for r in found] == ["lobby"] and found[0]["member"] is False
    bob.error("POST", "/rooms/{room}/leave", 409, "not_member", room="lobby")
    bob.call("POST", "/rooms/{room}/join", expect=200, room="lobby")
    assert {e["room"] for e in bob.call("GET", "/rooms", expect=200)["rooms"]} == {"lobby"}

    # messages: post (idempotent), fan-out, history, one, edit, react, delete
    first = ann.call("POST", "/rooms/{room}/messages", expect=201, json={"cid": "m-1", "body": "hello"}, room="lobby")
    again = ann.call("POST", "/rooms/{room}/messages", expect=200, json={"cid": "m-1", "body": "hello"}, room="lobby")
    assert again == first
    ann.error("POST", "/rooms/{room}/messages", 400, "bad_request", json={"cid": "m-2", "body": "  "}, room="lobby")
    ann.error("POST", "/rooms/{room}/messages", 400, "bad_request", json={"body": "no cid"}, room="lobby")
    ann.error("POST", "/rooms/{room}/messages", 413, "too_large", json={"cid": "m-3", "body": "x" * 4001}, room="lobby")
    ann.error("POST", "/rooms/{room}/messages", 404, "not_found", json={"cid": "m-4", "body": "?"}, room="nowhere")
    asyncio.run(_fan_out(live, ann, bob_s.cookie_header()))
    # files: uploaded with the same token (POST /rooms/<room>/files), then posted by id
    made = ann.http.post("/rooms/lobby/files", files={"file": ("notes.txt", b"agenda\n", "text/plain")})
    assert made.status_code == 201, made.text
    with_file = ann.call(
        "POST",
        "/rooms/{room}/messages",
        expect=201,
        json={"cid": "m-f", "body": "", "files": [made.json()["id"]]},
        room="lobby",
    )
    shown = bob.call("GET", "/rooms/{room}/messages/{seq}", expect=200, room="lobby", seq=with_file["seq"])
    assert shown["files"] == [made.json()] and shown["body"] == ""
    ann.error(
        "POST",
        "/rooms/{room}/messages",
        400,
        "bad_request",
        json={"cid": "m-g", "body": "", "files": [made.json()["id"]]},
        room="lobby",
    )
    seq = first["seq"]
    one = bob.call("GET", "/rooms/{room}/messages/{seq}", expect=200, room="lobby", seq=seq)
    assert (one["body"], one["user"]["username"]) == ("hello", "ann")
    bob.error("GET", "/rooms/{room}/messages/{seq}", 404, "not_found", room="lobby", seq=9999)
    history = bob.call("GET", "/rooms/{room}/messages", expect=200, room="lobby")["events"]
    seqs = [e["seq"] for e in history]
    assert seqs == sorted(seqs) and seqs[-1] == history[-1]["seq"]
    page = bob.call("GET", "/rooms/{room}/messages", expect=200, params={"before": seqs[-1], "limit": 2}, room="lobby")
    assert [e["seq"] for e in page["events"]] == seqs[-3:-1]
    forward = bob.call("GET", "/rooms/{room}/messages", expect=200, params={"after": seqs[0], "limit": 2}, room="lobby")
    assert [e["seq"] for e in forward["events"]] == seqs[1:3]
    bob.error("GET", "/rooms/{room}/messages", 400, "bad_request", params={"limit": 500}, room="lobby")
    bob.error("GET", "/rooms/{room}/messages", 400, "bad_request", params={"before": "x"}, room="lobby")

    edit = ann.call(
        "PATCH",
        "/rooms/{room}/messages/{seq}",
        expect=200,
        json={"body": "hello **all**", "cid": "e-1"},
        room="lobby",
        seq=seq,
    )
    assert edit["seq"] > seq and edit["cid"] == "e-1"
    bob.error(
        "PATCH", "/rooms/{room}/messages/{seq}", 403, "forbidden", json={"body": "mine now"}, room="lobby", seq=seq
    )
    react = bob.call(
        "POST",
        "/rooms/{room}/messages/{seq}/reactions",
        expect=200,
        json={"emoji": ":thumbsup:"},
        room="lobby",
        seq=seq,
    )
    assert react["seq"] is not None and react["cid"] is None
    shown = bob.call("GET", "/rooms/{room}/messages/{seq}", expect=200, room="lobby", seq=seq)
    assert shown["body"] == "hello **all**" and shown["reactions"] == [
        {"emoji": "👍", "users": [shown["reactions"][0]["users"][0]]}
    ]
    assert shown["html"] == "<p>hello <strong>all</strong></p>" and "edited" in shown
    off = bob.call(
        "DELETE", "/rooms/{room}/messages/{seq}/reactions/{emoji}", expect=200, room="lobby", seq=seq, emoji="👍"
    )
    assert off["seq"] == react["seq"] + 1
    nothing = bob.call(
        "DELETE", "/rooms/{room}/messages/{seq}/reactions/{emoji}", expect=200, room="lobby", seq=seq, emoji="👍"
    )
    assert nothing["seq"] is None
    bob.error("DELETE", "/rooms/{room}/messages/{seq}", 403, "forbidden", room="lobby", seq=seq)
    gone = ann.call("DELETE", "/rooms/{room}/messages/{seq}", expect=200, room="lobby", seq=seq)
    assert gone["seq"] is not None
    assert bob.call("GET", "/rooms/{room}/messages/{seq}", expect=200, room="lobby", seq=seq)["deleted"] is True
    bob.error(
        "PATCH", "/rooms/{room}/messages/{seq}", 404, "not_found", json={"body": "x"}, room="lobby", seq=gone["seq"]
    )

    # people: invite, members, mute, role, remove and ban, unban, DMs, invite links
    ann.call("POST", "/rooms/{room}/members", expect=200, json={"user": "bob"}, room="secret")
    members = bob.call("GET", "/rooms/{room}/members", expect=200, room="secret")
    assert [m["user"]["username"] for m in members["members"]] == ["ann", "bob"] and members["banned"] is None
    ann.call(
        "PATCH", "/rooms/{room}/members/{username}", expect=200, json={"muted": True}, room="secret", username="bob"
    )
    bob.error("POST", "/rooms/{room}/messages", 403, "forbidden", json={"cid": "muted-1", "body": "hm"}, room="secret")
    ann.call(
        "PATCH",
        "/rooms/{room}/members/{username}",
        expect=200,
        json={"muted": False, "role": "admin"},
        room="secret",
        username="bob",
    )
    assert bob.call(
        "POST", "/rooms/{room}/messages", expect=201, json={"cid": "free-1", "body": "thanks"}, room="secret"
    )
    bob.error("DELETE", "/rooms/{room}/members/{username}", 403, "forbidden", room="secret", username="ann")
    ann.call(
        "DELETE", "/rooms/{room}/members/{username}", expect=200, params={"ban": "true"}, room="secret", username="bob"
    )
    bob.error("GET", "/rooms/{room}/messages", 404, "not_found", room="secret")
    assert [u["username"] for u in ann.call("GET", "/rooms/{room}/members", expect=200, room="secret")["banned"]] == [
        "bob"
    ]
    ann.error("POST", "/rooms/{room}/members", 403, "forbidden", json={"user": "bob"}, room="secret")
    ann.call("DELETE", "/rooms/{room}/bans/{username}", expect=200, room="secret", username="bob")
    ann.error("POST", "/rooms/{room}/members", 404, "not_found", json={"user": "nobody-here"}, room="secret")
    link = ann.call("POST", "/rooms/{room}/invite-links", expect=201, json={"hours": 2}, room="secret")
    bob.error("POST", "/rooms/{room}/invite-links", 404, "not_found", json={}, room="secret")
    joined = carl.call("POST", "/invites/{code}/join", expect=200, code=link["code"])
    assert joined["room"] == "secret" and joined["entry"]["role"] == "member"
    carl.error("POST", "/invites/{code}/join", 404, "not_found", code="x" * 24)
    dm = ann.call("POST", "/dms", expect=200, json={"users": ["bob", "carl"]})
    assert (
        dm["kind"] == "dm"
        and ann.call("POST", "/dms", expect=200, json={"users": ["carl", "bob"]})["room"] == dm["room"]
    )
    ann.error("POST", "/dms", 400, "bad_request", json={"users": "bob"})

    # search: words, a room, a person; a private room's outsider learns nothing
    hits = bob.call("GET", "/search", expect=200, params={"q": "hello"})
    assert [e["body"] for e in hits["results"]] == [] and hits["cursor"] is None  # deleted above
    ann.call(
        "POST", "/rooms/{room}/messages", expect=201, json={"cid": "s-1", "body": "deploy window friday"}, room="secret"
    )
    found = ann.call("GET", "/search", expect=200, params={"q": "Deploy friday", "room": "secret", "user": "ann"})
    assert [e["body"] for e in found["results"]] == ["deploy window friday"]
    assert bob.call("GET", "/search", expect=200, params={"q": "deploy"})["results"] == []
    bob.error("GET", "/search", 404, "not_found", params={"q": "deploy", "room": "secret"})
    bob.error("GET", "/search", 400, "bad_request", params={"q": "!!"})

    # read markers, notify, mentions
    ann.call("POST", "/rooms/{room}/messages", expect=201, json={"cid": "at-1", "body": "@bob look"}, room="lobby")
    entry = next(e for e in bob.call("GET", "/rooms", expect=200)["rooms"] if e["room"] == "lobby")
    assert entry["mentions"] == 1 and entry["read_seq"] < entry["last_seq"]
    mentioned = bob.call("GET", "/mentions", expect=200)
    assert [e["body"] for e in mentioned["events"]] == ["@bob look"] and mentioned["cursor"] is None
    moved = bob.call("POST", "/rooms/{room}/read", expect=200, json={"seq": entry["last_seq"]}, room="lobby")
    assert moved["read_seq"] == entry["last_seq"]
    assert bob.call("POST", "/rooms/{room}/read", expect=200, json={"seq": 1}, room="lobby")["read_seq"] is None
    assert next(e for e in bob.call("GET", "/rooms", expect=200)["rooms"] if e["room"] == "lobby")["mentions"] == 0
    carl.error("POST", "/rooms/{room}/read", 409, "not_member", json={"seq": 1}, room="lobby")
    bob.call("PUT", "/rooms/{room}/notify", expect=200, json={"level": "mentions"}, room="lobby")
    bob.error("PUT", "/rooms/{room}/notify", 400, "bad_request", json={"level": "loud"}, room="lobby")
    bob.call("POST", "/rooms/{room}/leave", expect=200, room="lobby")

    # webhooks: made by an admin, shown once, posting as their bot; revoked
    carl.error("POST", "/rooms/{room}/webhooks", 403, "forbidden", json={"name": "CI"}, room="secret")
    hook = ann.call("POST", "/rooms/{room}/webhooks", expect=201, json={"name": "CI"}, room="secret")
    assert hook["url"].startswith(live.base_url + "/hooks/wh_")
    listed = ann.call("GET", "/rooms/{room}/webhooks", expect=200, room="secret")["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "url" not in listed[0]
    posted = httpx.post(hook["url"], json={"text": "build *passed*", "username": "someone-else"})
    assert posted.status_code == 201, posted.text
    retried = [httpx.post(hook["url"], json={"text": "once", "cid": "deploy-7"}) for _ in range(2)]
    assert [r.status_code for r in retried] == [201, 200] and retried[0].json() == retried[1].json()
    last = carl.call("GET", "/rooms/{room}/messages", expect=200, params={"limit": 2}, room="secret")["events"]
    assert [(e["body"], e["user"]["name"]) for e in last] == [("build *passed*", "CI"), ("once", "CI")]
    assert httpx.post(hook["url"], content=b"not json").json()["error"]["code"] == "bad_request"
    assert httpx.post(hook["url"], json={"text": 5}).status_code == 400
    assert httpx.post(hook["url"], json={"text": "x" * 70000}).status_code == 413
    assert httpx.get(hook["url"]).status_code == 405
    assert httpx.post(live.base_url + "/hooks/wh_unknown", json={"text": "x"}).status_code == 404
    ann.call("DELETE", "/rooms/{room}/webhooks/{hook_id}", expect=204, room="secret", hook_id=hook["id"])
    assert httpx.post(hook["url"], json={"text": "after"}).status_code == 404
    ann.error("DELETE", "/rooms/{room}/webhooks/{hook_id}", 404, "not_found", room="secret", hook_id=hook["id"])

    # tokens: listed, revoked (the revoked token stops working at once)
    tokens = carl.call("GET", "/tokens", expect=200)["tokens"]
    assert [t["name"] for t in tokens] == ["bot"] and "token" not in tokens[0]
    ann.error("DELETE", "/tokens/{token_id}", 404, "not_found", token_id=tokens[0]["id"])
    carl.call("DELETE", "/tokens/{token_id}", expect=204, token_id=tokens[0]["id"])
    carl.error("GET", "/me", 401, "not_authenticated")

    # the send bucket is the user's, whatever the transport: HTTP spends it, /ws/ then waits too.
    # 60 posts at once (one after another, a loaded machine posts no faster than the bucket refills)
    def post(i: int) -> httpx.Response:
        return ann.http.post(f"{PREFIX}/rooms/lobby/messages", json={"cid": f"burst-{i}", "body": "x"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(post, range(60)))
    for answer in answers:
        schema.check("POST", "/rooms/{room}/messages", answer.status_code, answer.json())
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, [answer.status_code for answer in answers]
    limited = refused[0].json()["error"]
    assert limited["code"] == "rate_limited" and limited["retry_after"] > 0, limited
    assert int(refused[0].headers["Retry-After"]) >= 1
    asyncio.run(_ws_limited(live, ann_s.cookie_header()))

    untested = (
        {
            (method.upper(), path.removeprefix("/api/v1"))
            for path, operations in schema.document["paths"].items()
            if not path.startswith("/api/v1/subscriptions")  # tests/hooks/test_worker_live.py calls these
            for method in operations
        }
        - {(m, t) for m, t, _ in schema.checked}
        - COVERED
    )
    assert not untested, f"endpoints no test called: {sorted(untested)}"
    for client in (ann, bob, carl, nobody, forged):
        client.close()


async def _ws_limited(live: LiveServer, cookie: str) -> None:
    """Ten sends at once on a new socket: a bucket of its own would take them all (burst 30);
    the user's bucket, spent over HTTP a moment ago, refuses most of them."""
    async with _ws(live, "/ws/", cookie) as ws:
        for i in range(10):
            await ws.send(json.dumps({"type": "send", "room": "lobby", "cid": f"ws-after-{i}", "body": "me too"}))
        answers = [await _recv(ws) for _ in range(10)]
        limited = [a for a in answers if a.get("type") == "error" and a.get("code") == "rate_limited"]
        assert len(limited) >= 5, answers


def test_api_and_webhooks_over_http(live_databases: Databases, workdir: Path) -> None:
    with running(live_databases, workdir, PARLEY_ATTACHMENTS_DIR=str(workdir / "attachments")) as live:
        _exercise(live)


def test_a_burst_of_http_posts_shares_the_group_commit_and_a_small_pool(
    live_databases: Databases, workdir: Path
) -> None:
    """300 posts at once over 30 keep-alive connections, with a pool of 2 connections: every one
    is stored (dense seqs, one per cid), none waits for a pooled connection, and they were
    committed in batches."""
    with running(
        live_databases,
        workdir,
        database="postgres",
        PARLEY_DB_POOL_MAX="2",
        PARLEY_RATE_PER_SECOND="10000",
        PARLEY_RATE_BURST="10000",
    ) as live:
        schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
        ann = signup(live.base_url, "ann")
        api = Api(live.base_url, schema, token=_token_for(live, schema, ann))
        api.call("POST", "/rooms", expect=201, json={"title": "Busy", "room": "busy"})
        token = api.http.headers["Authorization"]

        def worker(n: int) -> list[int]:
            with httpx.Client(base_url=live.base_url, headers={"Authorization": token}, timeout=30) as http:
                seqs = []
                for i in range(10):
                    r = http.post("/api/v1/rooms/busy/messages", json={"cid": f"w{n}-{i}", "body": f"{n}/{i}"})
                    assert r.status_code == 201, r.text
                    seqs.append(r.json()["seq"])
                return seqs

        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            results = list(pool.map(worker, range(30)))
        seqs = sorted(seq for part in results for seq in part)
        assert seqs == list(range(1, 301))
        for part in results:
            assert part == sorted(part)  # one client's posts keep their order
        batches = live.metrics()
        count = batches.get('parley_batch_size_count{queue="post"}', 0)
        assert 0 < count < 300, batches
        api.close()
