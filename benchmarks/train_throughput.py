"""Training: our trainer (a model job's, from LMDB) against a plain loop, side by side.

    .venv/bin/python benchmarks/train_throughput.py                     # CPU: LeNet at 28x28
    .venv/bin/python benchmarks/train_throughput.py --images 60000 --batch 64 --val-pct 10
    python3 benchmarks/train_throughput.py --network alexnet --size 224 --device cuda

Both train the same network with the same solver, batch and images for the same epochs, and
validate after each: the plain loop from tensors already in memory (on the device), ours as a
model job would (the command a worker runs), from the dataset job's LMDB (stored as
`--encoding`), once for each `--data-cache` (decoded into memory, or read by DataLoader
processes). Printed: each
one's images/s while training and its whole wall time (ours: from starting the trainer to its
exit, start-up, validations and snapshots included), and the ratios ours/plain.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from digits.config import Settings
from digits.datasets.creation import build_dataset
from digits.datasets.database import iterate
from digits.jobs.context import JobContext
from digits.jobs.events import JobEvents, read_events
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status
from digits.jobs.store import JobStore
from digits.models import networks
from digits.models.job_type import torchrun_command
from digits.models.preprocessing import Preprocessing
from digits.models.solvers import create_optimizer

CLASSES = 10


def make_images(root: Path, count: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for n in range(count):
        label = n % CLASSES
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array([(label * 25) % 256, (label * 70) % 256, (label * 140) % 256])
        pixels = np.clip(base + rng.integers(0, 60, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{n:06d}.png", compress_level=1)


def new_job(store: JobStore, kind: str, parameters: dict) -> Job:
    """A job of the real image-classification type of `kind`, Running, in the store: what a
    worker would be running (the benchmarks start its process themselves)."""
    job = Job(
        id=new_job_id(),
        type=f"image-classification-{kind}",
        kind=kind,
        name=kind,
        owner="bench",
        queue="cpu",
        parameters=parameters,
    )
    job.set_status(Status.RUN)
    store.create(job)
    return job


def build(store: JobStore, settings: Settings, images: Path, size: int, channels: int, args) -> Job:
    job = new_job(
        store,
        "dataset",
        {
            "dataset_name": "bench",
            "method": "folder",
            "folder_train": str(images),
            "folder_pct_val": str(args.val_pct),
            "resize_width": str(size),
            "resize_height": str(size),
            "resize_channels": str(channels),
            "encoding": args.encoding,
        },
    )
    build_dataset(JobContext(job, settings, JobEvents(store, lambda *a: None)))
    return job


def tensors(path: Path, device) -> tuple[torch.Tensor, torch.Tensor]:
    records = list(iterate(path)) if path.exists() else []
    if not records:
        return torch.zeros(0), torch.zeros(0)
    images = torch.from_numpy(np.stack([r.pixels().transpose(2, 0, 1) for r in records]))
    return images.to(device), torch.tensor([r.label for r in records]).to(device)


def plain_loop(dataset_folder: Path, args, channels: int) -> tuple[float, float]:
    """The baseline: images already a tensor on the device; no loader, no job, no events.
    Its images/s while training, and its wall time (decoding the images included)."""
    device = torch.device(args.device)
    wall = time.perf_counter()
    images, labels = tensors(dataset_folder / "train_db", device)
    val_images, val_labels = tensors(dataset_folder / "val_db", device)
    torch.manual_seed(0)
    model = networks.create(args.network, CLASSES, channels, args.size, args.size).to(device)
    preprocess = Preprocessing("image", np.load(dataset_folder / "mean.npy"))
    optimizer = create_optimizer("SGD", model.parameters(), 0.01)
    criterion = torch.nn.CrossEntropyLoss()
    bf16 = device.type == "cuda"
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    seen, training = 0, 0.0
    for _ in range(args.epochs):
        started = time.perf_counter()
        order = torch.randperm(len(images), device=device)
        for start in range(0, len(images), args.batch):
            index = order[start : start + args.batch]
            x = preprocess(images[index], True)
            if bf16:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = criterion(model(x).float(), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(index)
        if device.type == "cuda":
            torch.cuda.synchronize()
        training += time.perf_counter() - started
        validate(model, preprocess, val_images, val_labels, args.batch, bf16)
    return seen / training, time.perf_counter() - wall


def validate(model, preprocess, images, labels, batch: int, bf16: bool) -> float:
    """Top-1 over the validation images, as the trainer validates after each epoch."""
    model.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(preprocess(images[start : start + batch]))
            right += int((logits.argmax(1) == labels[start : start + batch]).sum())
    model.train()
    return right / max(1, len(images))


def our_trainer(
    store: JobStore, settings: Settings, dataset: Job, args, cache: str
) -> tuple[float, float]:
    """A model job's trainer, started as a worker starts it: its own report of images per
    second, and the wall time from its start to its exit."""
    job = new_job(
        store,
        "model",
        {
            "model_name": "bench",
            "dataset": dataset.id,
            "method": "standard",
            "standard_networks": args.network,
            "train_epochs": str(args.epochs),
            "batch_size": str(args.batch),
            "learning_rate": "0.01",
            "lr_policy": "fixed",
            "snapshot_interval": str(args.epochs),
            "random_seed": "0",
            "data_cache": cache,
        },
    )
    env = {**os.environ, **settings.to_environment()}
    # The command a worker runs for the job (one rank: the trainer itself, no launcher).
    command, _ = torchrun_command(JobContext(job, settings, JobEvents(store, lambda *a: None)))
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the trainer failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    rates = [
        e["images_per_sec"]
        for e in read_events(store.folder(job.id))
        if e.get("update") == "progress" and "images_per_sec" in e
    ]
    return rates[-1], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="lenet")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--val-pct", type=int, default=0, help="validation share, percent")
    parser.add_argument("--encoding", default="png", choices=["png", "jpg", "none"])
    parser.add_argument("--data-cache", default="ram,none", help="ours, once each")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    channels = 1 if args.network == "lenet" else 3
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = Settings(jobs_dir=tmp / "jobs", data_roots=(tmp / "images",))
        store = JobStore(settings.jobs_dir)
        make_images(tmp / "images", args.images, args.size)
        dataset = build(store, settings, tmp / "images", args.size, channels, args)
        plain, plain_wall = plain_loop(store.folder(dataset.id), args, channels)
        ours = {
            cache: our_trainer(store, settings, dataset, args, cache)
            for cache in args.data_cache.split(",")
        }
    print(
        f"{args.network} {args.size}x{args.size} on {args.device}, batch {args.batch}, "
        f"{args.images} images ({args.encoding}, {args.val_pct}% validation) x {args.epochs} epochs"
    )
    print("| run | images/s training | ratio | wall time | ratio (plain / ours) |")
    print("|---|---|---|---|---|")
    print(f"| plain loop (in memory) | {plain:,.0f} | 1.00 | {plain_wall:.1f} s | 1.00 |")
    for cache, (rate, wall) in ours.items():
        print(
            f"| digits job, data_cache={cache} | {rate:,.0f} | {rate / plain:.2f} | "
            f"{wall:.1f} s | {plain_wall / wall:.2f} |"
        )


if __name__ == "__main__":
    main()
