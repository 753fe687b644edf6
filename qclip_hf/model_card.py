"""The Q-CLIP model card: Hub metadata, usage, training, evaluation, limitations, license and citation.

One renderer serves `QClipModel.save_pretrained` (README.md of a saved folder, possibly untrained) and
`training/train.py --push_to_hub` (with the reported epoch's metrics). The markdown comes from the jinja template
`qclip_hf/templates/model_card.md` (package data: a link to the top-level `model_card/template.md`, which
wheels ship as a file; `model_card/README.md` says where each field comes from); the YAML metadata from
`huggingface_hub.ModelCardData`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"

PAPER = {
    "arxiv": "2508.06092",
    "url": "https://arxiv.org/abs/2508.06092",
    "title": "Q-CLIP: Unleashing the Power of Vision-Language Models for Video Quality Assessment through Unified "
             "Cross-Modal Adaptation",
    # The authors of arXiv v2 (2025-10-09), in order.
    "authors": ("Yachun Mi", "Yu Li", "Yanting Li", "Chen Hui", "Tong Zhang", "Zhixuan Li", "Chenyue Song",
                "Wei Yang Bryan Lim", "Shaohui Liu"),
    "year": 2025,
}

BIBTEX = """@article{{mi2025qclip,
  title   = {{{title}}},
  author  = {{{authors}}},
  journal = {{arXiv preprint arXiv:{arxiv}}},
  year    = {{{year}}},
  url     = {{{url}}}
}}"""

# Licenses of the backbones' weights as published on their Hub pages (prefix match on the Hub id). A backbone not
# listed gets `other` with a note asking the uploader to check it.
BACKBONE_LICENSES: dict[str, str] = {
    "facebook/PE-Core-": "apache-2.0",
    "google/siglip": "apache-2.0",
    "openai/clip-vit-": "mit",
    "laion/CLIP-": "mit",
    "facebook/metaclip-": "cc-by-nc-4.0",
}

METRICS = ("srocc", "plcc", "krocc", "rmse")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def is_hub_id(value: str | None) -> bool:
    """Whether `value` is a Hub repo id (`name` or `namespace/name`) rather than a local path.

    Example:
        ```python
        >>> is_hub_id("facebook/PE-Core-L14-336"), is_hub_id("/data/backbone"), is_hub_id("outputs/demo/tiny")
        (True, False, False)
        ```
    """
    if not value or value.startswith((".", "/", "~")) or "\\" in value:
        return False
    return bool(_HUB_ID.match(value)) and not os.path.exists(value)


def backbone_license(backbone: str | None) -> str | None:
    """The license of a known backbone's weights (`None` when unknown or local).

    Example:
        ```python
        >>> backbone_license("facebook/PE-Core-L14-336"), backbone_license("someone/custom-clip")
        ('apache-2.0', None)
        ```
    """
    if not is_hub_id(backbone):
        return None
    for prefix, license_id in BACKBONE_LICENSES.items():
        if backbone.startswith(prefix):
            return license_id
    return None


def paper_bibtex() -> str:
    """The BibTeX entry of the Q-CLIP paper (arXiv 2508.06092)."""
    return BIBTEX.format(title=PAPER["title"], authors=" and ".join(PAPER["authors"]), arxiv=PAPER["arxiv"],
                         year=PAPER["year"], url=PAPER["url"])


def describe_data_spec(spec: str) -> str:
    """A data spec `KIND:PATH` as shown in a card: the dataset kind, never a local path.

    Example:
        ```python
        >>> describe_data_spec("KoNViD-1k:/data/KoNViD"), describe_data_spec("videofolder:/tmp/x/train")
        ('KoNViD-1k', 'a local video folder (train)')
        ```
    """
    kind, sep, path = str(spec).partition(":")
    if not sep:
        return kind if is_hub_id(kind) else f"a local dataset ({Path(kind).name})"
    if kind == "videofolder":
        return f"a local video folder ({Path(path.rstrip('/')).name})"
    return kind


def _format_metric(value: Any) -> str:
    if value is None:
        return "n/a"
    value = float(value)
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def _result_rows(results: Mapping[str, Mapping[str, Any]] | None, eval_sizes: Mapping[str, int] | None) -> list[dict]:
    rows = []
    for name, metrics in (results or {}).items():
        if not isinstance(metrics, Mapping) or not set(METRICS) & set(metrics):
            continue  # e.g. "epoch" or "step" entries of a history record
        size = (eval_sizes or {}).get(name)
        rows.append({"name": name, "size": "n/a" if size is None else f"{int(size):,}",
                     "raw": {m: metrics.get(m) for m in METRICS},
                     **{m: _format_metric(metrics.get(m)) for m in METRICS}})
    return rows


def _selection_text(selection: str | Mapping[str, Any] | None, results: Mapping | None) -> tuple[str, str]:
    """(how the reported epoch was chosen, the limitation it implies)."""
    if selection is None:
        if results:
            return ("not recorded", "How the reported epoch was chosen is not recorded: the metrics may be "
                    "optimistic if it was chosen on an evaluation set.")
        return ("none (untrained)", "")
    if isinstance(selection, str):
        return selection, f"Reported epoch: {selection}."
    rule = selection.get("rule") or "best mean of SROCC and PLCC"
    on = selection.get("selected_on")
    epoch = selection.get("epoch")
    text = f"{rule}" + (f" on {on!r}" if on else "") + (f" (epoch {epoch})" if epoch is not None else "")
    if not on:
        return text, f"Reported epoch: {text}."
    if selection.get("is_test_set", False):
        return (text + ": selected on the test set, as the paper and release do",
                f"The reported epoch was selected on the test set {on!r}, as the paper and release do: its metrics "
                "on that set are optimistic (no held-out selection set was used).")
    return text, (f"The reported epoch was selected on {on!r}, a validation set held out from training and from "
                  "the test sets.")


def _limitations(config: Any, trained: bool, train_data: str | None, mos_scale: str | None, selection_note: str,
                 fit: str | None) -> list[str]:
    items = []
    if mos_scale:
        items.append(f"Scores follow the training labels' scale ({mos_scale}).")
    if getattr(config, "quality_head", "linear") == "expected_level":
        items.append("The score is the expected level (bad = 1 ... excellent = 5) under the softmax over the five "
                     "prompts; it is not calibrated to any dataset's MOS.")
    else:
        items.append("The score is a learned weighted sum of prompt similarities, not a calibrated MOS: with the "
                     "correlation losses (PLCC + rank) only its order and linear trend are trained, so compare "
                     "videos by rank, or fit a monotonic (e.g. 4-parameter logistic) mapping to your MOS scale "
                     "before reading absolute values.")
    if trained and train_data:
        items.append(f"Trained only on {train_data}; quality judgements of other content (screen content, "
                     "animation, HDR, very long or very short videos) are untested.")
    if selection_note:
        items.append(selection_note)
    if fit and fit != "none":
        items.append(f"PLCC and RMSE are reported after a {fit} fit of the predictions to the labels (SROCC and "
                     "KROCC need none).")
    num_frames = getattr(config, "num_frames", None)
    if num_frames:
        items.append(f"Each video is judged from {num_frames} sampled frames: brief artefacts between them can be "
                     "missed, and temporal quality (stutter, frame drops) is only seen through those frames.")
    return items


def _license(license: str | None, backbone: str | None) -> tuple[str, str]:
    """(license id for the metadata, the License section's text)."""
    if license:
        return license, f"`{license}` (chosen by the uploader). The backbone `{backbone}` keeps its own license."
    known = backbone_license(backbone)
    if known:
        return known, (f"`{known}`, the license of the backbone `{backbone}` whose weights this model needs. Check "
                       "the license of the data it was trained on too.")
    return "other", ("`other`: the backbone's license is not known to qclip-hf. Before reusing this model, check the "
                     f"license of the backbone `{backbone or 'random weights'}` and of the training data, and set "
                     "one with `--hub_license`.")


def render_model_card(
    config: Any,
    *,
    repo_id: str | None = None,
    results: Mapping[str, Mapping[str, Any]] | None = None,
    eval_sizes: Mapping[str, int] | None = None,
    train_data: str | Sequence[str] | None = None,
    license: str | None = None,
    base_model: str | None = None,
    datasets: Sequence[str] | None = None,
    selection: str | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    template_path: str | os.PathLike | None = None,
) -> str:
    """The model card (README.md markdown with YAML metadata) of a Q-CLIP model.

    Args:
        config ([`QClipConfig`]): the model's configuration (an untrained model's works: the card then says so).
        repo_id (`str`, *optional*): Hub id used in the usage snippets and as the model name; defaults to a
            placeholder `path/to/model`.
        results (`dict`, *optional*): `{eval_set_name: {"srocc", "plcc", "krocc", "rmse"}}` of the reported epoch
            (non-metric entries such as `"epoch"` are ignored). Also written as the metadata's `model-index`.
        eval_sizes (`dict`, *optional*): `{eval_set_name: number of videos}`, shown beside each result.
        train_data (`str` or list of `str`, *optional*): the training data spec(s) `KIND:PATH`; only the kind is
            shown, never the local path. With neither `train_data` nor `results` the card says that no training
            is recorded.
        license (`str`, *optional*): the Hub license id; defaults to the backbone's license where known (see
            [`BACKBONE_LICENSES`]), else `"other"` with a note.
        base_model (`str`, *optional*): the backbone's Hub id; defaults to `config.backbone` when that is a Hub id
            (a local path is never written to the metadata).
        datasets (list of `str`, *optional*): Hub dataset ids trained/evaluated on. Entries that are not Hub ids
            (local paths, `KIND:PATH` specs) are dropped.
        selection (`str` or `dict`, *optional*): how the reported epoch was chosen: `{"selected_on": name, "rule":
            text, "epoch": int, "is_test_set": bool}`; `is_test_set=True` is stated plainly in the card.
        extra (`dict`, *optional*): more details: `recipe` (str), `num_trainable_parameters` (int), `mos_scale`
            (str, e.g. `"MOS 1-5"`), `fit` (`"none"`, `"rescale"` or `"logistic"`), `tags` (list of str) and
            `sections` (`{title: markdown}` appended before the citation).
        template_path (`str`, *optional*): another jinja template.

    Returns:
        `str`: the markdown of the card.

    Example:
        ```python
        >>> from qclip_hf import QClipConfig
        >>> from qclip_hf.model_card import render_model_card
        >>> card = render_model_card(QClipConfig(backbone="facebook/PE-Core-L14-336"), repo_id="me/qclip",
        ...                          results={"KoNViD-1k": {"srocc": 0.9, "plcc": 0.91, "krocc": 0.72, "rmse": 0.3}},
        ...                          eval_sizes={"KoNViD-1k": 240}, train_data="LSVQ-train:/data/LSVQ")
        >>> "arXiv:2508.06092" in card and "| KoNViD-1k | 240 |" in card
        True
        ```
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    template_path = Path(template_path or DEFAULT_TEMPLATE)
    if not template_path.is_file():
        raise FileNotFoundError(f"model card template {template_path} not found; pass template_path=.")
    extra = dict(extra or {})
    unknown = set(extra) - {"recipe", "num_trainable_parameters", "mos_scale", "fit", "tags", "sections"}
    if unknown:
        raise ValueError(f"render_model_card: unknown extra keys {sorted(unknown)}; allowed: recipe, "
                         "num_trainable_parameters, mos_scale, fit, tags, sections.")
    fit = extra.get("fit")
    fits = (None, "none", "rescale", "logistic", "logistic4", "logistic5")
    if fit not in fits:
        raise ValueError(f"render_model_card: extra['fit']={fit!r}; allowed: {', '.join(map(repr, fits[1:]))}.")
    fit = {"logistic": "4-parameter logistic", "logistic4": "4-parameter logistic",
           "logistic5": "5-parameter logistic"}.get(fit, fit)

    backbone = getattr(config, "backbone", None)
    if base_model is None and is_hub_id(backbone):
        base_model = backbone
    if base_model is not None and not is_hub_id(base_model):
        raise ValueError(f"base_model={base_model!r} is a local path; the card's metadata needs a Hub id "
                         "(push the backbone, or name its Hub id with --hub_backbone_id).")
    if isinstance(train_data, str):
        train_data = [train_data]
    train_text = ", ".join(describe_data_spec(spec) for spec in train_data) if train_data else None
    hub_datasets = [d for d in (datasets or []) if is_hub_id(d) and ":" not in d]
    rows = _result_rows(results, eval_sizes)
    trained = bool(train_data) or bool(rows)
    selection_text, selection_note = _selection_text(selection, results)
    license_id, license_text = _license(license, base_model or backbone)

    model_name = (repo_id or "qclip-model").rstrip("/").split("/")[-1]
    eval_results = [
        EvalResult(task_type="video-quality-assessment", task_name="Video Quality Assessment",
                   dataset_type=row["name"], dataset_name=row["name"], metric_type=metric, metric_name=metric.upper(),
                   metric_value=float(row["raw"][metric]))
        for row in rows for metric in METRICS
        if row["raw"][metric] is not None and not math.isnan(float(row["raw"][metric]))
    ]
    card_data = ModelCardData(
        library_name="qclip-hf",
        base_model=base_model,
        tags=["video-quality-assessment", "q-clip", "scma", "peft", *extra.get("tags", [])],
        datasets=hub_datasets or None,
        pipeline_tag="video-classification",
        license=license_id,
        model_name=model_name,
        eval_results=eval_results or None,
    )
    use_adapter = getattr(config, "use_adapter", True) and getattr(config, "scma_config", None)
    scma = config.scma_config if use_adapter else None
    scma_summary = (f"r={scma['r']}, {scma['layers']} layers, {scma['placement']}" if scma else "disabled")
    head = getattr(config, "quality_head", "linear")
    head_summary = ("learnable weighted sum" if head == "linear" else "parameter-free expected level (1-5)")
    num_trainable = extra.get("num_trainable_parameters")
    if backbone is None:
        backbone_source = "its built-in architecture with random weights (`backbone_config`)"
    elif is_hub_id(backbone):
        backbone_source = f"its own Hub repository [`{backbone}`](https://huggingface.co/{backbone})"
    else:
        backbone_source = f"the local path `{backbone}`, which must exist where the model is loaded"
    sections = [{"title": title, "body": body} for title, body in (extra.get("sections") or {}).items()]
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path),
        model_name=model_name,
        repo_id=repo_id or "path/to/model",
        paper={**PAPER, "authors_text": ", ".join(PAPER["authors"])},
        bibtex=paper_bibtex(),
        backbone=backbone or "randomly initialised",
        backbone_source=backbone_source,
        scma_summary=scma_summary,
        head_summary=head_summary,
        num_context=getattr(config, "num_context_tokens", 0),
        prompt_example=config.prompts()[0],
        levels=", ".join(config.level_names),
        num_trainable=f"{int(num_trainable):,}" if num_trainable is not None else None,
        trained=trained,
        train_data=train_text,
        recipe=extra.get("recipe"),
        selection_text=selection_text,
        results=rows,
        fit_text=(f"PLCC and RMSE after a {fit} fit of the predictions to the labels." if fit and fit != "none"
                  else ("PLCC and RMSE on the raw predictions (no fit)." if fit == "none" else None)),
        limitations=_limitations(config, trained, train_text, extra.get("mos_scale"), selection_note, fit),
        license_text=license_text,
        extra_sections=sections,
    )
    return str(card)
