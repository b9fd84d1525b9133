"""The labeling app's HTTP side: routes to a :class:`~.session.LabelSession`, and the guard in front of them.

Routes (JSON in and out; every error is ``{"error": "..."}`` with a 4xx/5xx status and changes nothing)::

    GET  /                      the page (page.html)
    GET  /api/state             the live panel: phase, counts per class, estimated accuracy, model version, map colours
    GET  /api/map               the 2-D map's points (rows, x, y), fixed for the session
    GET  /api/next              the document to label now, leased to this client, with the model's prediction
    POST /api/label             {"id": "17", "label": "sports"} -> stored, then {"next": the next document}
    POST /api/skip              {"id": "17"}
    POST /api/undo              {} -> this client's last label or skip reverted; that document comes back
    GET  /api/export?format=F   the labels as a download (jsonl, csv, prodigy, labelstudio)
    POST /api/save-model        the current classifier written to the session's --save-model-to folder

A client names itself with the ``X-Client-Id`` header (the page makes one per tab): leases and undo belong to
it. The guard, before any route: requests whose ``Host`` is not this server's are refused (a web page
elsewhere cannot reach the app through DNS rebinding); with a token (``--host`` not loopback) every request
must carry it - ``X-Token`` header, ``Authorization: Bearer``, or ``?token=`` - or gets 401; bodies above
``max_body`` bytes get 413 before they are read whole; a POST must be ``application/json`` (so another site's
form cannot post to it).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
from importlib import resources

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from shoestring.errors import ArtifactError, ShoestringError

log = logging.getLogger("shoestring")

MAX_BODY = 64 * 1024
_CLIENT = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class ApiError(Exception):
    """A request refused before it reaches the session (bad JSON, a missing field)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``: an address only this machine can reach."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_ok(expected: str | None, headers: dict, query: dict) -> bool:
    """Whether a request carries the access token: the ``X-Token`` header, ``Authorization: Bearer TOKEN``, or
    the ``token`` query parameter (the URL printed at start). No token set: every request passes."""
    if expected is None:
        return True
    auth = headers.get("authorization", "")
    got = headers.get("x-token") or (auth[7:] if auth.lower().startswith("bearer ") else None) or query.get("token")
    return bool(got) and secrets.compare_digest(got.encode("utf-8", "replace"), expected.encode("utf-8"))


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]")[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """ASGI middleware: the Host check, the token, the body size limit and the JSON content type (see the
    module docstring). ``allowed_hosts``: the host names requests may be addressed to (None: any)."""

    def __init__(self, app, *, token: str | None = None, allowed_hosts=None, max_body: int = MAX_BODY):
        self.app, self.token, self.max_body = app, token, max_body
        self.allowed_hosts = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from urllib.parse import parse_qs

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.allowed_hosts is not None and _hostname(headers.get("host", "")).lower() not in self.allowed_hosts:
            return await _reply(scope, receive, send, 403, "this server answers only requests addressed to "
                                f"{', '.join(sorted(self.allowed_hosts))}")
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        if not token_ok(self.token, headers, query):
            return await _reply(scope, receive, send, 401, "this server needs its access token: open the URL "
                                "printed at start (it ends in ?token=...), or send the X-Token header")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await _reply(scope, receive, send, 413, f"the request body is over {self.max_body} bytes")
        if scope["method"] == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return await _reply(scope, receive, send, 415, "send the request body as application/json")
        body, more = b"", True
        while more:  # read it here, with the cap, so a body without Content-Length cannot grow unbounded
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.max_body:
                return await _reply(scope, receive, send, 413, f"the request body is over {self.max_body} bytes")
        done = False

        async def replay():
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _reply(scope, receive, send, status: int, message: str) -> None:
    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def create_app(session, *, token: str | None = None, allowed_hosts=None, max_body: int = MAX_BODY):
    """The FastAPI app serving ``session`` (a :class:`~.session.LabelSession`)."""
    page = resources.files("shoestring.apps.label").joinpath("page.html").read_text(encoding="utf-8")
    app = FastAPI(title="shoestring label", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, token=token, allowed_hosts=allowed_hosts, max_body=max_body)

    @app.exception_handler(ShoestringError)
    async def _shoestring_error(request, e: ShoestringError):
        status = getattr(e, "status", None) or (500 if isinstance(e, ArtifactError) else 400)
        return JSONResponse({"error": str(e)}, status_code=status)

    @app.exception_handler(ApiError)
    async def _api_error(request, e: ApiError):
        return JSONResponse({"error": str(e)}, status_code=e.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request, e: HTTPException):
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, e: RequestValidationError):
        return JSONResponse({"error": "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())},
                            status_code=400)

    async def body(request: Request) -> dict:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ApiError(400, f"the request body is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ApiError(400, 'the request body must be a JSON object, such as {"id": "17", "label": "sports"}')
        return data

    def client(request: Request) -> str:
        c = request.headers.get("x-client-id") or request.query_params.get("client") or "anonymous"
        if not _CLIENT.match(c):
            raise ApiError(400, "the X-Client-Id header must be 1-64 letters, digits or ._:-")
        return c

    def field(data: dict, name: str):
        if name not in data:
            raise ApiError(400, f"the request body has no {name!r} field")
        return data[name]

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse(page, headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                       "connect-src 'self'; img-src data:; form-action 'none'; "
                                       "frame-ancestors 'none'"})

    @app.get("/api/state")
    def state():
        return session.state()

    @app.get("/api/map")
    def map_layout():
        return session.map_layout()

    @app.get("/api/next")
    def next_doc(who: str = Depends(client)):
        return {"next": session.next(who)}

    @app.post("/api/label")
    def label(data: dict = Depends(body), who: str = Depends(client)):
        stored = session.label(who, field(data, "id"), field(data, "label"))
        return {"stored": stored, "next": session.next(who)}

    @app.post("/api/skip")
    def skip(data: dict = Depends(body), who: str = Depends(client)):
        stored = session.skip(who, field(data, "id"))
        return {"stored": stored, "next": session.next(who)}

    @app.post("/api/undo")
    def undo(data: dict = Depends(body), who: str = Depends(client)):
        return session.undo(who)

    @app.get("/api/export")
    def export(format: str = "jsonl"):
        from shoestring.tasks.active.formats import MEDIA_TYPES

        content, name = session.export(format)
        return Response(content, media_type=MEDIA_TYPES[format],
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    @app.post("/api/save-model")
    def save_model(data: dict = Depends(body)):
        return session.save_model()

    return app
