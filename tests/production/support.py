"""The production path as an operator runs it: the documented command and environment, read from
docs/deploy.md, and an HTTP client that talks to a process the way a TLS proxy in front of it
would (Host of an allowed host, X-Forwarded-Proto: https, cookies marked Secure kept anyway)."""

from __future__ import annotations

import contextlib
import http.client
import re
import shlex
import ssl
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path

import psycopg

from tests.support.server import PG_ADMIN

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
NGINX_EXAMPLE = ROOT / "deploy" / "nginx.conf"
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
    """One browser behind the proxy, talking to one process on 127.0.0.1:port and adding the
    headers the proxy would; or, with ``tls``, to a real TLS proxy on that port (which adds them)."""

    port: int
    tls: ssl.SSLContext | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None, proxied: bool = True) -> Reply:
        headers = {"Host": HOST_NAME, "User-Agent": "parley-production-test"}
        if proxied and self.tls is None:
            headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers.update(
                {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN, "Referer": ORIGIN + path}
            )
        conn = (
            http.client.HTTPSConnection("127.0.0.1", self.port, timeout=20, context=self.tls)
            if self.tls is not None
            else http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        )
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


def insecure_tls_context() -> ssl.SSLContext:
    """For a proxy with a throw-away self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def static_urls(html: str) -> list[str]:
    return sorted(set(re.findall(r"""(?:href|src)=["'](/static/[^"']+)["']""", html)))


def nginx_config(workdir: Path, *, upstreams: list[int], http_port: int, https_port: int) -> Path:
    """deploy/nginx.conf, runnable here: a throw-away certificate, local ports instead of 80, 443
    and the systemd instances. Each substitution must find its line, so the example cannot drift
    away from what is tested. Returns the main configuration file (``nginx -p workdir -c it``)."""
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*openssl, "-subj", f"/CN={HOST_NAME}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = NGINX_EXAMPLE.read_text()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in upstreams)
    replacements = [
        (r"(?m)^    server 127\.0\.0\.1:800[12] .*\n", "", 2),
        (r"(?m)^upstream parley \{\n", "upstream parley {\n" + servers, 1),
        (r"(?m)^    listen 80;$", f"    listen 127.0.0.1:{http_port};", 1),
        (r"(?m)^    listen 443 ssl http2;.*$", f"    listen 127.0.0.1:{https_port} ssl http2;", 1),
        (r"(?m)^    listen \[::\]:(80|443 ssl http2);\n", "", 2),
        (rf"/etc/letsencrypt/live/{re.escape(HOST_NAME)}/fullchain\.pem", str(cert), 1),
        (rf"/etc/letsencrypt/live/{re.escape(HOST_NAME)}/privkey\.pem", str(key), 1),
    ]
    for pattern, replacement, expected in replacements:
        site, count = re.subn(pattern, lambda _m, r=replacement: r, site)
        assert count == expected, f"deploy/nginx.conf: {pattern!r} matched {count} times, expected {expected}"
    (workdir / "parley.conf").write_text(site)
    main = workdir / "nginx.conf"
    main.write_text(
        # root only reads the certificate and binds; workers as root reach the test's 0700 temp dirs
        f"user root;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {workdir}/parley.conf; }}\n"
    )
    return main


@contextlib.contextmanager
def new_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
