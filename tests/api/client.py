"""An HTTP client for the API that checks every answer against the server's own OpenAPI schema."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema

PREFIX = "/api/v1"


class Schema:
    """/api/v1/openapi.json, and a validator for any operation's answer."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[tuple[str, str, int]] = set()

    def check(self, method: str, template: str, status: int, body: Any) -> None:
        operation = self.document["paths"][PREFIX + template][method.lower()]
        responses = operation["responses"]
        assert str(status) in responses, f"{method} {template} answered {status}, not in the schema"
        content = responses[str(status)].get("content")
        if content is None:
            assert body in (None, b"", ""), f"{method} {template} {status}: the schema says no body"
        else:
            # "#/components/schemas/X" refs resolve against the components carried alongside
            schema = {**content["application/json"]["schema"], "components": self.document["components"]}
            jsonschema.Draft202012Validator(schema).validate(body)
        self.checked.add((method.upper(), template, status))


class Api:
    def __init__(self, base_url: str, schema: Schema, *, token: str | None = None, cookies: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if cookies:
            headers["Cookie"] = cookies
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=15)
        self.schema = schema

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        template: str,
        *,
        expect: int | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
        **path: Any,
    ) -> Any:
        """Call ``template`` (``/rooms/{room}``) with ``path`` filled in; check the status and
        validate the body against the operation's schema for that status. Returns the body.
        ``files`` sends ``multipart/form-data`` (httpx's ``files``)."""
        url = PREFIX + re.sub(r"\{(\w+)\}", lambda m: str(path[m.group(1)]), template)
        response = self.http.request(method, url, json=json, params=params, headers=headers, files=files)
        self.last = response
        body = response.json() if response.content else None
        if expect is not None:
            assert response.status_code == expect, (method, url, response.status_code, body)
        self.schema.check(method, template, response.status_code, body)
        return body

    def error(self, method: str, template: str, expect: int, want: str, /, **kwargs: Any) -> dict[str, Any]:
        """Call, expecting the error ``want`` (protocol v1's code) with HTTP status ``expect``."""
        body = self.call(method, template, expect=expect, **kwargs)
        assert body["error"]["code"] == want, body
        return dict(body["error"])


def token_api(base_url: str, schema: Schema, session: Any) -> Api:
    """An API client with a bearer token made over the API with a signed-in browser session
    (``tests.support.http.Session``) and its CSRF token."""
    browser = Api(base_url, schema, cookies=session.cookie_header())
    csrf = next(c.value for c in session.jar if c.name == "csrftoken")
    made = browser.call("POST", "/tokens", expect=201, json={"name": "bot"}, headers={"X-CSRFToken": csrf})
    browser.close()
    return Api(base_url, schema, token=made["token"])
