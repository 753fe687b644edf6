"""The model card template lives in the top-level `model_card/` folder and travels with the package (issue 21
item 7): the package's template is that file, and a wheel built from this tree renders cards with no checkout."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from qclip_hf.model_card import DEFAULT_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_template_is_the_model_card_folders():
    assert (ROOT / "model_card" / "README.md").is_file()
    assert DEFAULT_TEMPLATE.resolve() == (ROOT / "model_card" / "template.md").resolve()


def test_a_built_wheel_ships_the_template_and_renders_a_card(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("qclip_hf-*.whl")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    shipped = installed / "qclip_hf" / "templates" / "model_card.md"
    assert not shipped.is_symlink()
    assert shipped.read_text(encoding="utf-8") == (ROOT / "model_card" / "template.md").read_text(encoding="utf-8")
    # The installed copy alone (no checkout on the path, another working directory) renders the card.
    code = textwrap.dedent("""
        import qclip_hf, sys
        from qclip_hf import QClipConfig
        from qclip_hf.model_card import DEFAULT_TEMPLATE, render_model_card
        assert qclip_hf.__file__.startswith(sys.argv[1]), qclip_hf.__file__
        card = render_model_card(QClipConfig(backbone="facebook/PE-Core-L14-336"), repo_id="me/qclip")
        print(DEFAULT_TEMPLATE, "arXiv:2508.06092" in card, "## Usage" in card)
    """)
    done = subprocess.run([sys.executable, "-c", code, str(installed)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin",
                                             "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("True True") and str(installed) in done.stdout
