"""Every Python and shell snippet of the README (and of the docs where practical) runs, as written.

Each fenced block tagged `python` or `bash` is one test case, run in a subprocess inside a sandbox folder that holds
what the snippets name: small videos (`a.mp4`, `b.mkv`, `clip.mp4`, `videos/`, `more/*.mkv`, ...), a tiny saved model
as `my-qclip` and at the demo's output path `outputs/demo/run/best`. The network is off (`HF_HUB_OFFLINE=1`).

Keeping it in sync when a snippet changes:
- a README block preceded by `<!-- readme-test: internet -->` runs with each Hub id of `HUB_IDS` replaced by a tiny
  local backbone (add new ids there);
- `<!-- readme-test: skip: reason -->` skips a block (say why, and which test covers it instead);
- blocks of docs this file cannot mark are skipped in `DOC_SKIPS` (keyed by a piece of the block; a key that no
  longer matches any block fails `test_doc_skips_still_match`), and `DOC_PRELUDES` defines names a doc snippet uses
  without defining them.
Blocks without a language (command synopses, printed output) are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md"))]
# Hub ids that `internet` snippets name, replaced by the tiny local backbone.
HUB_IDS = ("facebook/PE-Core-L14-336", "openai/clip-vit-large-patch14-336", "openai/clip-vit-base-patch32")
DOC_SKIPS = {
    ("docs/pe_core.md", "PECoreModel(config)"): "builds PE-Core-L (3.4 GB); tests/models/pe_core covers it",
    ("docs/pe_core.md", 'QClipConfig.from_preset("paper"))'): "downloads PE-Core-L14-336",
    ("docs/pe_core.md", "open_clip.create_model"): "downloads PE-Core-L14-336 from the Hub",
    ("docs/pe_core.md", "--checkpoint PE-Core-L14-336.pt"): "needs Meta's PE-Core-L14-336.pt checkpoint",
    ("docs/method.md", "convert_release_checkpoint"): "needs the authors' released .pth checkpoint; tests/models/qclip "
                                                       "cover the converter",
    ("docs/training.md", "finetune_splits.py"): "needs the KoNViD-1k videos; tests/training covers the script",
    ("docs/video.md", "load_vqa_dataset"): "needs the KoNViD-1k videos; tests/data and tests/video cover it",
}
DOC_PRELUDES = {
    "docs/inference.md": "import numpy as np\nframes = np.zeros((8, 64, 64, 3), dtype=np.uint8)\n",
}
MARKER = re.compile(r"<!--\s*readme-test:\s*(?P<kind>skip|internet)\s*(?::\s*(?P<reason>.*?))?\s*-->")
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^```\s*$", re.M | re.S)


@dataclass
class Snippet:
    document: str
    line: int
    language: str
    code: str
    marker: str | None = None
    reason: str | None = None

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def snippets(document: str) -> list[Snippet]:
    text = (REPO / document).read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        language = {"sh": "bash", "shell": "bash", "py": "python"}.get(match["lang"], match["lang"])
        if language not in ("python", "bash"):
            continue
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        found.append(Snippet(document, text.count("\n", 0, match.start()) + 1, language, match["body"],
                             marker["kind"] if marker else None, marker["reason"] if marker else None))
    return found


ALL = [snippet for document in DOCUMENTS for snippet in snippets(document)]


def _doc_skip(snippet: Snippet) -> str | None:
    return next((reason for (document, key), reason in DOC_SKIPS.items()
                 if document == snippet.document and key in snippet.code), None)


def _encode(path: Path, codec: str, source: str = "testsrc2", extra: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=size=96x64:rate=15", "-t", "1.5",
                    "-c:v", codec, *extra, "-pix_fmt", "yuv420p", str(path)], check=True)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, model_dir, tiny_backbone_dir):
    """A folder holding every file the snippets name."""
    root = tmp_path_factory.mktemp("readme")
    for name in ("a.mp4", "clip.mp4", "videos/one.mp4", "videos/two.mp4"):
        _encode(root / name, "libx264", "smptebars" if "two" in name else "testsrc2")
    for name in ("b.mkv", "more/three.mkv"):
        _encode(root / name, "mpeg4")
    for name in ("b.webm", "c.webm"):
        _encode(root / name, "libvpx", extra=("-b:v", "200k"))
    shutil.copytree(model_dir, root / "my-qclip")
    shutil.copytree(model_dir, root / "outputs" / "demo" / "run" / "best")
    return {"root": root, "backbone": tiny_backbone_dir("clip")}


def test_every_document_has_runnable_snippets_found():
    readme = [s for s in ALL if s.document == "README.md"]
    assert sum(s.marker != "skip" for s in readme) >= 4, [s.id for s in readme]


def test_doc_skips_still_match():
    stale = [key for key in DOC_SKIPS if not any(s.document == key[0] and key[1] in s.code for s in ALL)]
    assert not stale, f"DOC_SKIPS entries matching no snippet any more (remove or update them): {stale}"


@pytest.mark.parametrize("snippet", ALL, ids=[s.id for s in ALL])
def test_snippet_runs(snippet: Snippet, sandbox):
    if snippet.marker == "skip":
        pytest.skip(snippet.reason or "marked skip")
    reason = _doc_skip(snippet)
    if reason:
        pytest.skip(reason)
    code = snippet.code
    if snippet.marker == "internet":
        for hub_id in HUB_IDS:
            code = code.replace(hub_id, sandbox["backbone"])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if snippet.language == "python":
        script = sandbox["root"] / f"snippet_{snippet.line}.py"
        script.write_text(DOC_PRELUDES.get(snippet.document, "") + code)
        command = [sys.executable, str(script)]
    else:
        script = sandbox["root"] / f"snippet_{snippet.line}.sh"
        script.write_text(code)
        command = ["bash", "-euo", "pipefail", str(script)]
    result = subprocess.run(command, cwd=sandbox["root"], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"{snippet.id} failed (exit {result.returncode}):\n--- snippet ---\n{code}\n--- stderr ---\n"
        f"{result.stderr[-4000:]}\n--- stdout ---\n{result.stdout[-2000:]}")


def test_the_documentation_map_lists_every_doc():
    """README's layout table names every page of docs/ (papercut 15: inference.md and performance.md were missing)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `docs/` |"))
    missing = [doc.name for doc in sorted((REPO / "docs").glob("*.md")) if f"`{doc.name}`" not in row]
    assert not missing, f"README's docs/ row does not list {missing}"
