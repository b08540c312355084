"""The explorer's web application: a JSON API over :class:`~graphalign.serve.explorer.Explorer` and the page.

Built on FastAPI (the ``serve`` extra: ``pip install "graphalign[serve]"``);
the OpenAPI schema is at ``/openapi.json`` (no ``/docs`` page: Swagger UI would load
from a CDN). Every endpoint answers JSON, bad
requests included (``{"error": ...}`` with a 4xx status, never a traceback);
images are served by node id only; uploads are capped at
:data:`MAX_UPLOAD_BYTES` (a longer body is refused before it is read) and decoded
with the library's checks (decompression bombs refused). Nothing is written to the run folder but the cached map.

Endpoints (``GET`` unless said): ``/api/summary``, ``/api/search?text=&k=``,
``POST /api/search/image`` (multipart ``file``), ``/api/node?id=``,
``/api/neighbors?id=&k=``, ``/api/graph?id=&hops=&limit=``, ``/api/image?id=``,
``/api/metrics``, ``/api/map``; the page is ``/``.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run time, and
# its types (UploadFile, ...) are imported inside create_app, where the serve extra is needed.
import logging
import tempfile
import urllib.parse
from importlib import resources
from pathlib import Path
from typing import Any

from graphalign.errors import CheckpointError, GraphAlignError, GraphValidationError
from graphalign.image_io import open_image_rgb
from graphalign.serve.explorer import GRAPH_NODES, Explorer, NodeNotFound

logger = logging.getLogger(__name__)

__all__ = ["create_app", "MAX_UPLOAD_BYTES", "MAX_K", "MAX_HOPS"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest image upload accepted (bytes)."""
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
"""Largest request body read (the upload and its multipart framing); a longer one is refused with 413 from
its ``Content-Length`` before any of it is read, or as soon as a body without one passes it."""


class _LimitBody:
    """ASGI middleware: no request body over ``limit`` bytes is read (nor spooled to a temporary file).

    A body announced longer by its ``Content-Length`` is refused unread; one without (chunked) is
    read here up to the limit, then refused, or handed on whole.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                await _too_large()(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server reads no more than Content-Length says
            return
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message.get("type") != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await _too_large()(scope, receive, send)
                return
            if not message.get("more_body"):
                break

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _too_large() -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": f"upload larger than {MAX_UPLOAD_BYTES:,} bytes"}, status_code=413)


MAX_K = 200
"""Most results per node type one request may ask for."""
MAX_HOPS = 3
"""Deepest graph neighbourhood one request may ask for."""


def _fastapi() -> Any:
    try:
        import fastapi
    except ImportError as error:
        raise GraphAlignError(
            'graphalign serve needs the serve extra: pip install "graphalign[serve]" (FastAPI, uvicorn)'
        ) from error
    return fastapi


def _static_dir() -> Path:
    return Path(str(resources.files("graphalign.serve") / "static"))


def create_app(explorer: Explorer) -> Any:
    """The FastAPI application of one run (see the module docstring).

    Example:
        >>> from fastapi.testclient import TestClient  # doctest: +SKIP
        >>> client = TestClient(create_app(Explorer.load("runs/demo")))  # doctest: +SKIP
        >>> client.get("/api/search", params={"text": "a cat"}).json()["concept"][0]  # doctest: +SKIP
        {'id': 'wn:02121620-n', 'type': 'concept', 'label': 'cat', 'score': 0.61}
    """
    fastapi = _fastapi()
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    app = fastapi.FastAPI(
        title="graphalign explorer",
        description="Queries of one trained graphalign run.",
        docs_url=None,  # Swagger UI loads from a CDN, blank offline; the schema is at /openapi.json
        redoc_url=None,
    )
    app.add_middleware(_LimitBody, limit=MAX_BODY_BYTES)
    _add_error_handlers(app)
    _add_search_routes(app, explorer)
    _add_node_routes(app, explorer)
    static = _static_dir()

    @app.get("/", include_in_schema=False)
    def page() -> Any:
        return FileResponse(static / "index.html")

    app.mount("/static", StaticFiles(directory=static), name="static")
    return app


def _add_error_handlers(app: Any) -> None:
    """Every error as ``{"error": ...}``: 404 unknown ids, 400 bad input, 405, 413, 422, 500 without a traceback
    (a damaged run file: 500 naming it)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(CheckpointError)
    async def _broken_run(request: Any, error: CheckpointError) -> Any:  # the run's file, not the request
        return JSONResponse({"error": str(error)}, status_code=500)

    @app.exception_handler(NodeNotFound)
    async def _not_found(request: Any, error: NodeNotFound) -> Any:
        return JSONResponse({"error": str(error)}, status_code=404)

    @app.exception_handler(GraphAlignError)
    async def _bad_request(request: Any, error: GraphAlignError) -> Any:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Any, error: RequestValidationError) -> Any:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": problems}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Any, error: HTTPException) -> Any:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Any, error: Exception) -> Any:
        logger.exception("unexpected error serving %s", request.url.path)
        return JSONResponse({"error": f"internal error ({type(error).__name__})"}, status_code=500)


def _check_utf8(query_string: bytes) -> None:
    """Refuses a query string whose escapes are not UTF-8 (the framework would search U+FFFD instead).

    Raises:
        GraphValidationError: Naming the parameter.
    """
    for pair in query_string.decode("latin-1").split("&"):
        name = pair.split("=", 1)[0]
        try:
            urllib.parse.unquote_to_bytes(pair.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            raise GraphValidationError(
                f"the query parameter {urllib.parse.unquote(name)!r} is not valid UTF-8 (percent-encode the text's "
                "UTF-8 bytes)"
            ) from None


def _add_search_routes(app: Any, explorer: Explorer) -> None:
    from fastapi import File, Query, Request, UploadFile

    @app.get("/api/search")
    def search(
        request: Request, text: str = Query(..., max_length=2000), k: int = Query(10, ge=1, le=MAX_K)
    ) -> dict[str, Any]:
        """The nearest nodes of each type to a new text."""
        _check_utf8(request.scope.get("query_string", b""))
        return explorer.search_text(text, k=k)

    @app.post("/api/search/image")
    async def search_image(file: UploadFile = File(...), k: int = Query(10, ge=1, le=MAX_K)) -> Any:
        """The nearest nodes of each type to an uploaded image (concepts and texts make its caption)."""
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            return _too_large()
        if not data:
            raise GraphValidationError("the uploaded file is empty")
        with tempfile.NamedTemporaryFile(suffix=".upload") as handle:
            handle.write(data)
            handle.flush()
            try:
                image = open_image_rgb(handle.name)
            except GraphAlignError as error:  # the message names the file: name the upload instead
                raise GraphValidationError(str(error).replace(handle.name, "upload")) from None
        return explorer.search_image(image, k=k)


def _add_node_routes(app: Any, explorer: Explorer) -> None:
    from fastapi import Query
    from fastapi.responses import Response

    @app.get("/api/summary")
    def summary() -> dict[str, Any]:
        """Node counts per type and the model."""
        return explorer.summary()

    @app.get("/api/node")
    def node(id: str = Query(..., max_length=1000)) -> dict[str, Any]:
        """A node's content and its part in the run's split."""
        return explorer.node(id)

    @app.get("/api/neighbors")
    def neighbors(id: str = Query(..., max_length=1000), k: int = Query(10, ge=1, le=MAX_K)) -> dict[str, Any]:
        """A node's nearest nodes of each type in the shared space."""
        return explorer.neighbors(id, k=k)

    @app.get("/api/graph")
    def graph(
        id: str = Query(..., max_length=1000),
        hops: int = Query(1, ge=0, le=MAX_HOPS),
        limit: int = Query(GRAPH_NODES, ge=1, le=GRAPH_NODES),
    ) -> dict[str, Any]:
        """A node's knowledge-graph neighbourhood as nodes and edges: at most ``limit`` neighbours (a hub's
        chosen by relation, then by their edges) and a bounded number of edges, with counts of what was left out."""
        return explorer.graph(id, hops=hops, limit=limit)

    @app.get("/api/image", response_class=Response)
    def image(id: str = Query(..., max_length=1000)) -> Any:
        """A PNG thumbnail of an image node, by its id."""
        return Response(explorer.thumbnail(id), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/metrics")
    def metrics() -> dict[str, Any]:
        """The run's metrics and training curve."""
        return explorer.metrics()

    @app.get("/api/map")
    def map_() -> dict[str, Any]:
        """2-D coordinates of every node (cached in the run folder)."""
        return explorer.map()
