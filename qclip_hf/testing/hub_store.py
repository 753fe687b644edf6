"""The storage behind the local Hub test server: repositories with git-like commits, branches and tags.

File contents live on disk as blobs named by their git object id (`sha1("blob <size>\\0" + content)`, the id the
Hub reports as a regular file's `oid` and `ETag`); commits, trees and refs are kept in memory. Every commit gets a
fresh 40-hex id, so revisions behave like git's: branches move, commit ids and tags do not.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO_TYPES = ("model", "dataset", "space")
DEFAULT_BRANCH = "main"
# What the Hub commits on repository creation, so a fresh repo has a head commit and one file.
INITIAL_GITATTRIBUTES = (
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.pt filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.zip filter=lfs diff=lfs merge=lfs -text\n"
)


class StoreError(Exception):
    """A request the Hub would refuse; `code` is the Hub's `X-Error-Code` (or `None`) and `status` the HTTP status."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def git_blob_id(content: bytes) -> str:
    """The git object id of a blob, which the Hub uses as a regular file's `oid` and `ETag`.

    Example:
        ```python
        >>> git_blob_id(b"")  # the same as `git hash-object /dev/null`
        'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
        ```
    """
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def hub_timestamp(moment: datetime) -> str:
    """A UTC time in the Hub's `2024-01-31T12:00:00.000Z` format, the one `huggingface_hub` parses."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Commit:
    oid: str
    parent: str | None
    # path -> (blob id, size)
    files: dict[str, tuple[str, int]]
    title: str
    message: str
    date: datetime


@dataclass
class Repository:
    repo_type: str
    repo_id: str
    private: bool
    created_at: datetime
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit:
        """The commit a branch, tag or full commit id points at; `RevisionNotFound` otherwise."""
        oid = self.branches.get(revision) or self.tags.get(revision)
        if oid is None and revision in self.commits:
            oid = revision
        if oid is None:
            raise StoreError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
        return self.commits[oid]


class HubStore:
    """Thread-safe repositories and blobs for `LocalHubServer`.

    Args:
        root (`Path`): directory that receives the blobs.

    Example:
        ```python
        >>> import tempfile
        >>> store = HubStore(Path(tempfile.mkdtemp()))
        >>> repo = store.create_repo("model", "user/tiny", private=False)
        >>> commit = store.commit("model", "user/tiny", "main", {"a.txt": b"hi"}, set(), set(), "add", "")
        >>> sorted(store.get_repo("model", "user/tiny").resolve("main").files)
        ['.gitattributes', 'a.txt']
        ```
    """

    def __init__(self, root: Path):
        self.blob_dir = Path(root) / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repository] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()

    def get_repo(self, repo_type: str, repo_id: str) -> Repository:
        with self._lock:
            repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise StoreError(404, f"Repository {repo_id} not found", code="RepoNotFound")
        return repo

    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> Repository:
        if repo_type not in REPO_TYPES:
            raise StoreError(400, f"Invalid repo type {repo_type!r}; allowed: {', '.join(REPO_TYPES)}")
        with self._lock:
            if (repo_type, repo_id) in self.repos:
                raise StoreError(409, f"You already created this {repo_type} repo")
            repo = Repository(repo_type, repo_id, private, created_at=datetime.now(timezone.utc))
            self.repos[(repo_type, repo_id)] = repo
            blob = self.write_blob(INITIAL_GITATTRIBUTES.encode())
            self._add_commit(repo, None, {".gitattributes": blob}, "initial commit", "", DEFAULT_BRANCH)
        return repo

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        with self._lock:
            if self.repos.pop((repo_type, repo_id), None) is None:
                raise StoreError(404, f"Repository {repo_id} not found", code="RepoNotFound")

    def write_blob(self, content: bytes) -> tuple[str, int]:
        oid = git_blob_id(content)
        path = self.blob_dir / oid
        if not path.exists():
            temporary = path.with_suffix(f".tmp{threading.get_ident()}")
            temporary.write_bytes(content)
            temporary.replace(path)
        return oid, len(content)

    def blob_path(self, oid: str) -> Path:
        return self.blob_dir / oid

    def commit(
        self,
        repo_type: str,
        repo_id: str,
        branch: str,
        additions: dict[str, bytes],
        deleted_files: set[str],
        deleted_folders: set[str],
        title: str,
        message: str,
        parent_commit: str | None = None,
    ) -> Commit:
        """Apply deletions then additions on top of `branch` and move the branch to the new commit."""
        repo = self.get_repo(repo_type, repo_id)
        blobs = {path: self.write_blob(content) for path, content in additions.items()}
        with self._lock:
            if branch not in repo.branches:
                # The Hub only commits to existing branches (create them with `create_branch`) or to a PR ref.
                raise StoreError(404, f"Invalid rev id: {branch}", code="RevisionNotFound")
            head = repo.commits[repo.branches[branch]]
            if parent_commit is not None and parent_commit != head.oid:
                raise StoreError(412, f"A commit has happened since. Please refresh and try again ({head.oid}).")
            files = dict(head.files)
            for path in deleted_files:
                if files.pop(path, None) is None:
                    raise StoreError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
            for folder in deleted_folders:
                prefix = folder.rstrip("/") + "/"
                doomed = [path for path in files if path.startswith(prefix)]
                if not doomed:
                    raise StoreError(404, f"A folder with this name doesn't exist: {folder}", code="EntryNotFound")
                for path in doomed:
                    del files[path]
            files.update(blobs)
            return self._add_commit(repo, head.oid, files, title, message, branch)

    def create_branch(self, repo_type: str, repo_id: str, branch: str, starting_point: str | None) -> None:
        repo = self.get_repo(repo_type, repo_id)
        with self._lock:
            if branch in repo.branches:
                raise StoreError(409, f"Reference already exists: refs/heads/{branch}")
            repo.branches[branch] = repo.resolve(starting_point or DEFAULT_BRANCH).oid

    def create_tag(self, repo_type: str, repo_id: str, revision: str, tag: str) -> None:
        repo = self.get_repo(repo_type, repo_id)
        with self._lock:
            if tag in repo.tags:
                raise StoreError(409, f"Tag already exists: {tag}")
            repo.tags[tag] = repo.resolve(revision).oid

    def history(self, repo: Repository, revision: str) -> list[Commit]:
        """The commits reachable from `revision`, newest first."""
        commits = []
        commit: Commit | None = repo.resolve(revision)
        while commit is not None:
            commits.append(commit)
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return commits

    def _add_commit(
        self,
        repo: Repository,
        parent: str | None,
        files: dict[str, tuple[str, int]],
        title: str,
        message: str,
        branch: str,
    ) -> Commit:
        # Any 40-hex id unique within the server makes revisions behave like git's for the client.
        seed = f"{repo.repo_type}/{repo.repo_id}\n{parent}\n{sorted(files.items())}\n{title}\n{next(self._counter)}"
        commit = Commit(
            oid=hashlib.sha1(seed.encode()).hexdigest(),
            parent=parent,
            files=files,
            title=title,
            message=message,
            date=datetime.now(timezone.utc),
        )
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit
