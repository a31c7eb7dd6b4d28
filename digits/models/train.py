"""The trainer, one process per rank under torchrun (`python -m digits.models.train <job id>`).

Small functions in the style of torchvision's reference scripts: the launcher gives RANK,
WORLD_SIZE and LOCAL_RANK; NCCL on GPUs, gloo on the CPU; every rank trains, only rank 0
writes (metrics, snapshots, events). Batch size is the global batch of one step, divided
among the ranks; validation covers the whole validation set exactly once across ranks.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from digits import tasks
from digits.datasets import layout
from digits.jobs.child import child_main
from digits.jobs.context import JobAborted, JobContext, JobError
from digits.models import probes, settings_finders, snapshots
from digits.models.distributed import Distributed, all_sum, setup_distributed
from digits.models.factory import build_network, network_source
from digits.models.layout import (
    METRICS_FILE,
    MODEL_LABELS,
    MODEL_MEAN,
    MODEL_NETWORK,
    PROBES_FILE,
    list_snapshots,
)
from digits.models.options import TrainingOptions, parse_training_options
from digits.models.preprocessing import Preprocessing, normalization_of
from digits.models.published import WeightsUnavailable
from digits.models.solvers import create_optimizer
from digits.models.training_data import ResumableSampler, load_data
from digits.models.weights import load_into
from digits.tasks.training import TrainingContract

REPORTS_PER_EPOCH = 20
STOP_CHECK_STEPS = 5


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class StopEarly(Exception):
    """The training has gone `patience` epochs without getting better: it ends Done."""


class Reporter:
    """Rank 0's voice: metrics to the job's file and out as events, progress with ETA."""

    def __init__(self, ctx: JobContext | None):
        self.ctx = ctx
        self.total_steps = self.epoch_steps = 1  # set by the Trainer
        self.started = time.monotonic()
        self.images = 0

    def log(self, line: str) -> None:
        if self.ctx is not None:
            self.ctx.log(line)

    def probes(self, row: dict) -> None:
        """The probe images' top predictions at one validation: to the file and live."""
        if self.ctx is None:
            return
        with open(self.ctx.folder / PROBES_FILE, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.ctx.events.publish(self.ctx.job.id, "probes", **row)

    def finished_early(self) -> None:
        """Early stopping: the job is done, its progress says so."""
        if self.ctx is not None:
            self.ctx.progress(1.0)

    def metrics(self, row: dict) -> None:
        if self.ctx is None:
            return
        with open(self.ctx.folder / METRICS_FILE, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.ctx.events.publish(self.ctx.job.id, "metrics", **row)

    def snapshots(self) -> None:
        """Every snapshot on disk, after one is written: the page offers them at once."""
        if self.ctx is not None:
            epochs = list_snapshots(self.ctx.folder)
            self.ctx.events.publish(self.ctx.job.id, "snapshots", epochs=epochs)

    def progress(self, step: int, images: int) -> None:
        self.images += images
        if self.ctx is None:
            return
        elapsed = time.monotonic() - self.started
        rate = self.images / elapsed if elapsed > 0 else 0.0
        eta = elapsed / max(1, step) * (self.total_steps - step)
        self.ctx.progress(
            step / self.total_steps,
            images_per_sec=round(rate, 1),
            eta=eta,
            epoch=round(step / self.epoch_steps, 3),
        )


class StopSignal:
    """Abort, agreed by every rank at the same step, so no collective is left waiting."""

    def __init__(self, ctx: JobContext, env: Distributed):
        self.ctx, self.env = ctx, env

    def requested(self) -> bool:
        local = 1.0 if self.ctx.abort_requested() else 0.0
        if self.env.world_size == 1:
            return bool(local)
        flag = torch.tensor([local], device=self.env.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


@dataclass
class Trainer:
    """One training run: the model, its data and optimizer, and where it reports."""

    model: nn.Module  # the bare model, for snapshots
    wrapped: nn.Module  # the model as trained (DDP across ranks)
    optimizer: torch.optim.Optimizer
    train_loader: DataLoader
    val_loader: DataLoader | None
    sampler: ResumableSampler
    preprocess: Preprocessing
    options: TrainingOptions
    env: Distributed
    reporter: Reporter
    stop: StopSignal
    snapshot_context: snapshots.SnapshotContext
    seed: int
    task: TrainingContract  # the loss, targets and evaluation of the kind of problem
    metric: tasks.Metric  # the task's judge of "best"
    state: snapshots.TrainingState = field(default_factory=snapshots.TrainingState)
    compiled: bool = False  # with use_compile: whether the first step (compiling) is done
    # A classifier's probe images (N x C x H x W uint8), followed at each validation.
    probe_images: torch.Tensor | None = None
    # Whether to pick them at the first validation: the ones the network gets most wrong.
    pick_hardest: bool = False
    val_database: Path | None = None

    def __post_init__(self):
        self.epoch_steps = max(
            1, math.ceil(len(self.train_loader) / self.options.batch_accumulation)
        )
        self.total_steps = self.epoch_steps * self.options.epochs
        self.criterion = self.task.criterion()
        self.generator = torch.Generator().manual_seed(self.seed + self.env.rank)
        self.report_every = max(1, self.epoch_steps // REPORTS_PER_EPOCH)
        self.snapshot_every = max(1, round(self.options.snapshot_interval * self.epoch_steps))
        self.val_every = max(1, round(self.options.val_interval * self.epoch_steps))
        self.reporter.total_steps, self.reporter.epoch_steps = self.total_steps, self.epoch_steps

    def autocast(self):
        enabled = self.env.device.type == "cuda" and self.options.bf16
        return torch.autocast(self.env.device.type, dtype=torch.bfloat16, enabled=enabled)

    def run(self) -> None:
        """Train to the last epoch, from where `state` says (0, or a snapshot's step)."""
        self.wrapped.train()
        first_epoch, steps_done = divmod(self.state.step, self.epoch_steps)
        try:
            for epoch in range(first_epoch, self.options.epochs):
                self.sampler.set_epoch(epoch)
                done = steps_done * self.options.batch_accumulation if epoch == first_epoch else 0
                self.sampler.skip = done * self.train_loader.batch_size
                self.train_one_epoch(first_batch=done)
        except StopEarly:
            self.reporter.finished_early()

    def resume_from(self, snapshot: dict) -> None:
        """Continue a snapshot's training: weights, optimizer, position and random states."""
        load_into(self.model, snapshot["model"])
        self.optimizer.load_state_dict(snapshot["optimizer"])
        self.state = snapshots.TrainingState.from_dict(snapshot["state"])
        rng = snapshot.get("rng")
        if isinstance(rng, list) and len(rng) == self.env.world_size:
            snapshots.restore_rng_state(rng[self.env.rank], self.generator)

    def train_one_epoch(self, first_batch: int = 0) -> None:
        # The loss stays on the device until a report: reading it each step would make the
        # CPU wait for the GPU every step.
        running, batches = torch.zeros((), device=self.env.device), 0
        accumulation = self.options.batch_accumulation
        for micro, (images, labels) in enumerate(self.train_loader, start=first_batch):
            started = time.monotonic()
            running += self.forward_backward(images, labels)
            batches += 1
            if self.options.use_compile and not self.compiled:
                self.compiled = True
                self.reporter.log(
                    f"torch.compile: the first step took {time.monotonic() - started:.1f} s "
                    "(compiling the network)"
                )
            if (micro + 1) % accumulation and micro + 1 != len(self.train_loader):
                continue
            self.optimizer_step()
            self.reporter.progress(
                self.state.step, len(images) * self.env.world_size * accumulation
            )
            if self.state.step % self.report_every == 0 or self.state.step % self.epoch_steps == 0:
                report_training(
                    float(running),
                    batches,
                    self.optimizer,
                    self.state,
                    self.epoch_steps,
                    self.env,
                    self.reporter,
                )
                running, batches = torch.zeros((), device=self.env.device), 0
            self.after_step()

    def forward_backward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        images = images.to(self.env.device, non_blocking=True)
        wanted = self.task.batch_targets(images, labels, "train")
        images = self.preprocess(images, True, self.generator)
        if self.env.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            loss = self.criterion(self.wrapped(images).float(), wanted)
        (loss / self.options.batch_accumulation).backward()
        return loss.detach()

    def optimizer_step(self) -> None:
        set_learning_rate(self.optimizer, self.options, 100.0 * self.state.step / self.total_steps)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1

    def after_step(self) -> None:
        """Validate, snapshot and stop when their time has come."""
        step, last = self.state.step, self.state.step == self.total_steps
        if self.val_loader is not None and (step % self.val_every == 0 or last):
            self.validate(step)
            if not last and self.no_better_for_long(step):
                self.save_snapshot()
                raise StopEarly()
        if step % self.snapshot_every == 0 or last:
            self.save_snapshot()
        # Every few steps only: across ranks the check is a collective, a sync of the GPUs.
        if step % STOP_CHECK_STEPS == 0 and self.stop.requested():
            self.save_snapshot()
            raise JobAborted()

    def validate(self, step: int) -> None:
        self.wrapped.eval()
        try:
            evaluation = self.task.evaluate(
                self.wrapped, self.val_loader, self.preprocess, self.autocast
            )
        finally:
            self.wrapped.train()
        row = {"epoch": round(step / self.epoch_steps, 4), **evaluation.figures}
        self.reporter.metrics(row)
        if self.probe_images is None and self.pick_hardest and self.env.is_main:
            self.probe_images = probes.pick_hardest_probes(self)
        if self.probe_images is not None and self.env.is_main:
            self.reporter.probes({"epoch": row["epoch"], "probes": probes.classify_probes(self)})
        if self.state.note_validation(row, self.metric) and self.env.is_main:
            self.task.keep_best(self.snapshot_context.folder, row["epoch"], evaluation)

    def no_better_for_long(self, step: int) -> bool:
        """Early stopping: `patience` epochs without a better validation; said in the log.
        Every rank sees the same (summed) validation, so all decide alike."""
        patience, best_epoch = self.options.patience, self.state.best_epoch
        if not patience or best_epoch is None:
            return False
        waited = step / self.epoch_steps - best_epoch
        if waited < patience:
            return False
        self.reporter.log(
            f"stopping early: no better {self.metric.title} for {waited:g} epochs "
            f"(patience {patience:g}; the best came at epoch {best_epoch:g})"
        )
        return True

    def save_snapshot(self) -> None:
        rng = snapshots.rank_rng_state(self.generator)
        states = [rng]
        if self.env.world_size > 1:  # every rank's, gathered to rank 0 (a collective)
            states = [None] * self.env.world_size
            dist.all_gather_object(states, rng)
        snapshots.save(
            self.snapshot_context, self.model, self.optimizer, self.state, self.epoch_steps, states
        )
        self.reporter.snapshots()


def train(ctx: JobContext) -> None:
    env = setup_distributed()
    options = parse_training_options(ctx.parameters)
    seed = options.seed if options.seed is not None else 0
    seed_everything(seed)
    dataset_folder = ctx.events.store.folder(options.dataset)
    info = layout.read_info(dataset_folder)
    if info is None:
        raise JobError(f"dataset {options.dataset} has no databases (is it Done?)")
    task = tasks.of_dataset(info)
    # What a snapshot names: each of the network's outputs (classes, values' names).
    labels = task.labels_of(info)
    preprocess = Preprocessing(
        options.mean_mode,
        np.load(dataset_folder / layout.MEAN_NPY),
        options.crop_size,
        options.flip,
        options.quad_rotation,
        options.rotation,
        options.scale,
        options.noise,
        options.hsv,
        normalization_of(options),
        options.network_channels,
        options.network_size,
    )
    height, width = preprocess.output_size(info.image.height, info.image.width)
    channels = options.network_channels or info.image.channels
    model = build_network(options, ctx, len(labels), channels, height, width)
    model.to(env.device)
    if env.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    train_loader, val_loader, sampler = load_data(dataset_folder, options, env)
    wrapped = DistributedDataParallel(model) if env.world_size > 1 else model
    if options.use_compile:
        wrapped = torch.compile(wrapped)
    trainer = Trainer(
        model=model,
        wrapped=wrapped,
        optimizer=create_optimizer(
            options.solver, parameter_groups(model, options), options.learning_rate
        ),
        train_loader=train_loader,
        val_loader=val_loader,
        sampler=sampler,
        preprocess=preprocess,
        options=options,
        env=env,
        reporter=Reporter(ctx if env.is_main else None),
        stop=StopSignal(ctx, env),
        snapshot_context=snapshots.SnapshotContext(
            ctx.folder, ctx.parameters, labels, options, env.is_main
        ),
        seed=seed,
        task=task.training().TaskTraining(dataset_folder, info, options, env),
        metric=task.metric,
        probe_images=probes.probe_images(dataset_folder, options, ctx.folder)
        if task.follows_probes
        else None,
        pick_hardest=task.follows_probes
        and options.probe_pick == "hardest"
        and options.probe_images > 0,
        val_database=dataset_folder / layout.database("val"),
    )
    if env.is_main:
        write_model_files(ctx, options, labels, dataset_folder)
    latest = list_snapshots(ctx.folder)
    if latest:  # resumed (by the user, or after a lost worker): go on from the last snapshot
        trainer.resume_from(snapshots.load(ctx.folder, latest[-1]))
        if env.is_main:
            ctx.log(f"resuming from the snapshot of epoch {latest[-1]:g}")
    if options.find_lr:
        settings_finders.find_learning_rate(trainer, ctx.folder)
    elif options.find_batch:
        settings_finders.find_largest_batch(
            trainer, ctx.folder, (info.image.channels, info.image.height, info.image.width)
        )
    else:
        trainer.run()
    if env.world_size > 1:
        # Every rank past its last collective before any tears down: a gloo rank destroyed
        # while a peer (another host's, say) still talks to it can abort that peer.
        dist.barrier()
        dist.destroy_process_group()


def write_model_files(ctx: JobContext, options, labels: list[str], dataset_folder: Path) -> None:
    """DIGITS' files in the model's folder, which its scripts fetch through /files: the labels
    (a generic model's output names), the mean, the network's source."""
    (ctx.folder / MODEL_LABELS).write_text("".join(label + "\n" for label in labels))
    if options.mean_mode != "none" and (dataset_folder / layout.MEAN_NPY).exists():
        shutil.copyfile(dataset_folder / layout.MEAN_NPY, ctx.folder / MODEL_MEAN)
    (ctx.folder / MODEL_NETWORK).write_text(network_source(options, ctx.events.store))


def report_training(running, batches, optimizer, state, epoch_steps, env, reporter) -> None:
    loss_sum, count = all_sum([running, batches], env)
    loss = loss_sum / max(1, count)
    if not math.isfinite(loss):
        raise JobError(
            f"the training loss became {loss} at epoch {state.step / epoch_steps:.2f}: "
            "try a lower learning rate"
        )
    reporter.metrics(
        {
            "epoch": round(state.step / epoch_steps, 4),
            "train_loss": loss,
            "lr": optimizer.param_groups[-1]["lr"],  # the new layers' (the policy's) rate
        }
    )


def parameter_groups(model: nn.Module, options: TrainingOptions) -> list[dict]:
    """The optimizer's groups: one, or when fine-tuning, the pretrained layers apart from the
    new classifier (the last nn.Linear), so they can learn slower or not at all for a while."""
    if not options.pretrained:
        return [{"params": list(model.parameters()), "pretrained": False}]
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    new = {id(p) for p in head.parameters()}
    return [
        {"params": [p for p in model.parameters() if id(p) not in new], "pretrained": True},
        {"params": list(head.parameters()), "pretrained": False},
    ]


def set_learning_rate(optimizer, options: TrainingOptions, percent: float) -> None:
    """The policy's rate at this point; pretrained layers at their multiple of it, and still
    (a rate of 0: no change, whatever the solver) while frozen."""
    rate = options.lr_policy.rate(options.learning_rate, percent)
    frozen = percent < 100.0 * options.freeze_epochs / options.epochs
    for group in optimizer.param_groups:
        if group.get("pretrained"):
            group["lr"] = 0.0 if frozen else rate * options.pretrained_lr_mult
        else:
            group["lr"] = rate


# A rank whose peer is gone exits with this code and no reason: not the job's fault, so the job
# goes on from its last snapshot (digits.jobs.recovery) rather than ending Error.
PEER_LOST_EXIT = 75
# What gloo says when another rank's process is gone (its host lost, its worker killed). NCCL
# instead waits out its timeout and aborts the process: lost as well.
PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "remote worker crashing")


def main(ctx: JobContext) -> None:
    try:
        train(ctx)
    except torch.cuda.OutOfMemoryError as exc:
        raise JobError("out of GPU memory: try a smaller batch size") from exc
    except WeightsUnavailable as exc:
        raise JobError(str(exc)) from exc
    except RuntimeError as exc:
        if not any(sign in str(exc) for sign in PEER_LOST):
            raise
        if int(os.environ.get("LOCAL_RANK", 0)) == 0:  # a line from each host that noticed
            ctx.log(f"another rank stopped answering: {str(exc).splitlines()[0][:200]}")
        raise SystemExit(PEER_LOST_EXIT) from exc


if __name__ == "__main__":
    child_main(main)
