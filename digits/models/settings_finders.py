"""The settings finders, run by the trainer instead of a training: the learning-rate range test
and the largest batch that fits (on a GPU by trying, on the CPU by measuring memory)."""

from __future__ import annotations

import gc
from pathlib import Path

import torch

from digits.models import batch_finder, lr_finder
from digits.models.distributed import all_sum

CPU_TIMED_BATCH = 64  # the batch the CPU's speed is timed at (a large one would take minutes)


def find_learning_rate(trainer, folder: Path) -> None:
    """The learning-rate range test: `steps` steps at exponentially growing rates, the
    smoothed loss of each (summed over ranks, so every rank stops at the same step)."""
    low, high, steps = trainer.options.find_lr
    test = lr_finder.RangeTest()
    trainer.reporter.total_steps = steps
    trainer.wrapped.train()
    batches = _endless_batches(trainer)
    for step in range(steps):
        rate = lr_finder.rate_at(step, steps, low, high)
        for group in trainer.optimizer.param_groups:
            group["lr"] = rate
        images, labels = next(batches)
        loss = trainer.forward_backward(images, labels)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad(set_to_none=True)
        [mean_loss] = all_sum([float(loss) / trainer.env.world_size], trainer.env)
        trainer.reporter.progress(step + 1, len(images) * trainer.env.world_size)
        if not test.add(rate, mean_loss):
            break
    if trainer.env.is_main:
        test.save(folder)
        suggested = test.suggestion()
        trainer.reporter.log(
            f"range test: {len(test.rows)} steps from {low:g} to {test.rows[-1]['lr']:.3g}; "
            + (f"suggested rate {suggested:.3g}" if suggested else "no rate to suggest")
        )
    trainer.reporter.finished_early()


def find_largest_batch(trainer, folder: Path, stored: tuple[int, int, int]) -> None:
    """Real forward and backward steps on images of the dataset's stored size: on a GPU at
    growing sizes until one runs out of memory; on the CPU at the size this network's
    memory per image allows in a share of the host's memory."""
    on_gpu = trainer.env.device.type == "cuda"
    tries = batch_finder.Tries("cuda" if on_gpu else "cpu")
    if on_gpu:
        batch_finder.search(_try_on_gpu(trainer, stored), tries, batch_finder.MAX_BATCH)
        name = torch.cuda.get_device_name(trainer.env.device)
        note = f"{name}: the largest batch that ran without running out of memory"
    else:
        per_image, fixed = _memory_per_image(trainer, stored)
        budget = batch_finder.host_memory_budget() // max(1, trainer.env.local_world_size)
        largest = max(1, min(batch_finder.MAX_BATCH, (budget - fixed) // per_image))
        timed_at = min(largest, CPU_TIMED_BATCH)
        seconds = batch_finder.timed(_step_at(trainer, timed_at, stored), lambda: None)
        tries.record(largest, True, seconds * largest / timed_at, fixed + per_image * largest)
        note = (
            "no GPU on this host: the largest batch whose memory (this network's activations "
            f"and gradients per image, measured, and its weights) fits in half the host's "
            f"memory; speed timed at a batch of {timed_at}"
        )
    if trainer.env.is_main:
        tries.save(folder, note)
        trainer.reporter.log(
            f"largest batch: {tries.largest} ({note}); proposed {tries.proposal()}"
        )
    trainer.reporter.finished_early()


def _step_at(trainer, batch: int, stored: tuple[int, int, int]):
    images = torch.randint(0, 256, (batch, *stored), dtype=torch.uint8)
    labels = trainer.task.random_labels(batch)

    def step() -> None:
        trainer.forward_backward(images, labels)
        trainer.optimizer.zero_grad(set_to_none=True)

    return step


def _try_on_gpu(trainer, stored):
    def try_batch(batch: int) -> tuple[float, int]:
        try:
            torch.cuda.reset_peak_memory_stats(trainer.env.device)
            seconds = batch_finder.timed(_step_at(trainer, batch, stored), torch.cuda.synchronize)
            return seconds, torch.cuda.max_memory_allocated(trainer.env.device)
        except torch.cuda.OutOfMemoryError as exc:
            raise batch_finder.DoesNotFit() from exc
        finally:
            trainer.optimizer.zero_grad(set_to_none=True)
            gc.collect()
            torch.cuda.empty_cache()

    return try_batch


def _memory_per_image(trainer, stored) -> tuple[int, int]:
    """Bytes an image of a batch takes (each layer's output, kept for the backward pass,
    and its gradient), and bytes the network takes whatever the batch (weights, their
    gradients and two optimizer states)."""
    outputs = []

    def keep(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            outputs.append(output.numel() * output.element_size())

    hooks = [
        m.register_forward_hook(keep) for m in trainer.model.modules() if m is not trainer.model
    ]
    try:
        _step_at(trainer, 2, stored)()
    finally:
        for hook in hooks:
            hook.remove()
    per_image = max(1, sum(outputs))  # a batch of 2's outputs: per image, and gradients
    fixed = 4 * sum(p.numel() * p.element_size() for p in trainer.model.parameters())
    return per_image, fixed


def _endless_batches(trainer):
    epoch = 0
    while True:
        trainer.sampler.set_epoch(epoch)
        yield from trainer.train_loader
        epoch += 1
