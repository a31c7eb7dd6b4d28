"""The ranks of a training: what the launcher gave each process, and sums across them."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def local_world_size(self) -> int:
        """The ranks of this job on this host (they share its cores and memory)."""
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))


def setup_distributed() -> Distributed:
    """Read what the launcher gave; a lone process (no launcher) is rank 0 of 1."""
    rank = int(os.environ.get("RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(
            max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
        )
    if world_size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank, world_size, local_rank, device)


def all_sum(values: list[float], env: Distributed) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=env.device)
    if env.world_size > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


def all_sum_tensor(tensor: torch.Tensor, env: Distributed) -> torch.Tensor:
    """A tensor summed across the ranks, in place."""
    if env.world_size > 1:
        dist.all_reduce(tensor)
    return tensor
