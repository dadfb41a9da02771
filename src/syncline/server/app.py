"""The FastAPI application: token auth on every route, JSON under ``/api``, the bundled pages.

Routes only translate HTTP to calls of the capability functions (``timeline``, ``inventory``,
``annotate.labels``, ``annotate.grading``, ``catalog.views``) and back; they hold no logic.
Catalog writes go through one writer thread that groups what arrives together into one commit
(``server.writer``): twenty annotators saving at once make a few commits, not a race for
table versions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from syncline.annotate.grading import grade_labels
from syncline.annotate.labels import write_labels
from syncline.project import Project
from syncline.server.auth import COOKIE, Principal, Tokens
from syncline.server.writer import GroupWriter

STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


def principal(request: Request) -> Principal:
    """The caller, from the bearer token or the login cookie; 401 otherwise."""
    tokens: Tokens = request.app.state.tokens
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
    who = tokens.lookup(token)
    if who is None:
        raise HTTPException(401, "not logged in: open the login URL that `syncline serve` printed")
    return who


def project_of(request: Request) -> Project:
    p: Project = request.app.state.project
    return p


def writer_of(request: Request) -> GroupWriter:
    w: GroupWriter = request.app.state.writer
    return w


Who = Annotated[Principal, Depends(principal)]
Proj = Annotated[Project, Depends(project_of)]
Writer = Annotated[GroupWriter, Depends(writer_of)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]  # a page's first row (DuckDB's BIGINT would overflow)
Limit = Annotated[int, Query(ge=1, le=500)]


def _label_key(lab: dict[str, Any]) -> tuple[Any, ...]:
    """Labels that may overwrite each other: the same annotator, field and shape instance (the
    target may be named by ID or by span, so it is left out: such requests just wait a commit)."""
    return (lab.get("field"), lab.get("annotator"), lab.get("instance"))


def _static(name: str) -> str:
    return resources.files("syncline.server").joinpath("static", name).read_text(encoding="utf-8")


def create_app(project: Project, tokens: Tokens) -> FastAPI:
    from syncline.server.routes import annotate, browse, media

    writer = GroupWriter({
        "labels": (lambda rows: write_labels(project, rows), _label_key),
        # a fix is a label by the grader on the target: two fixes of one grader must not share a commit
        "grades": (lambda rows: grade_labels(project, rows), lambda g: g.get("grader")),
    })

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()  # what is queued is written; later requests are refused, not left waiting

    app = FastAPI(title="syncline", version="1", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.project = project
    app.state.tokens = tokens
    app.state.writer = writer

    @app.get("/login", include_in_schema=False)
    def login(token: str = "") -> Response:
        if tokens.lookup(token) is None:
            return HTMLResponse("<p>This login link is not valid (the server makes new ones when it restarts).</p>",
                                status_code=401)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return resp

    @app.get("/", include_in_schema=False)
    def index(who: Who) -> Response:
        return HTMLResponse(_static("index.html"), headers={"cache-control": "no-store"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str, who: Who) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return Response(_static(name), media_type=STATIC[name])

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(who: Who) -> dict[str, Any]:
        return app.openapi()

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    for module in (browse, media, annotate):
        app.include_router(module.router, prefix="/api", dependencies=[Depends(principal)])
    return app


def login_urls(tokens: Tokens, host: str, port: int) -> dict[str, str]:
    return {name: f"http://{host}:{port}/login?token={tok}" for name, tok in tokens.tokens_of().items()}


def serve(root: Path, *, port: int = 8765, echo: Any = print) -> None:
    """Start the app on 127.0.0.1 (only) and print one login URL per person."""
    import uvicorn

    from syncline.server.auth import issue_tokens

    project = Project.open(root)
    tokens = issue_tokens(project)
    app = create_app(project, tokens)
    for name, url in login_urls(tokens, "127.0.0.1", port).items():
        echo(f"{name:>16}: {url}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
