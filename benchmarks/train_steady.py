"""Steady-state training speed on a GPU: our job against a plain PyTorch loop, three figures.

    python3 benchmarks/train_steady.py --network resnet50 --encoding png
    python3 benchmarks/train_steady.py --network alexnet --images 2000 --steps 20 --device cpu

The same network, solver, batch (256), bf16 and augmentation (random 224x224 crops of 256x256
images, random horizontal flips), timed over `--steps` steps after `--warmup` steps:
- ceiling: a plain loop whose images are already one uint8 tensor on the GPU (crops and flips
  there too): the speed of the network itself;
- DataLoader: a plain loop reading the same images from their files with PIL in a DataLoader
  (a worker per core, pinned memory, prefetching): what a person writing a script gets;
- ours: the trainer a worker runs for a model job, from the dataset job's LMDB (stored as
  `--encoding`), its speed taken from its own progress events between the end of the warm-up
  and its last step.
Also the whole wall time of the same epochs: ours from starting the trainer to its exit (start-up
and snapshots included), the DataLoader loop's from building the model to its last step.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from train_throughput import new_job  # the sibling benchmark (its folder is on sys.path)

from digits.config import Settings
from digits.datasets.creation import build_dataset
from digits.datasets.database import iterate
from digits.jobs.context import JobContext
from digits.jobs.events import JobEvents, read_events
from digits.jobs.job import Job
from digits.jobs.store import JobStore
from digits.models import networks
from digits.models.job_type import torchrun_command
from digits.models.solvers import create_optimizer

CLASSES = 10
SUFFIX = {"png": ".png", "jpg": ".jpg", "none": ".png"}


def _write_image(task: tuple[Path, int, int, str]) -> None:
    path, n, size, suffix = task
    rng = np.random.default_rng(n)
    label = n % CLASSES
    base = np.array([(label * 25) % 256, (label * 70) % 256, (label * 140) % 256])
    # Smooth noise: compresses like a photograph, not like pure noise.
    small = rng.integers(0, 80, (size // 8, size // 8, 3)).astype(np.uint8)
    texture = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR))
    pixels = np.clip(base + texture.astype(np.int16) - 40, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path.with_suffix(suffix), quality=90)


def make_images(root: Path, count: int, size: int, encoding: str) -> list[tuple[Path, int]]:
    tasks = []
    for n in range(count):
        folder = root / f"class_{n % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        tasks.append((folder / f"{n:06d}", n, size, SUFFIX[encoding]))
    with ProcessPoolExecutor() as pool:
        list(pool.map(_write_image, tasks, chunksize=64))
    return [(path.with_suffix(SUFFIX[encoding]), n % CLASSES) for path, n, _, _ in tasks]


def build(store: JobStore, settings: Settings, images: Path, args) -> Job:
    job = new_job(
        store,
        "dataset",
        {
            "dataset_name": "bench",
            "method": "folder",
            "folder_train": str(images),
            "folder_pct_val": "0",
            "resize_width": str(args.size),
            "resize_height": str(args.size),
            "encoding": args.encoding,
        },
    )
    build_dataset(JobContext(job, settings, JobEvents(store, lambda *a: None)))
    return job


class Step:
    """One training step of the plain loops: the network, SGD, bf16 autocast, channels-last."""

    def __init__(self, args, mean: torch.Tensor):
        self.device = torch.device(args.device)
        torch.manual_seed(0)
        model = networks.create(args.network, CLASSES, 3, args.crop, args.crop).to(self.device)
        self.bf16 = self.device.type == "cuda"
        self.model = model.to(memory_format=torch.channels_last) if self.bf16 else model
        self.optimizer = create_optimizer("SGD", model.parameters(), 0.01)
        self.criterion = torch.nn.CrossEntropyLoss()
        self.mean = mean.to(self.device)  # 3 x crop x crop, 0..255

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        x = (images.float() - self.mean) / 255.0
        if self.bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.criterion(self.model(x).float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def timed(step: Step, batches, warmup: int, steps: int) -> float:
    """Images per second over `steps` steps after `warmup` steps."""
    started, seen = 0.0, 0
    for number, (images, labels) in enumerate(batches):
        if number == warmup:
            step.sync()
            started = time.perf_counter()
        if number == warmup + steps:
            break
        step(images.to(step.device, non_blocking=True), labels.to(step.device, non_blocking=True))
        seen += len(labels) if number >= warmup else 0
    step.sync()
    return seen / (time.perf_counter() - started)


def ceiling(dataset_folder: Path, args, mean: torch.Tensor) -> float:
    """The images already on the device; crops and flips there."""
    step = Step(args, mean)
    records = list(iterate(dataset_folder / "train_db"))
    images = torch.from_numpy(np.stack([r.pixels().transpose(2, 0, 1) for r in records]))
    images, labels = (
        images.to(step.device),
        torch.tensor([r.label for r in records]).to(step.device),
    )
    margin = args.size - args.crop

    def batches():
        while True:
            index = torch.randint(0, len(images), (args.batch,), device=step.device)
            top, left = (int(v) for v in torch.randint(0, margin + 1, (2,)))
            batch = images[index, :, top : top + args.crop, left : left + args.crop]
            flip = torch.rand(args.batch, device=step.device) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
            yield batch, labels[index]

    return timed(step, batches(), args.warmup, args.steps)


class Files(torch.utils.data.Dataset):
    """A script writer's dataset: image files, PIL, a random crop and flip in numpy."""

    def __init__(self, items: list[tuple[Path, int]], crop: int):
        self.items, self.crop = items, crop

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        path, label = self.items[index]
        pixels = np.asarray(Image.open(path).convert("RGB"))
        top = np.random.randint(0, pixels.shape[0] - self.crop + 1)
        left = np.random.randint(0, pixels.shape[1] - self.crop + 1)
        pixels = pixels[top : top + self.crop, left : left + self.crop]
        if np.random.rand() < 0.5:
            pixels = pixels[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))), label


def dataloader_loop(items, args, mean: torch.Tensor, epochs: int) -> tuple[float, float]:
    """Images/s of the steady state, and the wall time of `epochs` epochs from the start."""
    wall = time.perf_counter()
    step = Step(args, mean)
    loader = torch.utils.data.DataLoader(
        Files(items, args.crop),
        batch_size=args.batch,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        pin_memory=step.device.type == "cuda",
        persistent_workers=True,
        prefetch_factor=4,
    )

    def batches():
        for _ in range(epochs):
            yield from loader

    rate = timed(step, batches(), args.warmup, args.steps)
    return rate, time.perf_counter() - wall


def ours(store: JobStore, settings: Settings, dataset: Job, args, epochs: int):
    """The trainer a worker starts for a model job: steady images/s from its progress events
    after the warm-up, and its wall time from start to exit."""
    job = new_job(
        store,
        "model",
        {
            "model_name": "bench",
            "dataset": dataset.id,
            "method": "standard",
            "standard_networks": args.network,
            "train_epochs": str(epochs),
            "batch_size": str(args.batch),
            "crop_size": str(args.crop),
            "aug_flip": "fliplr",
            "learning_rate": "0.01",
            "lr_policy": "fixed",
            "snapshot_interval": str(epochs),
            "random_seed": "0",
        },
    )
    env = {**os.environ, **settings.to_environment()}
    command, _ = torchrun_command(JobContext(job, settings, JobEvents(store, lambda *a: None)))
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the trainer failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    steps_per_epoch = args.images // args.batch
    progress = [
        e
        for e in read_events(store.folder(job.id))
        if e.get("update") == "progress" and "epoch" in e
    ]
    after = [e for e in progress if e["epoch"] * steps_per_epoch >= args.warmup]
    first, last = after[0], after[-1]
    images = (last["epoch"] - first["epoch"]) * steps_per_epoch * args.batch
    return images / (last["time"] - first["time"]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet50", help="one or more, comma-separated")
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--encoding", default="png", help="png, jpg, none; comma-separated")
    parser.add_argument("--warmup", type=int, default=50, help="steps before timing")
    parser.add_argument("--steps", type=int, default=400, help="steps timed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--runs", default="ceiling,dataloader,ours")
    args = parser.parse_args()
    args.networks = args.network.split(",")
    for encoding in args.encoding.split(","):
        args.encoding = encoding
        with tempfile.TemporaryDirectory() as tmp_name:
            bench_encoding(Path(tmp_name), args)


def bench_encoding(tmp: Path, args) -> None:
    """One dataset in one encoding; each network on it."""
    epochs = math.ceil((args.warmup + args.steps) / (args.images // args.batch))
    settings = Settings(jobs_dir=tmp / "jobs", data_roots=(tmp / "images",))
    store = JobStore(settings.jobs_dir)
    started = time.perf_counter()
    items = make_images(tmp / "images", args.images, args.size, args.encoding)
    dataset = build(store, settings, tmp / "images", args)
    prepared = time.perf_counter() - started
    folder = store.folder(dataset.id)
    margin = (args.size - args.crop) // 2
    mean = np.load(folder / "mean.npy")[margin : margin + args.crop, margin : margin + args.crop]
    mean = torch.from_numpy(np.ascontiguousarray(mean.transpose(2, 0, 1), dtype=np.float32))
    device = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(
        f"\n{args.images} images {args.size}x{args.size} ({args.encoding}; made and built into "
        f"LMDB in {prepared:.0f} s), crops {args.crop}, flips, batch {args.batch}, "
        f"{args.steps} steps timed after {args.warmup}, {args.workers} loader workers, "
        f"{device}; wall times of {epochs} epochs"
    )
    print(
        "| network, run | images/s | / ceiling | / DataLoader | wall time | DataLoader's / ours |"
    )
    print("|---|---|---|---|---|---|")
    for network in args.networks:
        args.network = network
        figures = run_all(store, settings, dataset, items, folder, mean, args, epochs)
        print_rows(network, figures)


def run_all(store, settings, dataset, items, folder, mean, args, epochs: int) -> dict:
    runs = args.runs.split(",")
    figures = {}
    if "ceiling" in runs:
        figures["ceiling"] = (ceiling(folder, args, mean), None)
    if "dataloader" in runs:
        figures["DataLoader"] = dataloader_loop(items, args, mean, epochs)
    if "ours" in runs:
        figures["digits job"] = ours(store, settings, dataset, args, epochs)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return figures


def print_rows(network: str, figures: dict) -> None:
    base = figures.get("ceiling", (None, None))[0]
    loader = figures.get("DataLoader", (None, None))
    for name, (rate, wall) in figures.items():
        of_ceiling = f"{rate / base:.2f}" if base else "-"
        of_loader = f"{rate / loader[0]:.2f}" if loader[0] else "-"
        wall_text = f"{wall:.1f} s" if wall else "-"
        wall_ratio = f"{loader[1] / wall:.2f}" if wall and loader[1] else "-"
        print(
            f"| {network}, {name} | {rate:,.0f} | {of_ceiling} | {of_loader} | {wall_text} | "
            f"{wall_ratio} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
