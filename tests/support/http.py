"""A tiny HTTP client with a cookie jar, for signing up and logging in over a real socket."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass
class Session:
    base_url: str
    jar: http.cookiejar.CookieJar
    opener: urllib.request.OpenerDirector

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return response.status, response.read().decode()

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """GET the form for its CSRF token, then POST it. Returns (status, final url, body)."""
        self.get(path)
        token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers={"Referer": self.base_url + path})
        with self.opener.open(request, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()


def session(base_url: str) -> Session:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    return Session(base_url=base_url, jar=jar, opener=opener)


def signup(base_url: str, username: str, password: str = "correct-horse-battery-9") -> Session:
    """Sign up through the real form; the returned session is signed in."""
    s = session(base_url)
    status, url, body = s.post_form(
        "/accounts/signup/", {"username": username, "password1": password, "password2": password}
    )
    if "sessionid" not in {c.name for c in s.jar}:
        errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S)
        raise AssertionError(f"signup of {username!r} failed ({status} {url}): {errors}")
    return s
