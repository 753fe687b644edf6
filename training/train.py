#!/usr/bin/env python
"""Train Q-CLIP's SCMA adapter, prompt context and head with 🤗 Accelerate.

    accelerate launch training/train.py --backbone facebook/PE-Core-L14-336 --preset reference \
        --train_data LSVQ-train:/data/LSVQ --eval_data LSVQ-test=LSVQ-test:/data/LSVQ \
        --eval_data KoNViD-1k=KoNViD-1k:/data/KoNViD --labels_dir ../shared/data_labels --output_dir runs/lsvq

Defaults are the paper / reference-release recipe: AdamW lr 1e-3, weight decay 1e-4, 1 warm-up epoch then cosine,
8 epochs, batch 12, 8 frames, loss `plcc + 0.3 * rank`, `Mixed` sampling for training and `UNISampl` for evaluation.
The reported epoch is the one with the best mean SROCC+PLCC on the first `--eval_data` set (the "selection" set), the
rule the reference release applies; every epoch's metrics on every set are logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.data.splits import dover_split_indices
from qclip_hf.losses import build_loss
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.training.checkpointing import (
    find_checkpoint,
    parse_checkpoint_step,
    register_trainable_only_checkpointing,
)
from qclip_hf.training.data import VideoQualityDataset, load_dataset_from_spec
from qclip_hf.training.evaluation import evaluate
from qclip_hf.training.hub import push_trained_model
from qclip_hf.video.sampling import STRATEGY_NAMES

logger = get_logger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_argument_group("model")
    model.add_argument("--backbone", default=None, help="Hub id or path of the dual encoder (default: the preset's).")
    model.add_argument("--preset", default="reference", choices=["reference", "paper", "zero_shot"])
    model.add_argument("--scma", default=None, help='JSON overrides of the SCMA settings, e.g. \'{"r": 8}\'.')
    model.add_argument("--init_from", default=None, help="A trained Q-CLIP (local dir or Hub id) to fine-tune.")
    data = parser.add_argument_group("data")
    data.add_argument("--train_data", required=True, help="KIND:PATH (videofolder:DIR or e.g. LSVQ-train:ROOT).")
    data.add_argument("--eval_data", action="append", default=[], metavar="NAME=KIND:PATH",
                      help="A named test set; repeat for several. The first one selects the reported epoch.")
    data.add_argument("--labels_dir", default=None, help="The standard label lists (../shared/data_labels).")
    data.add_argument("--protocol_split", type=int, default=None, metavar="K",
                      help="Fine-tuning protocol: train on the 80%% part of split K of --train_data (DOVER's "
                           "random.seed(42*(K+1)) shuffle) and evaluate on its 20%% part, named 'split-K', first.")
    data.add_argument("--label_column", default="mos")
    data.add_argument("--num_frames", type=int, default=8)
    data.add_argument("--image_size", type=int, default=None, help="Frame side; default: the backbone's.")
    data.add_argument("--train_sampling", default="Mixed", choices=STRATEGY_NAMES)
    data.add_argument("--eval_sampling", default="UNISampl", choices=STRATEGY_NAMES)
    data.add_argument("--num_workers", type=int, default=0)
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--learning_rate", type=float, default=1e-3)
    optim.add_argument("--weight_decay", type=float, default=1e-4)
    optim.add_argument("--num_epochs", type=int, default=8)
    optim.add_argument("--warmup_epochs", type=float, default=1.0)
    optim.add_argument("--batch_size", type=int, default=12, help="Per process.")
    optim.add_argument("--eval_batch_size", type=int, default=None)
    optim.add_argument("--gradient_accumulation_steps", type=int, default=1)
    optim.add_argument("--max_train_steps", type=int, default=None, help="Stop after this many optimizer steps.")
    optim.add_argument("--loss", default="plcc+rank", help='"plcc", "rank", "mse" or a sum such as "plcc+rank".')
    optim.add_argument("--rank_weight", type=float, default=0.3)
    optim.add_argument("--mixed_precision", default=None, choices=["no", "fp16", "bf16"])
    optim.add_argument("--seed", type=int, default=42)
    run = parser.add_argument_group("run")
    run.add_argument("--output_dir", required=True)
    run.add_argument("--checkpointing_steps", default="epoch", help='"epoch", an int N (every N steps) or "none".')
    run.add_argument("--resume_from_checkpoint", default=None, help='A checkpoint dir or "latest".')
    run.add_argument("--with_tracking", action="store_true", help="Log to TensorBoard (when installed).")
    run.add_argument("--cpu", action="store_true", help="Run on CPU even if a GPU is present.")
    run.add_argument("--push_to_hub", action="store_true")
    run.add_argument("--hub_model_id", default=None)
    run.add_argument("--hub_private", action="store_true")
    run.add_argument("--hub_token", default=None)
    args = parser.parse_args(argv)
    if args.push_to_hub and not args.hub_model_id:
        parser.error("--push_to_hub needs --hub_model_id user/name.")
    if args.checkpointing_steps not in ("epoch", "none") and not args.checkpointing_steps.isdigit():
        parser.error(f'--checkpointing_steps={args.checkpointing_steps!r}: use "epoch", "none" or a positive int.')
    if args.protocol_split is not None and args.protocol_split < 0:
        parser.error(f"--protocol_split must be >= 0, got {args.protocol_split}.")
    for name in ("num_frames", "batch_size", "num_epochs", "gradient_accumulation_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}.")
    try:
        build_loss(args.loss, rank_weight=args.rank_weight)
    except ValueError as error:
        parser.error(f"--loss: {error}")
    args.eval_sets = []
    for item in args.eval_data:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            parser.error(f"--eval_data {item!r} must look like NAME=KIND:PATH.")
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


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # 1. Accelerator: DDP / multi-node / mixed precision come from `accelerate launch`; a seedable sampler makes the
    #    shuffle a function of (seed, epoch), which is what lets a resumed run replay an uninterrupted one exactly.
    log_with = None
    if args.with_tracking:
        try:
            import tensorboard  # noqa: F401

            log_with = "tensorboard"
        except ImportError:
            log_with = None
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=log_with,
        project_dir=args.output_dir,
        cpu=args.cpu,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    # 2. Seed.
    set_seed(args.seed)

    # 3. Model (needed before the data: the processor takes the backbone's frame size).
    model = build_model(args)
    size = {"size": {"height": args.image_size, "width": args.image_size}} if args.image_size else {}
    processor = QClipVideoProcessor.for_model(model, sampling_strategy=args.train_sampling,
                                              eval_strategy=args.eval_sampling, seed=args.seed, **size)

    # 4. Data.
    train_data = load_dataset_from_spec(args.train_data, args.labels_dir)
    eval_data = {name: load_dataset_from_spec(spec, args.labels_dir) for name, spec in args.eval_sets}
    if args.protocol_split is not None:
        train_rows, test_rows = dover_split_indices(len(train_data), args.protocol_split)
        eval_data = {f"split-{args.protocol_split}": train_data.select(test_rows), **eval_data}
        args.eval_sets.insert(0, (f"split-{args.protocol_split}", f"{args.train_data} (20% of split)"))
        train_data = train_data.select(train_rows)
    train_set = VideoQualityDataset(train_data, processor, args.label_column, training=True,
                                    sampling_strategy=args.train_sampling, seed=args.seed,
                                    name=f"--train_data {args.train_data}")
    eval_sets = {name: VideoQualityDataset(ds, processor, args.label_column, sampling_strategy=args.eval_sampling,
                                           name=f"--eval_data {name}")
                 for name, ds in eval_data.items()}
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=len(train_set) > args.batch_size,
                              num_workers=args.num_workers)
    eval_loaders = {name: DataLoader(ds, batch_size=args.eval_batch_size or args.batch_size, num_workers=args.num_workers)
                    for name, ds in eval_sets.items()}

    # 5. Optimizer over the trainable parameters only (adapter, prompt context, head).
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.weight_decay)

    # 6. Scheduler: linear warm-up for `warmup_epochs`, then cosine to zero.
    steps_per_epoch = math.ceil(len(train_loader) / accelerator.num_processes / args.gradient_accumulation_steps)
    total_steps = args.num_epochs * steps_per_epoch
    if args.max_train_steps is not None:
        total_steps = min(total_steps, args.max_train_steps)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(args.warmup_epochs * steps_per_epoch), max(total_steps, 1))

    # 7. prepare.
    model, optimizer, train_loader, scheduler = accelerator.prepare(model, optimizer, train_loader, scheduler)
    for name in eval_loaders:
        eval_loaders[name] = accelerator.prepare(eval_loaders[name])
    register_trainable_only_checkpointing(accelerator)
    loss_fn = build_loss(args.loss, rank_weight=args.rank_weight)
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        logger.info("trainable parameters: %d; %d train videos, %d steps/epoch, %d steps",
                    unwrapped.num_trainable_parameters(), len(train_set), steps_per_epoch, total_steps)
    if log_with:
        accelerator.init_trackers("qclip", config={k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))})

    # 8. Resume.
    completed_steps, start_epoch, skip_batches = 0, 0, 0
    if args.resume_from_checkpoint:
        checkpoint = find_checkpoint(args.output_dir, args.resume_from_checkpoint)
        accelerator.print(f"Resuming from {checkpoint}")
        accelerator.load_state(checkpoint)
        completed_steps = parse_checkpoint_step(checkpoint)
        start_epoch = completed_steps // steps_per_epoch
        skip_batches = (completed_steps % steps_per_epoch) * args.gradient_accumulation_steps

    # 9. Loop.
    history, best, coverage = [], None, {}
    progress = tqdm(total=total_steps, initial=completed_steps, disable=not accelerator.is_local_main_process,
                    desc="train")
    for epoch in range(start_epoch, args.num_epochs):
        if completed_steps >= total_steps:
            break
        model.train()
        train_set.set_epoch(epoch)
        train_loader.set_epoch(epoch)
        loader = accelerator.skip_first_batches(train_loader, skip_batches) if skip_batches else train_loader
        skip_batches = 0
        for batch in loader:
            with accelerator.accumulate(model):
                scores = model(pixel_values_videos=batch["pixel_values_videos"]).scores
                loss = loss_fn(scores.float(), batch["labels"].float())
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if accelerator.sync_gradients:
                completed_steps += 1
                progress.update(1)
                progress.set_postfix(loss=f"{loss.item():.4f}", epoch=epoch)
                if log_with:
                    accelerator.log({"train/loss": loss.item(), "train/lr": scheduler.get_last_lr()[0]},
                                    step=completed_steps)
                if args.checkpointing_steps.isdigit() and completed_steps % int(args.checkpointing_steps) == 0:
                    accelerator.save_state(os.path.join(args.output_dir, f"step_{completed_steps}"))
                if completed_steps >= total_steps:
                    break
        epoch_record = {"epoch": epoch, "step": completed_steps}
        for name, loader_ in eval_loaders.items():
            metrics, scored = evaluate(accelerator, model, loader_, description=f"eval {name}")
            epoch_record[name] = metrics
            coverage[name] = {"scored": int(len(scored["index"])), "unique": int(len(set(scored["index"].tolist()))),
                              "dataset": len(eval_sets[name])}
            if log_with:
                accelerator.log({f"{name}/{k}": v for k, v in metrics.items()}, step=completed_steps)
        history.append(epoch_record)
        accelerator.print(json.dumps(epoch_record))
        if eval_loaders:
            selection = epoch_record[args.eval_sets[0][0]]
            quality = (selection["srocc"] + selection["plcc"]) / 2
            if best is None or (not math.isnan(quality) and quality > best["selection_score"]):
                best = {**epoch_record, "selection_score": quality}
        if args.checkpointing_steps == "epoch":
            accelerator.save_state(os.path.join(args.output_dir, f"step_{completed_steps}"))
    progress.close()

    # 10. Save the trained parts, the processor and the metrics; push.
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    # DDP keeps ranks in sync; record a per-rank checksum of the trained weights so a run can show it.
    checksum = torch.stack([p.detach().double().abs().sum() for p in unwrapped.parameters() if p.requires_grad]).sum()
    rank_checksums = accelerator.gather(checksum.reshape(1).to(accelerator.device)).cpu().tolist()
    summary = {"history": history, "reported": best, "reported_epoch_rule":
               f"best mean of SROCC and PLCC on {args.eval_sets[0][0]!r}" if args.eval_sets else None,
               "completed_steps": completed_steps, "num_processes": accelerator.num_processes,
               "rank_checksums": rank_checksums, "eval_coverage": coverage}
    if accelerator.is_main_process:
        final_dir = os.path.join(args.output_dir, "final")
        unwrapped.save_pretrained(final_dir)
        processor.save_pretrained(final_dir)
        with open(os.path.join(args.output_dir, "results.json"), "w") as handle:
            json.dump(summary, handle, indent=2)
        if args.push_to_hub:
            push_trained_model(final_dir, args.hub_model_id, unwrapped.config, summary, args,
                               unwrapped.num_trainable_parameters(), private=args.hub_private, token=args.hub_token)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
