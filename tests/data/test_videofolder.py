import shutil
import subprocess

import datasets
import pytest

from qclip_hf.data.videofolder import load_videofolder
from qclip_hf.data.vqa import MissingVideosWarning
from qclip_hf.video.motion import add_motion_profile


@pytest.fixture
def folder(tmp_path):
    tmp_path = tmp_path / "data"
    tmp_path.mkdir()
    clip = tmp_path / "a.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30", "-t", "0.5", str(clip)],
        check=True,
    )
    shutil.copy(clip, tmp_path / "b.mp4")
    (tmp_path / "metadata.csv").write_text("file_name,mos\na.mp4,2.0\nb.mp4,4.0\nc.mp4,3.0\n")
    return tmp_path


def test_videofolder_route(folder):
    with pytest.warns(MissingVideosWarning, match=r"1 of 3 .*first: c.mp4"):
        ds = load_videofolder(folder, cache_dir=str(folder.parent / "cache"))
    assert ds.num_rows == 3 and ds.features["video"] == datasets.Video(decode=False)
    assert sorted(ds["mos_normalized"]) == [0.0, 0.5, 1.0]
    with pytest.warns(MissingVideosWarning, match="dropped"):
        kept = load_videofolder(folder, on_missing="drop", mos_range=(1, 5), cache_dir=str(folder.parent / "cache"))
    assert kept.num_rows == 2 and sorted(kept["mos_normalized"]) == [0.25, 0.75]
    with_motion = add_motion_profile(kept)
    assert [len(p) for p in with_motion["motion_profile"]] == [15, 15]


def test_videofolder_errors(folder):
    with pytest.raises(ValueError, match="mos_column 'score' not in"):
        load_videofolder(folder, mos_column="score", on_missing="drop", cache_dir=str(folder.parent / "cache"))
    (folder / "metadata.csv").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        load_videofolder(folder)


def test_metadata_without_rows_or_file_name_column_is_named(tmp_path):
    import pytest

    from qclip_hf.data.videofolder import load_videofolder

    (tmp_path / "metadata.csv").write_text("file_name,mos\n")
    with pytest.raises(ValueError, match=r"metadata\.csv lists no videos"):
        load_videofolder(tmp_path)
    (tmp_path / "metadata.csv").write_text("name,mos\na.mp4,3\n")
    with pytest.raises(ValueError, match=r"has no 'file_name' column"):
        load_videofolder(tmp_path)
