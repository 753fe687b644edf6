#!/usr/bin/env python
"""Train Q-CLIP's SCMA adapter, prompt context and head with 🤗 Accelerate.

    accelerate launch training/train.py --backbone facebook/PE-Core-L14-336 --preset reference \
        --train_data LSVQ-train:/data/LSVQ --eval_data LSVQ-test=LSVQ-test:/data/LSVQ \
        --eval_data KoNViD-1k=KoNViD-1k:/data/KoNViD --labels_dir ../shared/data_labels --output_dir runs/lsvq

`--recipe reference` (default) is the authors' released loop, `--recipe paper` the paper's text; explicit flags
override (docs/training.md). `--batch_size` is per process (global = batch_size x processes x accumulation); N
processes train the model one process trains. OUTPUT/best/ is the selected epoch (on --val_data / --val_fraction, else
on the first --eval_data set: "selected on the test set"), OUTPUT/last/ the last; results.json keeps every epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.data.checks import ON_MISSING_CHOICES, check_data_files
from qclip_hf.data.raw_format import parse_raw_format
from qclip_hf.data.specs import video_input
from qclip_hf.errors import QClipError
from qclip_hf.losses import build_loss
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.reporting.predictions import write_eval_predictions
from qclip_hf.reporting.tables import format_epoch_table
from qclip_hf.reporting.training_plots import write_training_plots
from qclip_hf.training.batching import GlobalBatchSampler, MaskedItems
from qclip_hf.training.calibration import fit_selection_calibration, kept_calibration, training_mos_range
from qclip_hf.training.checkpointing import register_trainable_only_checkpointing, save_checkpoint
from qclip_hf.training.data import VideoQualityDataset
from qclip_hf.training.distributed import check_launch, gather_for_loss
from qclip_hf.training.evaluation import evaluate
from qclip_hf.training.hub import check_hub_backbone, push_trained_model, trained_model_card
from qclip_hf.training.logging_setup import REPORT_TO_CHOICES, quiet_third_party_logs, resolve_report_to
from qclip_hf.training.recipes import RECIPE_NAMES, apply_recipe
from qclip_hf.training.run_results import (
    TEST_SET_NOTE,
    describe_best,
    run_summary,
    truncate_steps_log,
    write_json_atomic,
)
from qclip_hf.training.saving import freeze_undetermined_parameters, resume_from_checkpoint, save_model_dir
from qclip_hf.training.selection import SELECTION_RULES, EpochSelector, carve_selection_sets
from qclip_hf.video.sampling import STRATEGY_NAMES

logger = get_logger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_argument_group("model")
    model.add_argument("--backbone", default=None, help="Hub id or path of the dual encoder (default: the preset's).")
    model.add_argument("--preset", default="reference", choices=["reference", "paper", "zero_shot"])
    model.add_argument("--scma", default=None, help='JSON overrides of the SCMA settings, e.g. \'{"r": 8}\'.')
    model.add_argument("--init_from", default=None, help="A trained Q-CLIP (local dir or Hub id) to fine-tune.")
    model.add_argument("--recipe", default="reference", choices=RECIPE_NAMES,
                       help="reference: the authors' released loop; paper: the paper's text. Flags below override.")
    data = parser.add_argument_group("data")
    data.add_argument("--train_data", required=True, help="KIND:PATH (videofolder:DIR or e.g. LSVQ-train:ROOT).")
    data.add_argument("--eval_data", action="append", default=[], metavar="NAME=KIND:PATH",
                      help="A named test set; repeat for several. Selects the shipped epoch when there is no "
                           "--val_data / --val_fraction (the first one; 'selected on the test set').")
    data.add_argument("--val_data", default=None, metavar="NAME=KIND:PATH",
                      help="The validation set that selects the shipped epoch (OUTPUT/best/).")
    data.add_argument("--val_fraction", type=float, default=None,
                      help="Carve this fraction of --train_data out as the validation set (fixed seed 42), named 'val'.")
    data.add_argument("--labels_dir", default=None, help="The standard label lists (../shared/data_labels).")
    data.add_argument("--protocol_split", type=int, default=None, metavar="K",
                      help="Fine-tuning protocol: train on the 80%% part of split K of --train_data (DOVER's "
                           "random.seed(42*(K+1)) shuffle) and evaluate on its 20%% part, named 'split-K', first.")
    data.add_argument("--label_column", default="mos")
    data.add_argument("--num_frames", type=int, default=8)
    data.add_argument("--image_size", type=int, default=None, help="Frame side; default: the backbone's.")
    data.add_argument("--train_sampling", default=None, choices=STRATEGY_NAMES, help="Recipe: UNISampl / Mixed.")
    data.add_argument("--eval_sampling", default=None, choices=STRATEGY_NAMES, help="Recipe: UNISampl.")
    data.add_argument("--drop_last", default=None, action=argparse.BooleanOptionalAction,
                      help="Drop the last partial global batch (recipe: reference keeps it, paper drops it).")
    data.add_argument("--num_workers", type=int, default=0)
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--learning_rate", type=float, default=None, help="Recipe: 1e-3 (CVD2014 fine-tuning 2e-3).")
    optim.add_argument("--weight_decay", type=float, default=None, help="Recipe: 1e-4 (most fine-tuning 5e-2).")
    optim.add_argument("--num_epochs", type=int, default=None, help="Recipe: 8.")
    optim.add_argument("--warmup_epochs", type=float, default=None, help="Recipe: 1.")
    optim.add_argument("--batch_size", type=int, default=None,
                       help="Per process (recipe: 12); global = batch_size x processes x gradient_accumulation_steps.")
    optim.add_argument("--eval_batch_size", type=int, default=None)
    optim.add_argument("--gradient_accumulation_steps", type=int, default=1)
    optim.add_argument("--max_train_steps", type=int, default=None, help="Stop after this many optimizer steps.")
    optim.add_argument("--loss", default=None, help='"plcc", "rank", "mse" or a sum (recipe: "plcc+rank").')
    optim.add_argument("--rank_weight", type=float, default=0.3)
    optim.add_argument("--mixed_precision", default=None, choices=["no", "fp16", "bf16"])
    optim.add_argument("--seed", type=int, default=42)
    evaluation = parser.add_argument_group("evaluation and selection")
    evaluation.add_argument("--fit", default=None, choices=["none", "rescale", "logistic"],
                            help="Map predictions to labels before PLCC/RMSE (recipe: reference rescale, paper none).")
    evaluation.add_argument("--select_on_test_set", action="store_true",
                            help="Without --val_data / --val_fraction, select best/ on the first --eval_data set on "
                                 "purpose, as the paper and release do (no warning; the run's summary still says so).")
    evaluation.add_argument("--selection_rule", default=None, choices=SELECTION_RULES,
                            help="Which epoch is shipped as best/ (recipe: reference 'release', paper "
                                 "'mean_srocc_plcc').")
    evaluation.add_argument("--mos_range", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                            help="The labels' MOS scale, e.g. 1 5: the calibration saved with best/ and last/ maps "
                                 "scores to it and its five equal bands are the levels (default: a standard "
                                 "dataset's scale, else the lowest and highest label).")
    run = parser.add_argument_group("run")
    run.add_argument("--output_dir", required=True)
    run.add_argument("--checkpoints_total_limit", type=int, default=None, help="Keep only the newest N checkpoints.")
    run.add_argument("--checkpointing_steps", default="epoch", help='"epoch", an int N (every N steps) or "none".')
    run.add_argument("--resume_from_checkpoint", default=None, help='A checkpoint dir or "latest".')
    run.add_argument("--with_tracking", action="store_true", help="Log to TensorBoard (when installed).")
    run.add_argument("--cpu", action="store_true", help="Run on CPU even if a GPU is present.")
    run.add_argument("--push_to_hub", action="store_true")
    run.add_argument("--hub_model_id", default=None)
    run.add_argument("--hub_private", action="store_true")
    run.add_argument("--hub_token", default=None)
    # [training-reports] data checks, raw video, trackers, logs and the Hub backbone.
    reports = parser.add_argument_group("data checks, reports and Hub backbone")
    reports.add_argument("--on_missing", default="error", choices=ON_MISSING_CHOICES,
                         help="A listed video missing, unreadable or with a partial raw frame: stop before loading the "
                              "model (error, naming them) or leave it out and record it in results.json (skip).")
    reports.add_argument("--raw_format", default=None, metavar="WIDTHxHEIGHT[:PIX_FMT[:FPS]]",
                         help="Geometry of raw .yuv videos (LIVE-Qualcomm's 1920x1080 yuv420p is known), e.g. "
                              "352x288:yuv420p:25.")
    reports.add_argument("--report_to", default=None, choices=REPORT_TO_CHOICES,
                         help="Experiment trackers, as in the transformers examples (default none; --with_tracking "
                              "= tensorboard). One not installed is skipped with a warning.")
    reports.add_argument("--verbose", action="store_true", help="Show third-party INFO logs (HTTP requests, ...).")
    reports.add_argument("--hub_backbone_id", default=None,
                         help="With --push_to_hub and a local --backbone: the Hub repo holding the same backbone, "
                              "named in the pushed config.")
    reports.add_argument("--hub_push_backbone", action="store_true",
                         help="With --push_to_hub and a local --backbone: upload it too (to --hub_backbone_id or "
                              "<hub_model_id>-backbone).")
    reports.add_argument("--hub_license", default=None,
                         help="License id for the model card (default: the backbone's where known, else 'other').")
    reports.add_argument("--hub_dataset_ids", action="append", default=None, metavar="NAMESPACE/NAME",
                         help="A Hub dataset id the model was trained or evaluated on, listed in the card's metadata "
                              "(repeat for several; local paths are never listed).")
    args = parser.parse_args(argv)
    if args.raw_format is not None:
        try:
            parse_raw_format(args.raw_format)
        except ValueError as error:
            parser.error(f"--raw_format: {error}")
    args.recipe_sources = apply_recipe(args)
    args.fit = "logistic4" if args.fit == "logistic" else args.fit  # the metrics module's name for it
    if args.push_to_hub and not args.hub_model_id:
        parser.error("--push_to_hub needs --hub_model_id user/name.")
    if args.checkpointing_steps not in ("epoch", "none") and not args.checkpointing_steps.isdigit():
        parser.error(f'--checkpointing_steps={args.checkpointing_steps!r}: use "epoch", "none" or a positive int.')
    if args.protocol_split is not None and args.protocol_split < 0:
        parser.error(f"--protocol_split must be >= 0, got {args.protocol_split}.")
    if args.val_data and args.val_fraction is not None:
        parser.error("give --val_data or --val_fraction, not both.")
    if args.val_fraction is not None and not 0.0 < args.val_fraction < 1.0:
        parser.error(f"--val_fraction must be in (0, 1), got {args.val_fraction}.")
    if args.checkpoints_total_limit is not None and args.checkpoints_total_limit < 1:
        parser.error(f"--checkpoints_total_limit must be >= 1, got {args.checkpoints_total_limit}.")
    for name in ("num_frames", "batch_size", "num_epochs", "gradient_accumulation_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}.")
    try:
        build_loss(args.loss, rank_weight=args.rank_weight)
    except ValueError as error:
        parser.error(f"--loss: {error}")
    args.eval_sets = []
    for flag, item in [("--eval_data", item) for item in args.eval_data] + [("--val_data", args.val_data)] * bool(
            args.val_data):
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            parser.error(f"{flag} {item!r} must look like NAME=KIND:PATH.")
        if name in dict(args.eval_sets):
            parser.error(f"{flag} {item!r}: the name {name!r} is used twice.")
        args.eval_sets.append((name, spec))
    return args


def build_model(args: argparse.Namespace) -> QClipModel:
    if args.init_from:
        return QClipModel.from_pretrained(args.init_from).train()
    overrides = {"num_frames": args.num_frames}
    if args.backbone:
        overrides["backbone"] = args.backbone
    if args.scma:
        overrides["scma_config"] = json.loads(args.scma)
    return QClipModel(QClipConfig.from_preset(args.preset, **overrides))


TRAIN_SET = "--train_data"  # the training set's key in the data check (eval-set names cannot start with "--")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # 1. Accelerator: DDP / multi-node / mixed precision come from `accelerate launch`. Gradient accumulation is done
    #    below (not by Accelerate) so that it is the same for 1 and N processes, the last partial group included.
    quiet_third_party_logs(args.verbose)  # [training-reports] no httpx/filelock INFO lines unless --verbose
    log_with = resolve_report_to(args.report_to or ("tensorboard" if args.with_tracking else "none"))
    accelerator = Accelerator(mixed_precision=args.mixed_precision, log_with=log_with, project_dir=args.output_dir,
                              cpu=args.cpu)
    check_launch(accelerator, cpu=args.cpu)  # before any work: a broken launch would run N independent trainings
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("accelerate").setLevel(logging.INFO if args.verbose else logging.WARNING)  # 6 lines a checkpoint
    # 2. Seed.
    set_seed(args.seed)

    # [training-reports] Every listed video is checked (present, readable, whole raw frames) and a Hub push's backbone
    # validated BEFORE the model loads: a bad path costs a second, not an epoch.
    data_check = check_data_files({TRAIN_SET: args.train_data, **dict(args.eval_sets)}, labels_dir=args.labels_dir,
                                  on_missing=args.on_missing, raw_format=args.raw_format,
                                  label_column=args.label_column)
    if args.push_to_hub:
        planned = args.backbone or (QClipConfig.from_pretrained(args.init_from) if args.init_from else
                                    QClipConfig.from_preset(args.preset)).backbone
        check_hub_backbone(planned, hub_backbone_id=args.hub_backbone_id, push_backbone=args.hub_push_backbone,
                           repo_id=args.hub_model_id)

    # 3. Model (needed before the data: the processor takes the backbone's frame size).
    model = build_model(args)
    loss_fn = build_loss(args.loss, rank_weight=args.rank_weight, single_sample=args.single_sample)
    frozen = freeze_undetermined_parameters(model, loss_fn.weights)
    size = {"size": {"height": args.image_size, "width": args.image_size}} if args.image_size else {}
    processor = QClipVideoProcessor.for_model(model, sampling_strategy=args.train_sampling,
                                              eval_strategy=args.eval_sampling, seed=args.seed, **size)

    # 4. Data. The selection set is --val_data, a --val_fraction of the training data, or the first --eval_data set.
    train_data = data_check.datasets[TRAIN_SET]
    eval_data = {name: data_check.datasets[name] for name, _ in args.eval_sets}
    train_data, eval_data, selection_set, selection_on_test = carve_selection_sets(train_data, eval_data, args)
    train_set = VideoQualityDataset(train_data, processor, args.label_column, training=True,
                                    sampling_strategy=args.train_sampling, seed=args.seed,
                                    name=f"--train_data {args.train_data}",
                                    raw_format=data_check.raw_formats[TRAIN_SET])
    eval_sets = {name: VideoQualityDataset(ds, processor, args.label_column, sampling_strategy=args.eval_sampling,
                                           name=f"--eval_data {name}",
                                           raw_format=data_check.raw_formats.get(name, data_check.raw_formats[TRAIN_SET]))
                 for name, ds in eval_data.items()}
    # The MOS scale the calibration of best/ and last/ maps raw scores to (qclip_hf/training/calibration.py).
    mos_range = training_mos_range(args.train_data, args.label_column, [train_set.labels] + (
        [eval_sets[selection_set].labels] if selection_set in eval_sets else []), args.mos_range)
    last_scored: tuple[int | None, dict | None] = (None, None)  # the selection set's predictions of the last epoch
    # The same global batches whatever the number of processes (see qclip_hf/training/batching.py).
    batch_sampler = GlobalBatchSampler(len(train_set), args.batch_size, accelerator.num_processes,
                                       accelerator.process_index, seed=args.seed, drop_last=args.drop_last)
    if batch_sampler.num_batches() == 0:
        raise QClipError(f"--train_data has {len(train_set)} videos, fewer than one global batch of "
                         f"{batch_sampler.global_batch_size}, and --drop_last drops it",
                         "lower --batch_size or pass --no-drop_last")
    train_loader = DataLoader(MaskedItems(train_set), batch_sampler=batch_sampler, num_workers=args.num_workers)
    eval_loaders = {name: DataLoader(ds, batch_size=args.eval_batch_size or args.batch_size, num_workers=args.num_workers)
                    for name, ds in eval_sets.items()}

    # 5. Optimizer over the trainable parameters only (adapter, prompt context, head).
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.weight_decay)

    # 6. Scheduler: linear warm-up for `warmup_epochs`, then cosine to zero. A prepared scheduler is stepped once per
    #    process at every optimizer step, so its step counts are multiplied by the number of processes (as in
    #    Accelerate's *_no_trainer examples): the learning rate of step k is then the same for 1 and N processes.
    steps_per_epoch = math.ceil(batch_sampler.num_batches() / args.gradient_accumulation_steps)
    total_steps = args.num_epochs * steps_per_epoch
    if args.max_train_steps is not None:
        total_steps = min(total_steps, args.max_train_steps)
    num_processes = accelerator.num_processes
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(args.warmup_epochs * steps_per_epoch) * num_processes,
                                                max(args.num_epochs * steps_per_epoch, 1) * num_processes)

    # 7. prepare (the training loader is not prepared: the batch sampler already shards it).
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    for name in eval_loaders:
        eval_loaders[name] = accelerator.prepare(eval_loaders[name])
    register_trainable_only_checkpointing(accelerator)
    unwrapped = accelerator.unwrap_model(model)
    if accelerator.is_main_process:
        logger.info("recipe %s; trainable parameters: %d%s; %d train videos, %d steps/epoch, %d steps, global batch %d",
                    args.recipe, unwrapped.num_trainable_parameters(), f" (frozen, undetermined by the loss: {frozen})"
                    if frozen else "", len(train_set), steps_per_epoch, total_steps,
                    batch_sampler.global_batch_size * args.gradient_accumulation_steps)
        if selection_on_test and selection_set and not args.select_on_test_set:
            logger.warning("best/ is %s (%r): pass --val_data or --val_fraction to select on held-out data.",
                           TEST_SET_NOTE, selection_set)
    if log_with:
        accelerator.init_trackers("qclip", config={k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))})

    # 8. Resume: the checkpoint (refused if it belongs to another model) holds the step, the history and best/.
    completed_steps, history, epoch_loss = 0, [], [0.0, 0]
    selector = EpochSelector(args.selection_rule, selection_set)
    if args.resume_from_checkpoint:
        completed_steps, history, epoch_loss = resume_from_checkpoint(
            accelerator, args.output_dir, args.resume_from_checkpoint, unwrapped, selector, steps_per_epoch)
    start_epoch = completed_steps // steps_per_epoch
    skip_batches = (completed_steps % steps_per_epoch) * args.gradient_accumulation_steps
    steps_log = os.path.join(args.output_dir, "train_steps.jsonl")
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
        truncate_steps_log(steps_log, completed_steps)

    def write_results() -> dict:
        summary = run_summary(args, history, selector, selection_on_test, completed_steps=completed_steps,
                              num_processes=accelerator.num_processes, frozen_parameters=frozen,
                              global_batch_size=batch_sampler.global_batch_size * args.gradient_accumulation_steps,
                              eval_sizes={name: len(ds) for name, ds in eval_sets.items()},
                              data_check=data_check.to_json())
        if accelerator.is_main_process:
            write_json_atomic(os.path.join(args.output_dir, "results.json"), summary)
        return summary

    def checkpoint_now() -> None:
        save_checkpoint(accelerator, args.output_dir, completed_steps, unwrapped,
                        {"history": history, "epoch_loss": epoch_loss}, total_limit=args.checkpoints_total_limit,
                        extra_dirs={"best": os.path.join(args.output_dir, "best")})

    # 9. Loop.
    progress = tqdm(total=total_steps, initial=completed_steps, disable=not accelerator.is_local_main_process,
                    desc="train")
    evaluated: dict[str, str] = {}  # the last evaluation, shown on the bar
    for epoch in range(start_epoch, args.num_epochs):
        if completed_steps >= total_steps:
            break
        model.train()
        train_set.set_epoch(epoch)
        batch_sampler.set_epoch(epoch, start_batch=skip_batches)
        num_batches, first_batch, skip_batches = batch_sampler.num_batches(), skip_batches, 0
        step_loss = 0.0
        for micro, batch in enumerate(train_loader, start=first_batch):
            # Micro-batches are grouped by `gradient_accumulation_steps`; the last group of an epoch may be shorter.
            group_start = micro - micro % args.gradient_accumulation_steps
            group_size = min(args.gradient_accumulation_steps, num_batches - group_start)
            sync = micro + 1 == group_start + group_size
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                scores = model(pixel_values_videos=batch["pixel_values_videos"]).scores
                scores, labels, valid = gather_for_loss(scores.float(), batch["labels"].float(), batch["valid"])
                loss = loss_fn(scores[valid], labels[valid]) / group_size
                accelerator.backward(loss)
            step_loss += loss.item()
            if not sync:
                continue
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            completed_steps += 1
            lr = scheduler.get_last_lr()[0]
            epoch_loss = [epoch_loss[0] + step_loss, epoch_loss[1] + 1]
            progress.update(1)
            progress.set_postfix(loss=f"{step_loss:.4f}", epoch=epoch, **evaluated)
            if accelerator.is_main_process:
                with open(steps_log, "a") as handle:
                    handle.write(json.dumps({"step": completed_steps, "epoch": epoch, "loss": step_loss, "lr": lr}) + "\n")
            if log_with:
                accelerator.log({"train/loss": step_loss, "train/lr": lr}, step=completed_steps)
            step_loss = 0.0
            epoch_ends = micro + 1 == num_batches or completed_steps >= total_steps
            # A checkpoint at an epoch's last step waits for that epoch's evaluation, so a resume never skips it.
            if args.checkpointing_steps.isdigit() and completed_steps % int(args.checkpointing_steps) == 0 \
                    and not epoch_ends:
                checkpoint_now()
            if completed_steps >= total_steps:
                break
        metrics, coverage, scored_sets = {}, {}, {}
        for name, loader_ in eval_loaders.items():
            metrics[name], scored = evaluate(accelerator, model, loader_, description=f"eval {name}", fit=args.fit)
            scored_sets[name] = scored
            coverage[name] = {"scored": int(len(scored["index"])), "unique": int(len(set(scored["index"].tolist()))),
                              "dataset": len(eval_sets[name])}
            if log_with:
                accelerator.log({f"{name}/{k}": v for k, v in metrics[name].items()}, step=completed_steps)
        history.append({"epoch": epoch, "step": completed_steps, "lr": scheduler.get_last_lr()[0],
                        "train_loss": epoch_loss[0] / max(epoch_loss[1], 1), "metrics": metrics,
                        "eval_coverage": coverage, "partial": completed_steps % steps_per_epoch != 0})
        epoch_loss = [0.0, 0]
        selected = selector.update(epoch, metrics)
        # On the progress bar, not printed: the table at the end lists every epoch's metrics once (not twice).
        evaluated = selector.progress_postfix(metrics)
        progress.set_postfix(loss=f"{history[-1]['train_loss']:.4f}", epoch=epoch, **evaluated)
        last_scored = (epoch, scored_sets.get(selection_set))
        if selected and accelerator.is_main_process:
            # The map raw score -> MOS, fitted on this epoch's predictions of the selection set, ships with best/.
            calibration, note = fit_selection_calibration(
                scored_sets.get(selection_set), set_name=selection_set, dataset=dict(args.eval_sets).get(selection_set),
                epoch=epoch, is_test_set=selection_on_test, mos_range=mos_range)
            logger.info("best/ (epoch %d) %s", epoch, note)
            save_model_dir(accelerator.unwrap_model(model), processor, os.path.join(args.output_dir, "best"),
                           describe_best(selector, history, selection_on_test), calibration=calibration)
            for name, scored in scored_sets.items():  # [training-reports] OUTPUT/predictions/<set>.csv of best/
                write_eval_predictions(args.output_dir, name, [str(video_input(v)) for v in eval_data[name]["video"]],
                                       scored, unwrapped.config.level_names)
        write_results()
        if args.checkpointing_steps == "epoch" or (args.checkpointing_steps.isdigit()
                                                  and completed_steps % int(args.checkpointing_steps) == 0):
            checkpoint_now()
    progress.close()

    # 10. Save the last epoch beside best/, write the results, push best/.
    accelerator.wait_for_everyone()
    # DDP keeps ranks in sync; record a per-rank checksum of the trained weights so a run can show it.
    checksum = torch.stack([p.detach().double().abs().sum() for p in unwrapped.parameters() if p.requires_grad]).sum()
    rank_checksums = accelerator.gather(checksum.reshape(1).to(accelerator.device)).cpu().tolist()
    summary = write_results()
    summary["rank_checksums"] = rank_checksums
    if accelerator.is_main_process:
        write_json_atomic(os.path.join(args.output_dir, "results.json"), summary)
        # [training-reports] the per-epoch table and OUTPUT/plots/ (loss/LR per step, metrics, predicted vs MOS).
        best_epoch = (summary.get("best") or {}).get("epoch")
        accelerator.print(format_epoch_table(history, selected_epoch=best_epoch, fit=args.fit))
        if summary.get("best"):  # what best/ holds and why, in words (the model card says the same)
            accelerator.print(f"best/: epoch {best_epoch}, selected on {summary['best']['selected_on']!r} by "
                              f"{summary['best']['rule']}; {summary['best']['note']}.")
        try:
            write_training_plots(args.output_dir, history, steps=steps_log, selected_epoch=best_epoch, fit=args.fit,
                                 predictions=os.path.join(args.output_dir, "predictions"))
        except Exception as error:  # the trained model and results are saved; a plot must not fail the run
            logger.warning("could not write the training plots: %s", error)
        last_epoch = history[-1]["epoch"] if history else None
        # last/ gets the map fitted on its own epoch's predictions of the selection set (none without evaluation).
        calibration, note = fit_selection_calibration(
            last_scored[1] if last_scored[0] == last_epoch else None, set_name=selection_set,
            dataset=dict(args.eval_sets).get(selection_set), epoch=last_epoch, is_test_set=selection_on_test,
            mos_range=mos_range)
        if calibration is None and last_scored[0] != last_epoch:  # a resume with no epoch left: keep last/'s own
            calibration = kept_calibration(os.path.join(args.output_dir, "last"), last_epoch)
            note = "keeps the calibration saved with it" if calibration is not None else note
        logger.info("last/ (epoch %s) %s", last_epoch, note)
        save_model_dir(unwrapped, processor, os.path.join(args.output_dir, "last"),
                       {"epoch": last_epoch, "step": completed_steps, "note": "the last epoch trained"},
                       calibration=calibration)
        if not eval_loaders:  # nothing to select on: the last epoch is what there is
            save_model_dir(unwrapped, processor, os.path.join(args.output_dir, "best"),
                           {"epoch": last_epoch, "step": completed_steps, "note": "no evaluation set: last epoch"})
        for kept in ("best", "last"):  # [training-reports] the model card with this run's results
            if not os.path.isdir(os.path.join(args.output_dir, kept)):
                continue
            with open(os.path.join(args.output_dir, kept, "README.md"), "w", encoding="utf-8") as handle:
                handle.write(trained_model_card(unwrapped.config, summary, args,
                                                unwrapped.num_trainable_parameters(), epoch=kept))
        if args.push_to_hub:
            push_trained_model(os.path.join(args.output_dir, "best"), args.hub_model_id, unwrapped.config, summary,
                               args, unwrapped.num_trainable_parameters(), private=args.hub_private,
                               token=args.hub_token)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except QClipError as error:  # a user's input or launch problem: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
