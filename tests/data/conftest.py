from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def labels_dir():
    """The standard label lists, kept beside the repository (`../shared/data_labels`); required, not skipped."""
    path = Path(__file__).resolve().parents[2].parent / "shared" / "data_labels"
    assert path.is_dir(), f"standard label lists not found at {path}"
    return path
