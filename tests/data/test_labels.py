import pytest

from qclip_hf.data.labels import read_label_file

# (file, rows, min MOS, max MOS) as documented in ../shared/data_labels/README.md and read from the lists
EXPECTED = [
    ("LSVQ/train_labels.txt", 28056),
    ("LSVQ/labels_test.txt", 7186),
    ("LSVQ/labels_1080p.txt", 3573),
    ("LSVQ/labels.txt", 10759),
    ("KoNViD/labels.txt", 1200),
    ("LIVE_VQC/labels.txt", 585),
    ("YouTubeUGC/labels.txt", 1147),
    ("CVD2014/labels.txt", 234),
    ("LIVE_Qualcomm/labels.txt", 208),
]


@pytest.mark.parametrize("name,rows", EXPECTED)
def test_standard_lists_parse_with_documented_counts(labels_dir, name, rows):
    parsed = read_label_file(labels_dir / name)
    assert len(parsed) == rows
    assert all(row.path and not row.path.startswith("/") for row in parsed)


def test_fields(labels_dir):
    konvid = read_label_file(labels_dir / "KoNViD/labels.txt")[0]
    assert (konvid.path, konvid.duration, konvid.mos) == ("KoNViD_1k_videos/4542323058.mp4", 8.008, 3.22)
    lsvq = read_label_file(labels_dir / "LSVQ/train_labels.txt")[0]
    assert lsvq.duration is None and lsvq.fps is None  # -1 = unknown
    assert read_label_file(labels_dir / "LIVE_Qualcomm/labels.txt")[0].path.endswith(".yuv")


def test_malformed_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("a.mp4, 1, 30, 3.0\nb.mp4, 1, 30\n")
    with pytest.raises(ValueError, match=r"labels.txt:2: expected 4"):
        read_label_file(bad)
    bad.write_text("a.mp4, 1, 30, good\n")
    with pytest.raises(ValueError, match=r"labels.txt:1: non-numeric"):
        read_label_file(bad)
    with pytest.raises(FileNotFoundError):
        read_label_file(tmp_path / "nope.txt")
