"""HTTP for the local service: a Starlette app served by uvicorn in a thread of this process.

Why these: uvicorn is the most used ASGI server and Starlette the toolkit under FastAPI, both well
kept; uvicorn runs in a plain thread (it touches no signal handler off the main thread), so the
CLI's Ctrl+C and the wizard's exit stop it the same way; Starlette answers each request in its
thread pool, where the blocking local job operations belong. Imported only by `--serve`.

Paths: the scoring URI's `/jobs` (POST invokes, GET lists) and `/jobs/{name}`, and the same under
the endpoint's data-plane path (`/subscriptions/.../batchEndpoints/{endpoint}/jobs`, which
azure-ai-ml's list_jobs calls), matched case-insensitively as Azure does.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

from engine.errors import AmlBatchError
from engine.serve_api import ApiError, endpoint_id


class PortTaken(AmlBatchError):
    """The port is in use (the wizard then takes any free one)."""


def make_app(service: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def answer(error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    async def jobs(request: Request) -> JSONResponse:
        rest = request.path_params.get("rest")
        name = request.path_params.get("name")
        if rest is not None:  # the data-plane form: /subscriptions/.../batchEndpoints/{ep}/jobs[/{name}]
            base = f"{endpoint_id(service.profile)}/jobs".lower()
            path = "/subscriptions/" + rest.rstrip("/")
            if path.lower() == base:
                name = None
            elif path.lower().startswith(base + "/") and "/" not in path[len(base) + 1:]:
                name = path[len(base) + 1:]
            else:
                return answer(ApiError(404, "NotFound", f"No batch endpoint jobs at {request.url.path}."))
        if not service.authorized(request.headers.get("authorization")):
            return answer(ApiError(401, "Unauthorized", "Missing or invalid bearer token: send the token "
                                                        "amlbatch --serve printed (Authorization: Bearer ...)."))
        try:
            if request.method == "POST" and name is None:
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "UserError", "The request body is not valid JSON.") from None
                deployment = request.headers.get("azureml-model-deployment")
                return JSONResponse(await run_in_threadpool(service.invoke, body, deployment))
            if request.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}.")
            found = service.list_jobs if name is None else (lambda: service.get(name))
            return JSONResponse(await run_in_threadpool(found))
        except ApiError as error:
            return answer(error)
        except Exception as exc:  # noqa: BLE001 - the caller gets the reason in Azure's shape, never a traceback
            service.say(f"{request.method} {request.url.path} failed: {type(exc).__name__}: {exc}")
            return answer(ApiError(500, "InternalServerError", f"{type(exc).__name__}: {exc}"))

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 404)
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "BadRequest")
        return answer(ApiError(status, code, f"No such operation: {request.method} {request.url.path}."))

    routes = [Route("/jobs", jobs, methods=["GET", "POST"]), Route("/jobs/{name}", jobs, methods=["GET", "POST"]),
              Route("/subscriptions/{rest:path}", jobs, methods=["GET", "POST"])]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


class HttpServer:
    """uvicorn on a socket bound here (port 0: any free port), in a daemon thread."""

    def __init__(self, service: Any, host: str, port: int) -> None:
        self.service, self.host, self.port = service, host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen and serve; returns the port once requests are answered."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sys.platform != "win32":  # a restart may bind again at once (Windows would let two share it)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise PortTaken(f"--port {self.port}: cannot listen on {self.host}:{self.port} "
                            f"({exc.strerror or exc}); choose another port with --port N") from None
        port = sock.getsockname()[1]
        # log_config=None: uvicorn leaves the process's logging alone; no access log on the terminal
        config = uvicorn.Config(make_app(self.service), log_config=None, access_log=False, log_level="warning",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="serve-http", daemon=True)
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.02)
        if not self._server.started:
            raise AmlBatchError(f"the local service could not start on {self.host}:{port}")
        return port

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
