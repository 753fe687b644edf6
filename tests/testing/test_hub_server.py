import json
import socket
import textwrap
import warnings

import numpy as np
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors.numpy import load_file, save_file

from qclip_hf.testing.hub_server import LocalHubServer, local_hub, run_with_hub

TOKEN = "hf_local_test_token"
CARD = textwrap.dedent(
    """\
    ---
    library_name: peft
    base_model: local-user/tiny-backbone
    pipeline_tag: video-classification
    tags:
    - video-quality-assessment
    model-index:
    - name: tiny-qclip
      results:
      - task: {type: video-quality-assessment}
        dataset: {type: synthetic, name: Synthetic VQA}
        metrics:
        - {type: srocc, value: 0.5}
    ---
    # tiny
    """
)


@pytest.fixture(scope="module")
def hub():
    with LocalHubServer() as server:
        yield server


@pytest.fixture(scope="module")
def api(hub):
    return HfApi(endpoint=hub.endpoint, token=TOKEN)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_file({"weight": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8}))
    (folder / "README.md").write_text(CARD)
    (folder / "nested").mkdir()
    (folder / "nested" / "notes.txt").write_text("v1")
    return folder


@pytest.fixture(scope="module")
def pushed(api, model_folder):
    """A repo with two commits on main and a branch `v1` left at the first one."""
    repo_id = "local-user/tiny-qclip"
    api.create_repo(repo_id)
    first = api.upload_folder(folder_path=model_folder, repo_id=repo_id, commit_message="v1")
    api.create_branch(repo_id, branch="v1")
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="nested/notes.txt", repo_id=repo_id)
    return repo_id, first.oid, second.oid


def test_binds_to_loopback_on_a_free_port(hub):
    assert hub.endpoint.startswith("http://127.0.0.1:")
    assert hub._server.server_address[0] == "127.0.0.1"


def test_create_repo_and_upload(api, pushed, model_folder):
    repo_id, first, second = pushed
    assert len(first) == 40 and len(second) == 40 and first != second
    assert api.list_repo_files(repo_id) == [
        ".gitattributes",
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "nested/notes.txt",
    ]
    info = api.model_info(repo_id)
    assert info.sha == second
    assert info.library_name == "peft" and info.pipeline_tag == "video-classification"
    assert info.card_data.base_model == "local-user/tiny-backbone"
    assert info.model_index[0]["results"][0]["metrics"][0]["value"] == 0.5
    assert api.model_info(repo_id, revision="v1").sha == first
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(repo_id)
    assert error.value.response.status_code == 409
    assert str(api.create_repo(repo_id, exist_ok=True)).endswith(repo_id)


def test_tree_listing(api, pushed):
    repo_id, first, _ = pushed
    top = {entry.path: type(entry).__name__ for entry in api.list_repo_tree(repo_id)}
    assert top["nested"] == "RepoFolder" and "nested/notes.txt" not in top
    recursive = {entry.path for entry in api.list_repo_tree(repo_id, recursive=True)}
    assert "nested/notes.txt" in recursive and "nested" in recursive
    inside = [entry.path for entry in api.list_repo_tree(repo_id, path_in_repo="nested", revision=first)]
    assert inside == ["nested/notes.txt"]


def test_download_into_empty_cache(hub, pushed, model_folder, tmp_path):
    repo_id, _, second = pushed
    path = hf_hub_download(
        repo_id, "adapter_model.safetensors", endpoint=hub.endpoint, cache_dir=tmp_path, token=TOKEN
    )
    assert second in path
    np.testing.assert_array_equal(
        load_file(path)["weight"], load_file(str(model_folder / "adapter_model.safetensors"))["weight"]
    )
    notes = hf_hub_download(repo_id, "nested/notes.txt", endpoint=hub.endpoint, cache_dir=tmp_path, token=TOKEN)
    assert open(notes).read() == "v2"


def test_snapshot_download_of_a_revision(hub, pushed, tmp_path):
    repo_id, first, _ = pushed
    for revision in ("v1", first):
        folder = snapshot_download(repo_id, revision=revision, endpoint=hub.endpoint, cache_dir=tmp_path, token=TOKEN)
        assert folder.endswith(first)
        assert (tmp_path / f"models--local-user--tiny-qclip/snapshots/{first}/nested/notes.txt").read_text() == "v1"


def test_unchanged_upload_makes_no_commit_and_deletions_work(api, model_folder):
    repo_id = "local-user/deletions"
    api.create_repo(repo_id)
    first = api.upload_folder(folder_path=model_folder, repo_id=repo_id).oid
    assert api.upload_folder(folder_path=model_folder, repo_id=repo_id).oid == first
    api.delete_folder("nested", repo_id=repo_id)
    api.delete_file("adapter_config.json", repo_id=repo_id)
    assert api.list_repo_files(repo_id) == [".gitattributes", "README.md", "adapter_model.safetensors"]
    assert "nested/notes.txt" in api.list_repo_files(repo_id, revision=first)
    with pytest.raises(EntryNotFoundError):
        api.delete_file("missing.txt", repo_id=repo_id)
    titles = [commit.title for commit in api.list_repo_commits(repo_id)]
    assert titles[-1] == "initial commit" and len(titles) == 4


def test_not_found_errors(hub, api, pushed, tmp_path):
    repo_id, _, _ = pushed
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("local-user/missing")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("local-user/missing", "x", endpoint=hub.endpoint, cache_dir=tmp_path, token=TOKEN)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "README.md", revision="no-such-branch", endpoint=hub.endpoint, cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "missing.bin", endpoint=hub.endpoint, cache_dir=tmp_path, token=TOKEN)


def test_private_repo_needs_a_token(hub, api, tmp_path):
    repo_id = "local-user/private"
    api.create_repo(repo_id, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo_id)
    assert api.model_info(repo_id).private is True
    anonymous = HfApi(endpoint=hub.endpoint, token=False)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "s.txt", endpoint=hub.endpoint, cache_dir=tmp_path, token=False)
    with pytest.raises(HfHubHTTPError):
        anonymous.create_repo("local-user/anonymous")


def test_yaml_validation(api):
    api.create_repo("local-user/cards")
    with pytest.raises(ValueError, match="Invalid metadata"):
        api.upload_file(path_or_fileobj=b"---\ntags: [a\n---\n", path_in_repo="README.md", repo_id="local-user/cards")
    bad_index = b"---\nmodel-index:\n- name: x\n  results:\n  - metrics: []\n---\n"
    with pytest.raises(ValueError, match="task.type"):
        api.upload_file(path_or_fileobj=bad_index, path_in_repo="README.md", repo_id="local-user/cards")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.upload_file(path_or_fileobj=b"# no metadata\n", path_in_repo="README.md", repo_id="local-user/cards")
    assert any("Empty or missing yaml metadata" in str(w.message) for w in caught)


def test_global_endpoint_and_offline_reload_in_subprocess(tmp_path, model_folder):
    cache = tmp_path / "hf_home"
    cache.mkdir()
    download = textwrap.dedent(
        """\
        import sys
        from huggingface_hub import constants, hf_hub_download, snapshot_download
        from safetensors.numpy import load_file
        assert constants.HF_HUB_OFFLINE == (sys.argv[2] == "offline"), constants.HF_HUB_OFFLINE
        folder = snapshot_download(sys.argv[1])
        weights = load_file(hf_hub_download(sys.argv[1], "adapter_model.safetensors"))
        print(constants.ENDPOINT, folder, float(weights["weight"].sum()))
        """
    )
    with LocalHubServer() as server:
        endpoint = server.endpoint
        script = "from huggingface_hub import HfApi; import sys; api = HfApi(); api.create_repo('local-user/sub'); "
        script += "print(api.upload_folder(folder_path=sys.argv[1], repo_id='local-user/sub').oid)"
        commit = run_with_hub(endpoint, script, cache, str(model_folder)).stdout.strip()
        online = run_with_hub(endpoint, download, cache, "local-user/sub", "online").stdout.split()
    assert online[0] == endpoint and online[1].endswith(commit) and float(online[2]) == 66.0
    # The server is gone: only the cache can answer.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(endpoint.rsplit(":", 1)[1]))) != 0
    offline = run_with_hub(endpoint, download, cache, "local-user/sub", "offline", offline=True).stdout.split()
    assert offline == online


def test_local_hub_context_manager(tmp_path):
    with local_hub(root=tmp_path) as endpoint:
        HfApi(endpoint=endpoint, token=TOKEN).create_repo("local-user/ctx", repo_type="dataset")
        assert HfApi(endpoint=endpoint).dataset_info("local-user/ctx").id == "local-user/ctx"
    assert (tmp_path / "blobs").is_dir()


def test_user_is_validated():
    with pytest.raises(ValueError, match="`user`"):
        LocalHubServer(user="a/b")
