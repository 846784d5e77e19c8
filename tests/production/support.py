"""The production path as an operator runs it: the documented command and environment, read from
docs/deploy.md, and an HTTP client that talks to a process the way a TLS proxy in front of it
would (Host of an allowed host, X-Forwarded-Proto: https, cookies marked Secure kept anyway)."""

from __future__ import annotations

import http.client
import re
import shlex
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
START_SECTION = "## Start a production process"
HOST_NAME = "chat.example.com"
ORIGIN = f"https://{HOST_NAME}"
HASHED_STATIC = re.compile(r"^/static/.+\.[0-9a-f]{12}\.[a-z0-9]+$")


@dataclass(frozen=True)
class Documented:
    exports: dict[str, str]  # name -> the value the doc shows
    command: str


def documented_start() -> Documented:
    """The first ``sh`` block of the start section: its ``export`` lines and its one command."""
    text = DEPLOY_DOC.read_text()
    assert START_SECTION in text, f"docs/deploy.md has no {START_SECTION!r} section"
    section = text.split(START_SECTION, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the start section of docs/deploy.md has no ```sh block"
    exports: dict[str, str] = {}
    commands: list[str] = []
    for raw in match.group(1).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            for assignment in shlex.split(line[len("export ") :]):
                name, _, value = assignment.partition("=")
                exports[name] = value
        else:
            commands.append(line)
    assert len(commands) == 1, f"expected one command after the exports, found {commands}"
    return Documented(exports=exports, command=commands[0])


@dataclass
class Reply:
    status: int
    headers: Message
    body: str

    @property
    def location(self) -> str:
        return str(self.headers.get("Location", ""))


@dataclass
class ProxiedClient:
    """One browser behind the proxy, talking to one process on 127.0.0.1:port."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None, proxied: bool = True) -> Reply:
        headers = {"Host": HOST_NAME, "User-Agent": "parley-production-test"}
        if proxied:
            headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers.update(
                {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN, "Referer": ORIGIN + path}
            )
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(response.status, response.headers, data.decode(errors="replace"))

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def page(self, path: str) -> str:
        reply = self.get(path)
        assert reply.status == 200, f"GET {path}: {reply.status} {reply.location} {reply.body[:300]}"
        return reply.body

    def submit(self, path: str, fields: dict[str, str]) -> Reply:
        """GET the form (for its CSRF cookie), then POST it as a browser on the public origin would."""
        self.page(path)
        token = self.cookies.get("csrftoken", "")
        assert token, f"GET {path} set no csrftoken cookie"
        return self.request("POST", path, form={"csrfmiddlewaretoken": token, **fields})


def static_urls(html: str) -> list[str]:
    return sorted(set(re.findall(r"""(?:href|src)=["'](/static/[^"']+)["']""", html)))
