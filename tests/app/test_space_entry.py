"""`python app.py` (the Space entry point) offers the held-out videos `make demo` generates (papercut 9)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from qclip_hf.synthetic import generate_quality_dataset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def space_app():
    spec = importlib.util.spec_from_file_location("space_app", REPO / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_are_found_in_the_layout_the_generator_writes(space_app, tmp_path, monkeypatch):
    data = generate_quality_dataset(tmp_path / "synthetic_vqa", num_sources=2, levels=3, test_sources=1,
                                    degradations=("blur", "noise"), progress=False)
    test = Path(data) / "test"
    monkeypatch.setattr(space_app, "DEMO_EXAMPLES", test)
    monkeypatch.setattr(space_app, "HERE", tmp_path)  # no examples/ folder beside app.py
    monkeypatch.delenv("QCLIP_EXAMPLES", raising=False)
    examples = space_app.default_examples()
    with (test / "metadata.csv").open(newline="") as handle:
        mos = {str(test / row["file_name"]): float(row["mos"]) for row in csv.DictReader(handle)}
    assert len(examples) == min(space_app.MAX_DEFAULT_EXAMPLES, len(mos)) and len(set(examples)) == len(examples)
    assert all(Path(path).is_file() and path in mos for path in examples)
    shown = [mos[path] for path in examples]
    assert shown == sorted(shown, reverse=True)  # from the best to the worst
    assert shown[0] == max(mos.values()) and shown[-1] == min(mos.values())
