"""How a training starts: its ranks under torchrun on this host, or this host's part of a training
across hosts."""

from __future__ import annotations

import sys

from digits.jobs.context import JobContext
from digits.models.job_parameters import gpu_request


def torchrun_command(ctx: JobContext) -> tuple[list[str], dict[str, str]]:
    """One rank per leased GPU under torchrun, which is all the ranks see (CUDA_VISIBLE_DEVICES),
    so a rank's cuda:0 is the physical GPU it leased. On a host with no GPUs, as many gloo ranks
    on the CPU as `select_gpu_count` asks for. A single rank runs as the trainer itself."""
    # No lease (a worker offering no GPUs): no GPU either, not one that another job holds.
    env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, ctx.gpus))}
    ranks = len(ctx.gpus) or gpu_request(ctx.job).size
    # The job id in the command line lets an operator find a job's processes with `ps`.
    trainer = ["-m", "digits.models.train", ctx.job.id]
    if ctx.gang:  # this host's ranks of a gang: they join the others at the leader's rendezvous
        return [sys.executable, *gang_launcher(ctx.gang, ctx.job.id, ranks), *trainer], env
    if ranks == 1:  # one rank needs no launcher: a second of start-up (torch imported once)
        return [sys.executable, "-u", *trainer], env  # unbuffered, as torchrun starts ranks
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    return [sys.executable, *launcher, *trainer], env


JOIN_TIMEOUT = 120  # seconds a gang's hosts have to meet at its rendezvous


def gang_launcher(gang, job_id: str, ranks: int) -> list[str]:
    """torchrun on one host of a gang: its ranks, the gang's host count, and the c10d rendezvous
    that the leader's host holds (global ranks are numbered over the hosts as they join)."""
    return [
        "-m",
        "torch.distributed.run",
        f"--nnodes={gang.nodes}",
        f"--nproc_per_node={ranks}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={gang.endpoint}",
        f"--rdzv-id={job_id}",
        # A host that never joins (its worker lost since the gang was made) fails the run in
        # minutes, not torchrun's default quarter of an hour: the job then resumes or waits.
        f"--rdzv-conf=is_host={'true' if gang.leads else 'false'},join_timeout={JOIN_TIMEOUT}",
        "--max-restarts=0",  # a host lost ends the run: the job resumes from its snapshot
    ]
