"""A training's data: the loaders of each rank (decoded into memory when the images fit, else
read by loader processes), and samplers that resume mid-epoch and validate every image once."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from digits.datasets import layout
from digits.datasets.reader import (
    InMemoryImages,
    LmdbImageDataset,
    MemoryLoader,
    database_pixels,
)
from digits.jobs.context import JobError
from digits.models.distributed import Distributed
from digits.models.options import TrainingOptions

# Of the host's memory, what the decoded images of a job's ranks may take when data_cache is
# "auto" (each rank holds its own copy).
CACHE_SHARE = 0.25
GPU_PREFETCH = 4  # batches each loader process prepares ahead when it feeds a GPU


class ResumableSampler(DistributedSampler):
    """DistributedSampler that can start its next epoch `skip` indices in: a resumed training
    goes on where its snapshot was taken, through the same order of images."""

    skip = 0

    def __iter__(self):
        indices = list(super().__iter__())
        skip, self.skip = self.skip, 0
        return iter(indices[skip:])


class ShardSampler(Sampler[int]):
    """Every index exactly once across ranks (rank, rank + world, ...): no padded duplicates."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.indices = range(rank, length, world_size)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def cache_fits(paths: list[Path], options: TrainingOptions, env: Distributed) -> bool:
    """Whether the images are decoded into memory: as asked, or ("auto") when every rank's copy
    fits in its share of the host's memory."""
    if options.data_cache != "auto":
        return options.data_cache == "ram"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    needed = sum(database_pixels(p) for p in paths if p.exists())
    return needed * env.local_world_size <= CACHE_SHARE * memory


def load_data(dataset_folder: Path, options: TrainingOptions, env: Distributed):
    if options.batch_size % env.world_size:
        raise JobError(
            f"batch size {options.batch_size} does not divide among {env.world_size} "
            "GPUs: choose a multiple of the GPU count"
        )
    per_rank = options.batch_size // env.world_size
    train_path, val_path = (dataset_folder / layout.database(n) for n in ("train", "val"))
    if cache_fits([train_path, val_path], options, env):
        return _in_memory(train_path, val_path, options, env, per_rank)
    train_set = LmdbImageDataset(train_path)
    workers = options.loader_workers
    if workers is None:
        workers = min(8, max(1, (os.cpu_count() or 2) // (2 * env.world_size)))
    # Their own generator: loaders must not draw from the global RNG (dropout's), or a resumed
    # training would draw differently from an uninterrupted one.
    on_gpu = env.device.type == "cuda"
    prefetch = options.loader_prefetch or (GPU_PREFETCH if on_gpu else None)
    common = {
        "num_workers": workers,
        "pin_memory": on_gpu,
        "persistent_workers": workers > 0,
        "prefetch_factor": prefetch if workers > 0 else None,
        "generator": torch.Generator().manual_seed(options.seed or 0),
    }
    sampler = ResumableSampler(
        train_set, env.world_size, env.rank, shuffle=options.shuffle, seed=options.seed or 0
    )
    # A last batch of one image cannot train BatchNorm layers: leave that image for the next
    # epoch's shuffle rather than fail (a dataset of 225 images in batches of 32, say).
    lone_last = len(sampler) % per_rank == 1 and len(sampler) > 1
    train = DataLoader(
        train_set, batch_size=per_rank, sampler=sampler, drop_last=lone_last, **common
    )
    val = None
    if val_path.exists():
        val_set = LmdbImageDataset(val_path)
        shard = ShardSampler(len(val_set), env.rank, env.world_size)
        val = DataLoader(val_set, batch_size=per_rank, sampler=shard, **common)
    return train, val, sampler


def _in_memory(train_path: Path, val_path: Path, options, env: Distributed, per_rank: int):
    """The images decoded once (the host's cores decode them in parallel), then batches are
    gathers from memory: no loader processes."""
    threads = max(1, (os.cpu_count() or 1) // env.local_world_size)
    train_set = InMemoryImages(train_path, threads)
    sampler = ResumableSampler(
        train_set, env.world_size, env.rank, shuffle=options.shuffle, seed=options.seed or 0
    )
    lone_last = len(sampler) % per_rank == 1 and len(sampler) > 1
    train = MemoryLoader(train_set, sampler, per_rank, drop_last=lone_last)
    val = None
    if val_path.exists():
        val_set = InMemoryImages(val_path, threads)
        val = MemoryLoader(val_set, ShardSampler(len(val_set), env.rank, env.world_size), per_rank)
    return train, val, sampler
