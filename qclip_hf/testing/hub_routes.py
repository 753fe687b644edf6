"""The Hub API routes of the local test server: request parsing, JSON shapes and error headers.

Response shapes follow what `huggingface_hub` 2.4 parses (`ModelInfo`, `RepoFile`/`RepoFolder`, `CommitInfo`,
`GitRefs`, `HfFileMetadata`); errors carry `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`)
and `X-Error-Message`, which the client's `hf_raise_for_status` turns into its typed exceptions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs

import yaml

from .hub_store import DEFAULT_BRANCH, Commit, Repository, StoreError, hub_timestamp

_TYPE_FROM_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_CHUNK = 1 << 20


def _front_matter(content: str) -> str | None:
    """The YAML block between the leading `---` lines of a model card, or `None` if there is none."""
    match = re.match(r"^\s*---\r?\n(.*?)\r?\n---\s*(\r?\n|$)", content, flags=re.DOTALL)
    return match.group(1) if match else None


def _model_index_errors(model_index: Any) -> list[str]:
    # The fields `huggingface_hub.repocard_data.model_index_to_eval_results` requires; the Hub refuses cards
    # without them.
    if not isinstance(model_index, list):
        return ["model-index must be a list"]
    errors = []
    for entry in model_index:
        if not isinstance(entry, dict) or "name" not in entry or not isinstance(entry.get("results"), list):
            errors.append("model-index entries need a `name` and a list of `results`")
            continue
        for result in entry["results"]:
            task, dataset, metrics = (
                result.get(key) if isinstance(result, dict) else None for key in ("task", "dataset", "metrics")
            )
            if not isinstance(task, dict) or "type" not in task:
                errors.append("model-index results need `task.type`")
            if not isinstance(dataset, dict) or "type" not in dataset or "name" not in dataset:
                errors.append("model-index results need `dataset.type` and `dataset.name`")
            if not isinstance(metrics, list) or not all(
                isinstance(m, dict) and "type" in m and "value" in m for m in metrics
            ):
                errors.append("model-index results need `metrics` with `type` and `value`")
    return errors


def card_metadata(content: str) -> tuple[dict | None, list[str]]:
    """Parse a model card's YAML metadata; returns `(metadata or None, errors)`.

    The errors are those the Hub's `validate-yaml` reports: invalid YAML, metadata that is not a mapping, and a
    `model-index` missing the fields `huggingface_hub` needs to read evaluation results.

    Example:
        ```python
        >>> card_metadata("---\nlibrary_name: peft\n---\n# Card")
        ({'library_name': 'peft'}, [])
        ```
    """
    block = _front_matter(content)
    if block is None:
        return None, []
    try:
        metadata = yaml.safe_load(block)
    except yaml.YAMLError as error:
        return None, [f"Invalid YAML: {error}"]
    if metadata is None:
        return None, []
    if not isinstance(metadata, dict):
        return None, ["YAML metadata must be a mapping"]
    return metadata, _model_index_errors(metadata["model-index"]) if "model-index" in metadata else []


class HubRequestMixin:
    """Routes for `BaseHTTPRequestHandler`; the server provides `store`, `user` and `endpoint`."""

    # ----------------------------------------------------------------------------------------------- plumbing
    def route(self, method: str, segments: list[str], query: dict[str, str], body: bytes) -> None:
        try:
            self._route(method, segments, query, body)
        except StoreError as error:
            self._send_error(error.status, error.message, error.code, method)
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            self._send_error(400, f"Bad request: {error}", None, method)

    def _send(self, status: int, body: bytes, headers: dict[str, str], method: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: Any, method: str = "GET", status: int = 200, headers: dict | None = None) -> None:
        self._send(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}, method
        )

    def _send_error(self, status: int, message: str, code: str | None, method: str) -> None:
        # Header values must be latin-1; paths in messages may not be.
        headers = {"X-Error-Message": message.encode("latin-1", "replace").decode("latin-1")}
        if code is not None:
            headers["X-Error-Code"] = code
        self._send_json({"error": message}, method, status, headers)

    def _token(self) -> str | None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _require_token(self) -> None:
        if self._token() is None:
            raise StoreError(401, "You must be authenticated to write (send any bearer token).")

    def _readable_repo(self, repo_type: str, repo_id: str) -> Repository:
        repo = self.server.store.get_repo(repo_type, repo_id)
        if repo.private and self._token() is None:
            # The Hub hides private repos from anonymous users behind the same error as a missing repo.
            raise StoreError(401, f"Repository {repo_id} not found", code="RepoNotFound")
        return repo

    def _repo_url(self, repo: Repository) -> str:
        return f"{self.server.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    # ------------------------------------------------------------------------------------------------ routing
    def _route(self, method: str, seg: list[str], query: dict[str, str], body: bytes) -> None:
        if seg[:1] == ["api"]:
            rest = seg[1:]
            if rest == ["whoami-v2"] and method == "GET":
                return self._whoami()
            if rest == ["validate-yaml"] and method == "POST":
                return self._validate_yaml(json.loads(body or b"{}"))
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo(json.loads(body or b"{}"))
            if rest == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo(json.loads(body or b"{}"))
            if len(rest) >= 3 and rest[0] in _TYPE_FROM_PLURAL:
                return self._repo_api(
                    method, _TYPE_FROM_PLURAL[rest[0]], f"{rest[1]}/{rest[2]}", rest[3:], query, body
                )
        else:
            repo_type = "model"
            if seg[:1] in (["datasets"], ["spaces"]):
                repo_type, seg = _TYPE_FROM_PLURAL[seg[0]], seg[1:]
            if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
                return self._resolve(method, repo_type, f"{seg[0]}/{seg[1]}", seg[3], "/".join(seg[4:]))
        raise StoreError(404, "Sorry, we can't find the page you are looking for.")

    def _repo_api(
        self, method: str, repo_type: str, repo_id: str, action: list[str], query: dict[str, str], body: bytes
    ) -> None:
        if method == "GET" and (not action or (len(action) == 2 and action[0] == "revision")):
            return self._repo_info(repo_type, repo_id, action[1] if action else DEFAULT_BRANCH)
        if method == "GET" and len(action) >= 2 and action[0] == "tree":
            recursive = query.get("recursive", "false").lower() in ("1", "true")
            return self._tree(repo_type, repo_id, action[1], "/".join(action[2:]), recursive)
        if method == "POST" and len(action) == 2 and action[0] == "paths-info":
            form = parse_qs(body.decode())
            return self._paths_info(repo_type, repo_id, action[1], form.get("paths", []))
        if method == "GET" and action == ["refs"]:
            return self._refs(repo_type, repo_id)
        if method == "GET" and len(action) == 2 and action[0] == "commits":
            return self._commits(repo_type, repo_id, action[1])
        if method == "POST" and len(action) == 2 and action[0] in ("preupload", "commit", "branch", "tag"):
            self._require_token()
            self._readable_repo(repo_type, repo_id)
            if query.get("create_pr", "0") not in ("0", "false", ""):
                raise StoreError(400, "Pull requests are not supported by the local Hub server.")
            payload = body if action[0] == "commit" else json.loads(body or b"{}")
            handler = {"preupload": self._preupload, "commit": self._commit, "branch": self._branch, "tag": self._tag}
            return handler[action[0]](repo_type, repo_id, action[1], payload)
        raise StoreError(404, "Sorry, we can't find the page you are looking for.")

    # ---------------------------------------------------------------------------------------- account, repos
    def _whoami(self) -> None:
        if self._token() is None:
            raise StoreError(401, "Invalid user token.")
        user = self.server.user
        access = {"displayName": "local", "role": "write"}
        self._send_json(
            {
                "type": "user",
                "name": user,
                "fullname": user,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": access},
            }
        )

    def _validate_yaml(self, payload: dict) -> None:
        metadata, errors = card_metadata(payload.get("content", ""))
        if errors:
            return self._send_json({"errors": [{"message": message} for message in errors]}, status=400)
        warnings = [] if metadata else [{"message": "Empty or missing yaml metadata in repo card"}]
        self._send_json({"errors": [], "warnings": warnings})

    def _create_repo(self, payload: dict) -> None:
        self._require_token()
        name, namespace = payload.get("name"), payload.get("organization") or self.server.user
        if not isinstance(name, str) or not _NAME.match(name) or not _NAME.match(namespace):
            raise StoreError(400, f"Invalid repo name {namespace}/{name}: use letters, digits, '-', '_', '.'.")
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        repo_type = payload.get("type") or "model"
        try:
            repo = self.server.store.create_repo(repo_type, f"{namespace}/{name}", private)
        except StoreError as error:
            if error.status == 409:
                url = f"{self.server.endpoint}/{_URL_PREFIX.get(repo_type, '')}{namespace}/{name}"
                return self._send_json({"error": error.message, "url": url}, status=409)
            raise
        self._send_json({"url": self._repo_url(repo), "name": repo.repo_id, "id": repo.repo_id})

    def _delete_repo(self, payload: dict) -> None:
        self._require_token()
        namespace = payload.get("organization") or self.server.user
        self.server.store.delete_repo(payload.get("type") or "model", f"{namespace}/{payload.get('name')}")
        self._send_json({})

    # ----------------------------------------------------------------------------------------- read endpoints
    def _repo_info(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._readable_repo(repo_type, repo_id)
        commit = repo.resolve(revision)
        metadata: dict = {}
        if "README.md" in commit.files:
            metadata = (
                card_metadata(self.server.store.blob_path(commit.files["README.md"][0]).read_text("utf-8"))[0] or {}
            )
        payload = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": hub_timestamp(commit.date),
            "createdAt": hub_timestamp(repo.created_at),
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": list(metadata.get("tags") or []),
            "library_name": metadata.get("library_name"),
            "pipeline_tag": metadata.get("pipeline_tag"),
            "cardData": metadata or None,
            "siblings": [
                {"rfilename": path, "size": size, "blobId": oid} for path, (oid, size) in sorted(commit.files.items())
            ],
        }
        if "model-index" in metadata:
            payload["model-index"] = metadata["model-index"]
        self._send_json(payload)

    @staticmethod
    def _entries(commit: Commit, prefix: str, recursive: bool) -> list[dict]:
        base = prefix.strip("/") + "/" if prefix.strip("/") else ""
        files, folders = [], {}
        for path, (oid, size) in sorted(commit.files.items()):
            if not path.startswith(base):
                continue
            parts = path[len(base) :].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folder = base + "/".join(parts[:depth])
                folders.setdefault(folder, hashlib.sha1())
                folders[folder].update(f"{path}\0{oid}\n".encode())
            if recursive or len(parts) == 1:
                files.append({"type": "file", "oid": oid, "size": size, "path": path})
        # A folder's id only has to change when its content changes; a digest of its entries does that.
        listed = [
            {"type": "directory", "oid": digest.hexdigest(), "size": 0, "path": path}
            for path, digest in folders.items()
        ]
        return sorted(files + listed, key=lambda entry: entry["path"])

    def _tree(self, repo_type: str, repo_id: str, revision: str, path: str, recursive: bool) -> None:
        commit = self._readable_repo(repo_type, repo_id).resolve(revision)
        entries = self._entries(commit, path, recursive)
        if path.strip("/") and not entries:
            raise StoreError(404, f"Entry not found: {path}", code="EntryNotFound")
        self._send_json(entries)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str, paths: list[str]) -> None:
        commit = self._readable_repo(repo_type, repo_id).resolve(revision)
        found = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                oid, size = commit.files[path]
                found.append({"type": "file", "oid": oid, "size": size, "path": path})
            elif any(name.startswith(path + "/") for name in commit.files):
                digest = hashlib.sha1(f"{commit.oid}:{path}".encode()).hexdigest()
                found.append({"type": "directory", "oid": digest, "size": 0, "path": path})
        self._send_json(found)

    def _refs(self, repo_type: str, repo_id: str) -> None:
        repo = self._readable_repo(repo_type, repo_id)

        def refs(names: dict[str, str], kind: str) -> list[dict]:
            return [
                {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}
                for name, oid in sorted(names.items())
            ]

        self._send_json(
            {
                "branches": refs(repo.branches, "heads"),
                "tags": refs(repo.tags, "tags"),
                "converts": [],
                "pullRequests": [],
            }
        )

    def _commits(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._readable_repo(repo_type, repo_id)
        author = [{"user": self.server.user}]
        self._send_json(
            [
                {"id": c.oid, "title": c.title, "message": c.message, "authors": author, "date": hub_timestamp(c.date)}
                for c in self.server.store.history(repo, revision)
            ]
        )

    def _resolve(self, method: str, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        commit = self._readable_repo(repo_type, repo_id).resolve(revision)
        if path not in commit.files:
            raise StoreError(404, f"Entry not found: {path}", code="EntryNotFound")
        oid, size = commit.files[path]
        start, status = 0, 200
        headers = {
            "ETag": f'"{oid}"',
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        byte_range = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if byte_range and method == "GET" and 0 < int(byte_range.group(1)) < size:
            start, status = int(byte_range.group(1)), 206
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if method == "GET":
            with self.server.store.blob_path(oid).open("rb") as blob:
                blob.seek(start)
                while chunk := blob.read(_CHUNK):
                    self.wfile.write(chunk)

    # ---------------------------------------------------------------------------------------- write endpoints
    def _preupload(self, repo_type: str, repo_id: str, revision: str, payload: dict) -> None:
        head = self.server.store.get_repo(repo_type, repo_id).resolve(revision)
        files = [
            # Always "regular": contents then travel inline in the commit, with no LFS or Xet transfer.
            {
                "path": entry["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": head.files.get(entry["path"], (None,))[0],
            }
            for entry in payload.get("files", [])
        ]
        self._send_json({"files": files, "commitOid": head.oid})

    def _commit(self, repo_type: str, repo_id: str, revision: str, body: bytes) -> None:
        header: dict = {}
        additions: dict[str, bytes] = {}
        deleted_files: set[str] = set()
        deleted_folders: set[str] = set()
        for line in body.decode("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise StoreError(400, f"Unsupported encoding {value.get('encoding')!r} for {value['path']}")
                additions[value["path"]] = base64.b64decode(value["content"], validate=True)
            elif key == "deletedFile":
                deleted_files.add(value["path"])
            elif key == "deletedFolder":
                deleted_folders.add(value["path"])
            else:
                # "lfsFile" only follows an LFS pre-upload, which this server never asks for.
                raise StoreError(
                    400, f"Unsupported commit operation {key!r}: the local Hub stores regular files only."
                )
        if not header.get("summary"):
            raise StoreError(400, "The commit header needs a `summary`.")
        commit = self.server.store.commit(
            repo_type,
            repo_id,
            revision,
            additions,
            deleted_files,
            deleted_folders,
            header["summary"],
            header.get("description", ""),
            parent_commit=header.get("parentCommit"),
        )
        repo = self.server.store.get_repo(repo_type, repo_id)
        url = f"{self._repo_url(repo)}/commit/{commit.oid}"
        self._send_json(
            {"success": True, "commitOid": commit.oid, "commitUrl": url, "hookOutput": "", "pullRequestUrl": None}
        )

    def _branch(self, repo_type: str, repo_id: str, branch: str, payload: dict) -> None:
        self.server.store.create_branch(repo_type, repo_id, branch, payload.get("startingPoint"))
        self._send_json({})

    def _tag(self, repo_type: str, repo_id: str, revision: str, payload: dict) -> None:
        if not payload.get("tag"):
            raise StoreError(400, "The request needs a `tag`.")
        self.server.store.create_tag(repo_type, repo_id, revision, payload["tag"])
        self._send_json({})
