"""The keywords `QClipModel.from_pretrained` receives through every door transformers offers (issue 21 item 1).

transformers 5.25's `AutoModel.from_pretrained` passes `proxies=None, subfolder=''` (and more) to the model class;
a loader that refused them broke the Auto classes, `pipeline()`, Hub ids and `trust_remote_code`. Here: what
transformers passes is accepted (and `subfolder` honoured), a user's typo is still refused by name.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import AutoConfig, AutoModel, pipeline

from qclip_hf import QClipModel
from qclip_hf.models.qclip.loading_qclip import UNSUPPORTED_LOADING_OPTIONS, check_loading_kwargs

PIXELS = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _scores(model) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(PIXELS).scores


@pytest.fixture(scope="module")
def nested(model_dir, tmp_path_factory):
    """A repo-like folder whose model sits in `qclip/` (transformers' `subfolder=` layout)."""
    root = tmp_path_factory.mktemp("repo")
    QClipModel.from_pretrained(model_dir).save_pretrained(root / "qclip")
    return root


def test_every_keyword_transformers_passes_at_its_default_is_accepted(model_dir):
    # What a transformers `from_pretrained` can be handed without the caller asking for anything.
    defaults = {name: values[0] for name, values in UNSUPPORTED_LOADING_OPTIONS.items()}
    loaded = QClipModel.from_pretrained(model_dir, proxies=None, subfolder="", _from_auto=True, _from_pipeline=None,
                                        trust_remote_code=False, adapter_kwargs={}, _commit_hash=None,
                                        code_revision=None, **defaults)
    assert torch.equal(_scores(loaded), _scores(QClipModel.from_pretrained(model_dir)))


def test_auto_model_and_pipeline_load_with_todays_transformers(model_dir):
    expected = _scores(QClipModel.from_pretrained(model_dir))
    assert torch.equal(_scores(AutoModel.from_pretrained(model_dir)), expected)
    pipe = pipeline("video-quality", model=model_dir)
    assert isinstance(pipe.model, QClipModel)
    assert torch.equal(_scores(pipe.model), expected)


def test_subfolder_is_honoured_by_every_door(nested, model_dir):
    expected = _scores(QClipModel.from_pretrained(model_dir))
    assert torch.equal(_scores(QClipModel.from_pretrained(nested, subfolder="qclip")), expected)
    assert AutoConfig.from_pretrained(nested, subfolder="qclip").model_type == "qclip"
    assert torch.equal(_scores(AutoModel.from_pretrained(nested, subfolder="qclip")), expected)
    with pytest.raises(Exception, match="has no subfolder 'nope'"):
        QClipModel.from_pretrained(nested, subfolder="nope")


def test_proxies_are_handed_to_huggingface_hub(model_dir):
    # A local folder needs no request; the value is accepted (huggingface_hub >= 1.0 takes proxies globally).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = QClipModel.from_pretrained(model_dir, proxies={"https": "http://127.0.0.1:9"})
    assert torch.equal(_scores(loaded), _scores(QClipModel.from_pretrained(model_dir)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"revison": "main"}, "unexpected keyword argument 'revison' (did you mean 'revision'?)"),
    ({"num_frame": 8}, "unexpected keyword argument 'num_frame' (did you mean 'num_frames'?)"),
    ({"colour": 3}, "unexpected keyword argument 'colour'."),
    ({"device_map": "auto"}, "does not support device_map='auto'"),
    ({"quantization_config": {"load_in_8bit": True}}, "does not support quantization_config="),
])
def test_a_typo_or_an_option_qclip_cannot_honour_is_refused_by_name(model_dir, kwargs, message):
    with pytest.raises(ValueError) as err:
        QClipModel.from_pretrained(model_dir, **kwargs)
    assert message in str(err.value)
    with pytest.raises(ValueError) as err:  # the Auto door refuses it the same way
        AutoModel.from_pretrained(model_dir, **kwargs)
    assert message in str(err.value)


def test_config_attributes_still_override_the_saved_config(model_dir):
    assert QClipModel.from_pretrained(model_dir, num_frames=2).config.num_frames == 2


def test_check_loading_kwargs_empties_what_it_accepts():
    kwargs = {"_from_auto": True, "device_map": None, "use_safetensors": True}
    check_loading_kwargs(kwargs)
    assert kwargs == {}
