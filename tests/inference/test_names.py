"""The escaping of file names in result files."""

from __future__ import annotations

import os

import pytest

from qclip_hf.inference import decode_path, encode_path
from qclip_hf.inference.names import printable


@pytest.mark.parametrize("raw", [b"/v/plain.mp4", b"/v/with space.mp4", b"/v/-dash.mp4", b"/v/caf\xe9.mp4",
                                 b"/v/two\nlines.mp4", b"/v/\xff\xfe\x00?.mp4", "/v/日本.mp4".encode(),
                                 b"/v/100%.mp4", b"/v/file:x.mp4"])
def test_every_name_round_trips(raw):
    path = os.fsdecode(raw)
    text = encode_path(path)
    text.encode("utf-8")  # always writable as UTF-8
    assert "\n" not in text and os.fsencode(decode_path(text)) == raw


def test_plain_names_are_kept_and_others_become_file_uris():
    assert encode_path("/v/with space.mp4") == "/v/with space.mp4"
    assert encode_path("https://host/v.mp4") == "https://host/v.mp4"
    assert encode_path(os.fsdecode(b"/v/caf\xe9.mp4")) == "file:///v/caf%E9.mp4"
    assert encode_path("/v/a\tb.mp4") == "file:///v/a%09b.mp4"
    assert printable(os.fsdecode(b"/v/caf\xe9\n.mp4")) == "/v/caf\\xe9\\n.mp4"
