"""A local Hugging Face Hub-protocol HTTP server for tests, spoken to by the real `huggingface_hub` client.

No self-hostable Hub server can be installed on the project's machines, so tests of `push_to_hub` and of loading
from the Hub run against this one. It implements the part of the protocol `huggingface_hub` uses to create repos,
commit files (`upload_file`, `upload_folder`, `create_commit`: the pre-upload step answers "regular" so contents
travel base64-encoded in the NDJSON commit, with no LFS or Xet), read repo info, list trees, resolve and download
files (`hf_hub_download`, `snapshot_download`), manage branches and tags, and validate model-card YAML. Errors carry
the `X-Error-Code` headers the client maps to `RepositoryNotFoundError`, `RevisionNotFoundError` and
`EntryNotFoundError`. It binds to 127.0.0.1 only.

Two ways to point the client at it:

- in-process, through the explicit `endpoint=` argument that `HfApi`, `hf_hub_download` and `snapshot_download`
  accept (plus `cache_dir=` and `token=`);
- in a subprocess with `run_with_hub`, for code that reads the global endpoint (`transformers`/`peft`
  `from_pretrained`, `HF_HUB_OFFLINE`), since `huggingface_hub` reads `HF_ENDPOINT` and `HF_HUB_OFFLINE` once, at
  import time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .hub_routes import HubRequestMixin
from .hub_store import HubStore

__all__ = ["LocalHubServer", "local_hub", "run_with_hub", "hub_env"]

_LOOPBACK = "127.0.0.1"


class _HubRequestHandler(HubRequestMixin, BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the client's pooled connections alive; every response therefore sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1.0"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        # Split before unquoting: revisions arrive quoted with `safe=""`, so a branch "a/b" is one segment.
        segments = [unquote(segment) for segment in split.path.strip("/").split("/")]
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        self.route(method, segments, query, self._read_body())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: HubStore, user: str, verbose: bool):
        super().__init__((_LOOPBACK, 0), _HubRequestHandler)
        self.store = store
        self.user = user
        self.verbose = verbose

    @property
    def endpoint(self) -> str:
        return f"http://{_LOOPBACK}:{self.server_address[1]}"


class LocalHubServer:
    """A Hub-protocol server on 127.0.0.1, on a free port, serving files kept in a directory.

    Args:
        root (`str` or `Path`, *optional*): where blobs are stored; a temporary directory (removed on `stop`) when
            not given.
        user (`str`, *optional*, defaults to `"local-user"`): the account every token authenticates as; the
            namespace of repos created without one.
        verbose (`bool`, *optional*, defaults to `False`): log each request to stderr.

    Any bearer token is accepted; writes and private repos need one. Pull requests are not supported.

    Example:
        ```python
        >>> from huggingface_hub import HfApi
        >>> from qclip_hf.testing.hub_server import LocalHubServer
        >>> with LocalHubServer() as hub:
        ...     api = HfApi(endpoint=hub.endpoint, token="hf_local")
        ...     repo_url = api.create_repo("local-user/tiny")
        ...     _ = api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="local-user/tiny")
        ...     api.list_repo_files("local-user/tiny")
        ['.gitattributes', 'config.json']
        ```
    """

    def __init__(self, root: str | Path | None = None, user: str = "local-user", verbose: bool = False):
        if not isinstance(user, str) or not user or "/" in user:
            raise ValueError(f"`user` must be a non-empty name without '/', got {user!r}.")
        self._tempdir = tempfile.TemporaryDirectory(prefix="local-hub-") if root is None else None
        self.root = Path(self._tempdir.name if self._tempdir else root)
        self.store = HubStore(self.root)
        self.user = user
        self._server: _HubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._verbose = verbose

    @property
    def endpoint(self) -> str:
        """The base URL to use as `HF_ENDPOINT` or `endpoint=`, e.g. `http://127.0.0.1:41234`."""
        if self._server is None:
            raise RuntimeError("The local Hub server is not running; call `start()` or use it as a context manager.")
        return self._server.endpoint

    def start(self) -> str:
        """Start serving in a daemon thread and return the endpoint."""
        if self._server is None:
            self._server = _HubHTTPServer(self.store, self.user, self._verbose)
            self._thread = threading.Thread(target=self._server.serve_forever, name="local-hub", daemon=True)
            self._thread.start()
        return self._server.endpoint

    def stop(self) -> None:
        """Stop serving, close the socket and remove the temporary storage."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def __enter__(self) -> LocalHubServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextmanager
def local_hub(root: str | Path | None = None, user: str = "local-user") -> Iterator[str]:
    """Run a `LocalHubServer` for the duration of the block and yield its endpoint URL.

    Example:
        ```python
        # conftest.py
        import pytest
        from qclip_hf.testing.hub_server import local_hub

        @pytest.fixture(scope="session")
        def hub_endpoint():
            with local_hub() as endpoint:
                yield endpoint
        ```
    """
    with LocalHubServer(root=root, user=user) as server:
        yield server.endpoint


def hub_env(
    endpoint: str,
    cache_dir: str | Path,
    token: str | None = "hf_local_test_token",
    offline: bool = False,
    base_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment that points a fresh Python process's `huggingface_hub` at `endpoint` with its own cache.

    `HF_HOME` is set to `cache_dir` (so the hub cache, token file and `evaluate`/`datasets` caches are all private
    to the run) and `HF_HUB_CACHE` is left to default under it. Variables that would redirect the cache or the
    token elsewhere are removed from the inherited environment.

    Example:
        ```python
        >>> import subprocess, sys
        >>> env = hub_env("http://127.0.0.1:41234", "/tmp/hf_home")
        >>> subprocess.run([sys.executable, "train.py", "--push_to_hub"], env=env, check=True)
        ```
    """
    env = dict(os.environ if base_env is None else base_env)
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(name, None)
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(cache_dir),
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    if token is None:
        env.pop("HF_TOKEN", None)
    else:
        env["HF_TOKEN"] = token
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def run_with_hub(
    endpoint: str,
    code_or_script: str | Path,
    cache_dir: str | Path,
    *args: str,
    token: str | None = "hf_local_test_token",
    offline: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 300.0,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run Python code (a string, or a path to a `.py` script) in a fresh interpreter pointed at a local Hub.

    Needed for code that uses the global endpoint, such as `from_pretrained` in `transformers` and `peft`, and for
    `HF_HUB_OFFLINE`, which `huggingface_hub` reads only when it is first imported.

    Args:
        endpoint (`str`): the server's endpoint (`LocalHubServer.endpoint`).
        code_or_script (`str` or `Path`): Python source, or an existing `.py` file to run.
        cache_dir (`str` or `Path`): becomes `HF_HOME`; pass an empty directory for an empty cache.
        *args (`str`): command-line arguments for the code (`sys.argv[1:]`).
        token (`str`, *optional*): the `HF_TOKEN` to set; `None` runs unauthenticated.
        offline (`bool`, *optional*, defaults to `False`): set `HF_HUB_OFFLINE=1`.
        env (`dict[str, str]`, *optional*): extra environment variables.
        timeout (`float`, *optional*, defaults to 300): seconds before the process is killed.
        check (`bool`, *optional*, defaults to `True`): raise `RuntimeError` with the process's output if it fails.

    Returns:
        `subprocess.CompletedProcess` with text `stdout` and `stderr`.

    Example:
        ```python
        >>> proc = run_with_hub(endpoint, "from huggingface_hub import constants; print(constants.ENDPOINT)", tmp_path)
        >>> proc.stdout.strip() == endpoint
        True
        ```
    """
    full_env = hub_env(endpoint, cache_dir, token=token, offline=offline)
    full_env.update(env or {})
    script = Path(code_or_script) if isinstance(code_or_script, Path) else None
    if (
        script is None
        and code_or_script.endswith(".py")
        and "\n" not in code_or_script
        and Path(code_or_script).is_file()
    ):
        script = Path(code_or_script)
    command = [sys.executable, str(script)] if script is not None else [sys.executable, "-c", code_or_script]
    proc = subprocess.run([*command, *args], env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"Hub client process failed with exit code {proc.returncode}.\n--- stdout ---\n{proc.stdout}"
            f"\n--- stderr ---\n{proc.stderr}"
        )
    return proc
