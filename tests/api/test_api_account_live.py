"""The settings page's, the upload route's and ``typing``'s capabilities over /api/v1, against a real server
(uvicorn, bin/serve) over real sockets, each answer validated against /api/v1/openapi.json:
profile, email and digest, picture, password, and file uploads sent with a post."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image

from tests.api.client import Api, Schema, token_api
from tests.support.http import Session, session, signup
from tests.support.server import Databases, LiveServer, running

pytestmark = pytest.mark.live

# Called here rather than in test_api_live.py (which leaves them to this module).
COVERED = frozenset(
    {
        ("PATCH", "/me"),
        ("PUT", "/me/avatar"),
        ("DELETE", "/me/avatar"),
        ("PUT", "/me/password"),
        ("POST", "/rooms/{room}/files"),
        ("POST", "/rooms/{room}/typing"),
    }
)
PASSWORD = "correct-horse-battery-9"


def _csrf(s: Session) -> str:
    return next(c.value for c in s.jar if c.name == "csrftoken")


def _png(size: tuple[int, int] = (40, 30), *, noise: bool = False) -> bytes:
    """A PNG; with ``noise``, one that does not compress (about 3 bytes a pixel)."""
    out = io.BytesIO()
    if noise:
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    else:
        Image.new("RGB", size, (200, 60, 20)).save(out, "PNG")
    return out.getvalue()


def _login(live: LiveServer, username: str, password: str) -> Session:
    s = session(live.base_url)
    s.post_form("/accounts/login/", {"username": username, "password": password})
    return s


def _profile(live: LiveServer, ann: Api, bob: Api) -> None:
    me = ann.call("GET", "/me", expect=200)
    # the digest is on by default (it mails only once an email is given)
    assert (me["display_name"], me["email"], me["email_digest"], me["avatar"]) == ("", "", True, None)
    assert me["name"] == "ann"
    me = ann.call("PATCH", "/me", expect=200, json={"display_name": "  Ann Archer "})
    assert (me["display_name"], me["name"], me["email"]) == ("Ann Archer", "Ann Archer", "")
    assert ann.call("GET", "/me", expect=200)["name"] == "Ann Archer"
    # the page's form rules, field by field; a refused email changes nothing else
    bad = ann.error("PATCH", "/me", 400, "bad_request", json={"display_name": "x" * 65})
    assert bad["detail"].startswith("display_name:"), bad
    bad = ann.error("PATCH", "/me", 400, "bad_request", json={"email": "not an address", "display_name": "Zed"})
    assert bad["detail"].startswith("email:"), bad
    assert ann.call("GET", "/me", expect=200)["display_name"] == "Ann Archer"
    ann.error("PATCH", "/me", 400, "bad_request", json={"email_digest": "sometimes"})
    me = ann.call("PATCH", "/me", expect=200, json={"email": "ann@example.com", "email_digest": True})
    assert (me["email"], me["email_digest"]) == ("ann@example.com", True)
    bob.error("PATCH", "/me", 400, "bad_request", json={"email": "ANN@example.com"})  # taken, whatever its case
    me = ann.call("PATCH", "/me", expect=200, json={"email_digest": False})
    assert (me["email"], me["email_digest"]) == ("ann@example.com", False)  # the address stays
    me = ann.call("PATCH", "/me", expect=200, json={"display_name": ""})
    assert me["name"] == "ann"
    ann.call("PATCH", "/me", expect=200, json={"display_name": "Ann Archer"})


def _avatar(live: LiveServer, ann: Api) -> None:
    me = ann.call("PUT", "/me/avatar", expect=200, files={"file": ("me.png", _png(), "image/png")})
    assert me["avatar"] and me["avatar"].endswith(".webp"), me
    picture = httpx.get(live.base_url + me["avatar"])
    assert picture.status_code == 200 and picture.content[:4] == b"RIFF", picture.status_code
    assert ann.call("GET", "/me", expect=200)["avatar"] == me["avatar"]
    ann.error("PUT", "/me/avatar", 415, "bad_request", files={"file": ("me.png", b"not a picture", "image/png")})
    big = ann.error(
        "PUT", "/me/avatar", 413, "too_large", files={"file": ("big.png", _png((100, 100), noise=True), "image/png")}
    )
    assert "at most" in big["detail"], big
    ann.error("PUT", "/me/avatar", 400, "bad_request", files={"other": ("me.png", _png(), "image/png")})
    broken = {"Content-Type": "multipart/form-data"}  # no boundary: Django cannot parse it
    for method, template in (("PUT", "/me/avatar"), ("POST", "/rooms/lobby/files")):
        answer = ann.http.request(method, "/api/v1" + template, content=b"--yyy\r\n\r\n", headers=broken)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request", answer.text
    assert ann.call("GET", "/me", expect=200)["avatar"] == me["avatar"]  # refusals kept the picture
    assert ann.call("DELETE", "/me/avatar", expect=200)["avatar"] is None
    assert ann.call("GET", "/me", expect=200)["avatar"] is None


def _password(live: LiveServer, schema: Schema, ann_s: Session, ann: Api) -> None:
    """Over the session: it stays signed in (a new cookie), another session ends, tokens work."""
    browser = Api(live.base_url, schema, cookies=ann_s.cookie_header())
    other = Api(live.base_url, schema, cookies=_login(live, "ann", PASSWORD).cookie_header())
    assert other.call("GET", "/me", expect=200)["auth"] == "session"
    csrf = {"X-CSRFToken": _csrf(ann_s)}
    new = "another-stapler-horse-7"
    browser.error("PUT", "/me/password", 403, "forbidden", json={"old_password": PASSWORD, "new_password": new})
    wrong = browser.error(
        "PUT", "/me/password", 400, "bad_request", json={"old_password": "nope", "new_password": new}, headers=csrf
    )
    assert wrong["detail"].startswith("old_password:"), wrong
    weak = browser.error(
        "PUT", "/me/password", 400, "bad_request", json={"old_password": PASSWORD, "new_password": "abc"}, headers=csrf
    )
    assert weak["detail"].startswith("new_password2:"), weak  # Django's field: the repeat is checked
    browser.call("PUT", "/me/password", expect=204, json={"old_password": PASSWORD, "new_password": new}, headers=csrf)
    cookie = browser.last.cookies.get("sessionid")
    assert cookie, browser.last.headers
    renewed = Api(live.base_url, schema, cookies=f"sessionid={cookie}")
    assert renewed.call("GET", "/me", expect=200)["username"] == "ann"
    other.error("GET", "/me", 401, "not_authenticated")
    assert ann.call("GET", "/me", expect=200)["auth"] == "token"
    ann.error("PUT", "/me/password", 400, "bad_request", json={"old_password": PASSWORD, "new_password": "x-" + new})
    assert "sessionid" in {c.name for c in _login(live, "ann", new).jar}
    for client in (browser, other, renewed):
        client.close()


async def _files_posted(live: LiveServer, ann: Api, bob_cookie: str) -> None:
    """An upload over the API, then a post with its id: a /ws/ subscriber sees the file."""
    async with websockets.connect(
        live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": bob_cookie}
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "room": "lobby"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
        loop = asyncio.get_running_loop()

        def upload_and_post() -> tuple[dict[str, Any], dict[str, Any]]:
            ref = ann.call(
                "POST", "/rooms/{room}/files", expect=201, files={"file": ("notes.txt", b"agenda\n")}, room="lobby"
            )
            ack = ann.call(
                "POST",
                "/rooms/{room}/messages",
                expect=201,
                json={"cid": "with-file", "body": "", "files": [ref["id"]]},
                room="lobby",
            )
            return ref, ack

        ref, ack = await loop.run_in_executor(None, upload_and_post)
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame.get("type") == "event" and frame.get("kind") == "message.posted":
                break
        assert frame["seq"] == ack["seq"] and frame["files"] == [ref], frame
        assert frame["user"]["name"] == "Ann Archer"  # the name set over the API


async def _typing(live: LiveServer, ann: Api, bob: Api, bob_cookie: str) -> None:
    """POST /typing reaches a /ws/ subscriber as the frame does; a second at once is dropped."""
    async with websockets.connect(
        live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": bob_cookie}
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "room": "lobby"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
        loop = asyncio.get_running_loop()
        for _ in range(2):
            await loop.run_in_executor(None, lambda: ann.call("POST", "/rooms/{room}/typing", expect=204, room="lobby"))
        frames = []
        with contextlib.suppress(TimeoutError):
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 1.0)))
        typing = [f for f in frames if f.get("type") == "typing"]
        assert len(typing) == 1 and typing[0]["room"] == "lobby", frames
        assert typing[0]["user"]["username"] == "ann"
    bob.error("POST", "/rooms/{room}/typing", 404, "not_found", room="secret")
    bob.error("POST", "/rooms/{room}/typing", 400, "bad_request", room="Not_A_Slug!")


def _files(live: LiveServer, ann: Api, bob: Api, nobody: Api, bob_s: Session) -> None:
    ref = ann.call("POST", "/rooms/{room}/files", expect=201, files={"file": ("a.txt", b"hello\n")}, room="lobby")
    assert (ref["name"], ref["size"], ref["type"]) == ("a.txt", 6, "text/plain; charset=utf-8"), ref
    assert "thumb" not in ref and "width" not in ref  # as the page's upload route answers
    served = ann.http.get(ref["url"])
    assert served.status_code == 200 and served.content == b"hello\n"
    picture = ann.call("POST", "/rooms/{room}/files", expect=201, files={"file": ("p.png", _png())}, room="lobby")
    assert (picture["width"], picture["height"], picture["type"]) == (40, 30, "image/png"), picture
    page = ann.http.post("/rooms/lobby/files", files={"file": ("a.txt", b"hello\n")}).json()
    assert {k: v for k, v in page.items() if k not in ("id", "url")} == {
        k: v for k, v in ref.items() if k not in ("id", "url")
    }  # the same service, the same ref
    ann.error("POST", "/rooms/{room}/files", 415, "bad_request", files={"file": ("x.html", b"<html>")}, room="lobby")
    ann.error("POST", "/rooms/{room}/files", 400, "bad_request", files={"file": ("e.txt", b"")}, room="lobby")
    ann.error("POST", "/rooms/{room}/files", 400, "bad_request", files={"other": ("a.txt", b"x")}, room="lobby")
    ann.error("POST", "/rooms/{room}/files", 413, "too_large", files={"file": ("b.txt", b"x" * 3000)}, room="lobby")
    ann.error("POST", "/rooms/{room}/files", 404, "not_found", files={"file": ("a.txt", b"x")}, room="nowhere")
    bob.error("POST", "/rooms/{room}/files", 404, "not_found", files={"file": ("a.txt", b"x")}, room="secret")
    nobody.error("POST", "/rooms/{room}/files", 401, "not_authenticated", files={"file": ("a", b"x")}, room="lobby")
    # a session needs the CSRF header, as every other write
    browser = Api(live.base_url, ann.schema, cookies=bob_s.cookie_header())
    browser.error("POST", "/rooms/{room}/files", 403, "forbidden", files={"file": ("a.txt", b"x")}, room="lobby")
    made = browser.call(
        "POST",
        "/rooms/{room}/files",
        expect=201,
        files={"file": ("b.txt", b"from bob\n")},
        headers={"X-CSRFToken": _csrf(bob_s)},
        room="lobby",
    )
    # someone else's upload cannot be sent
    ann.error(
        "POST",
        "/rooms/{room}/messages",
        404,
        "not_found",
        json={"cid": "x", "body": "", "files": [made["id"]]},
        room="lobby",
    )
    browser.close()
    asyncio.run(_files_posted(live, ann, bob_s.cookie_header()))


def _guest(live: LiveServer, schema: Schema) -> None:
    """A guest (a visitor of a room page) has no settings: sign up first."""
    visitor = session(live.base_url)
    visitor.get("/rooms/lobby/")
    guest = Api(live.base_url, schema, cookies=visitor.cookie_header())
    me = guest.call("GET", "/me", expect=200)
    assert me["guest"] is True and me["username"].startswith("guest-"), me
    csrf = {"X-CSRFToken": _csrf(visitor)}
    guest.error("PATCH", "/me", 403, "forbidden", json={"display_name": "Not a guest"}, headers=csrf)
    guest.error("PUT", "/me/avatar", 403, "forbidden", files={"file": ("me.png", _png(), "image/png")}, headers=csrf)
    guest.error("DELETE", "/me/avatar", 403, "forbidden", headers=csrf)
    guest.error("PUT", "/me/password", 403, "forbidden", json={"old_password": "", "new_password": "x"}, headers=csrf)
    assert guest.call("GET", "/me", expect=200)["name"] == me["name"]
    guest.close()


def _exercise(live: LiveServer) -> None:
    schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
    bodies = {("PATCH", "/me"): "application/json", ("PUT", "/me/password"): "application/json"}
    bodies |= {("PUT", "/me/avatar"): "multipart/form-data", ("POST", "/rooms/{room}/files"): "multipart/form-data"}
    for (method, template), kind in bodies.items():
        body = schema.document["paths"]["/api/v1" + template][method.lower()]["requestBody"]["content"]
        assert list(body) == [kind], body
    ann_s, bob_s = signup(live.base_url, "ann"), signup(live.base_url, "bob")
    ann, bob = token_api(live.base_url, schema, ann_s), token_api(live.base_url, schema, bob_s)
    nobody = Api(live.base_url, schema, token="pt_forged")
    nobody.error("PATCH", "/me", 401, "not_authenticated", json={"display_name": "who"})
    ann.call("POST", "/rooms", expect=201, json={"title": "Lobby", "room": "lobby"})
    ann.call("POST", "/rooms", expect=201, json={"title": "Secret", "room": "secret", "visibility": "private"})
    bob.call("POST", "/rooms/{room}/join", expect=200, room="lobby")

    _profile(live, ann, bob)
    _avatar(live, ann)
    _files(live, ann, bob, nobody, bob_s)
    asyncio.run(_typing(live, ann, bob, bob_s.cookie_header()))
    _password(live, schema, ann_s, ann)
    _guest(live, schema)

    missing = COVERED - {(m, t) for m, t, _ in schema.checked}
    assert not missing, f"endpoints this module should call: {sorted(missing)}"
    for client in (ann, bob, nobody):
        client.close()


def test_account_and_uploads_over_http(live_databases: Databases, workdir: Path) -> None:
    with running(
        live_databases,
        workdir,
        PARLEY_ATTACHMENTS_DIR=str(workdir / "attachments"),
        PARLEY_MEDIA_ROOT=str(workdir / "media"),
        PARLEY_AVATAR_MAX_BYTES="20000",
        PARLEY_UPLOAD_MAX_BYTES="2048",
    ) as live:
        _exercise(live)
