"""Training images per second: our trainer (through the job, from LMDB) against a plain loop.

    .venv/bin/python benchmarks/train_throughput.py                     # CPU: LeNet at 28x28
    python3 benchmarks/train_throughput.py --network alexnet --size 224 --device cuda

Both train the same network with the same solver, batch and images for the same epochs: the
plain loop from a tensor already in memory (on the device), ours as a model job would, under
torchrun, reading the dataset job's LMDB through DataLoader workers. Printed: images/s of each
and the ratio ours/plain (the training issue's target on CPU: at least 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def build(store: JobStore, settings: Settings, images: Path, size: int, channels: int) -> Job:
    job = new_job(
        store,
        "dataset",
        {
            "dataset_name": "bench",
            "method": "folder",
            "folder_train": str(images),
            "folder_pct_val": "0",
            "resize_width": str(size),
            "resize_height": str(size),
            "resize_channels": str(channels),
            "encoding": "none",
        },
    )
    build_dataset(JobContext(job, settings, JobEvents(store, lambda *a: None)))
    return job


def plain_loop(dataset_folder: Path, args, channels: int) -> float:
    """The baseline: images already a tensor on the device; no loader, no job, no events."""
    device = torch.device(args.device)
    records = list(iterate(dataset_folder / "train_db"))
    images = torch.from_numpy(np.stack([r.pixels().transpose(2, 0, 1) for r in records]))
    labels = torch.tensor([r.label for r in records])
    images, labels = images.to(device), labels.to(device)
    torch.manual_seed(0)
    model = networks.create(args.network, CLASSES, channels, args.size, args.size).to(device)
    preprocess = Preprocessing("image", np.load(dataset_folder / "mean.npy"))
    optimizer = create_optimizer("SGD", model.parameters(), 0.01)
    criterion = torch.nn.CrossEntropyLoss()
    bf16 = device.type == "cuda"
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    seen = 0
    started = time.perf_counter()
    for _ in range(args.epochs):
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
    return seen / (time.perf_counter() - started)


def our_trainer(store: JobStore, settings: Settings, dataset: Job, args) -> float:
    """A model job's trainer under torchrun; its own report of images per second."""
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
        },
    )
    env = {**os.environ, **settings.to_environment()}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        "-m",
        "digits.models.train",
        job.id,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"the trainer failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    rates = [
        e["images_per_sec"]
        for e in read_events(store.folder(job.id))
        if e.get("update") == "progress" and "images_per_sec" in e
    ]
    return rates[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="lenet")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    channels = 1 if args.network == "lenet" else 3
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = Settings(jobs_dir=tmp / "jobs", data_roots=(tmp / "images",))
        store = JobStore(settings.jobs_dir)
        make_images(tmp / "images", args.images, args.size)
        dataset = build(store, settings, tmp / "images", args.size, channels)
        plain = plain_loop(store.folder(dataset.id), args, channels)
        ours = our_trainer(store, settings, dataset, args)
    result = {
        "network": args.network,
        "size": args.size,
        "device": args.device,
        "images": args.images,
        "epochs": args.epochs,
        "batch": args.batch,
        "plain_images_per_sec": round(plain, 1),
        "ours_images_per_sec": round(ours, 1),
        "ratio": round(ours / plain, 3),
    }
    print(
        f"{args.network} {args.size}x{args.size} on {args.device}, batch {args.batch}, "
        f"{args.images} images x {args.epochs} epochs"
    )
    print(f"{'plain loop (in memory)':<28}{plain:>10.0f} images/s  1.00")
    print(f"{'digits trainer (job, LMDB)':<28}{ours:>10.0f} images/s  {ours / plain:.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
