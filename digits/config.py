"""Settings shared by the web server and the workers, read from the environment or the CLI."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_JOBS_DIR = "~/.digits/jobs"
EMBEDDED_BROKER = "filesystem://localhost/"

# Queues: datasets (and Classify Many) run on `cpu`, training on `gpu`, so a long training never
# blocks a dataset; `infer` answers the requests pages wait for (Classify One), never queued
# behind either.
CPU_QUEUE = "cpu"
GPU_QUEUE = "gpu"
INFER_QUEUE = "infer"
QUEUES = (CPU_QUEUE, GPU_QUEUE, INFER_QUEUE)
# The Celery tasks, by name: what the server sends and the workers run.
RUN_JOB_TASK = "digits.run_job"
RUN_REQUEST_TASK = "digits.run_request"
RUN_MEMBER_TASK = "digits.run_gang_member"  # one host's ranks of a job trained across hosts
# Web server threads that open pages' Socket.IO connections may never take (requests' own).
LIVE_PAGE_RESERVE = 64
# Variables that sign sessions or make accounts: the web server's alone.
WEB_SERVER_SECRETS = ("DIGITS_SECRET_KEY", "DIGITS_ADMIN_PASSWORD")


@dataclass(frozen=True)
class Settings:
    """Everything a process of ours needs to know; built once, passed down explicitly."""

    jobs_dir: Path
    broker_url: str = EMBEDDED_BROKER
    data_roots: tuple[Path, ...] = ()
    secret_key: str = ""
    # Extra modules imported by the server and the workers (each may register job types and,
    # for the server, define `init_app(app)`).
    plugins: tuple[str, ...] = field(default_factory=tuple)
    # How often the embedded broker looks for new messages: low enough to start a task in
    # well under 100 ms, high enough not to spin a core.
    broker_polling_interval: float = 0.02
    # Automatic restarts of a job whose worker or process died under it, before it ends Error.
    max_restarts: int = 2
    # The largest request body (an upload) the web server takes, in megabytes; larger: a 413.
    max_upload_mb: int = 1024
    # Names this server answers to besides loopback ones (`*`: any; `serve` sets it when it
    # listens beyond loopback), and origins trusted to post to it (a proxy's public address).
    allowed_hosts: tuple[str, ...] = ()
    trusted_origins: tuple[str, ...] = ()
    # With accounts: may anonymous visitors read pages and job JSON (never change anything)?
    public_reads: bool = False
    # Bounds on what one request may make the server do (see digits.datasets.limits).
    max_image_pixels: int = 90_000_000
    max_unpacked_mb: int = 20 * 1024
    max_dataset_mb: int = 100 * 1024
    # The web server's threads. An open page's Socket.IO connection holds one for as long as
    # the page is open, so they bound the pages open at once: all but a reserve, which idle
    # pages can never take from requests (see max_live_pages).
    web_threads: int = 1024
    # Connections one address may hold at once (0: any); loopback addresses are exempt.
    max_connections_per_address: int = 256
    # Network code tried before training (Visualize, the fit check): time and memory it gets.
    network_check_seconds: float = 30.0
    network_check_memory_mb: int = 8 * 1024
    # Code a user supplied runs in a sandbox (digits.sandbox). On a host that cannot make one,
    # a server with accounts refuses such code unless an admin allows it here.
    allow_unsandboxed_code: bool = False
    # Published weights (torchvision's ImageNet files): where they are kept, dropped in by hand
    # or downloaded once from `weights_url` with their published hash checked.
    weights_dir: Path | None = None  # None: .weights in the jobs folder
    weights_url: str = "https://download.pytorch.org/models/"
    # Where workers run trained networks for people: "auto" (a GPU when the host has one, see
    # digits.models.devices) or "cpu".
    inference_device: str = "auto"
    # Whether job workers import the modules of the jobs they fork (Classify Many) as soon as
    # they start, so a first job starts warm too (digits.jobs.warm); off, the first job of each
    # worker process imports them.
    warm_up: bool = True
    # Training across hosts: the address other hosts reach this one at (its rendezvous), and
    # the ports it may listen on for it (None: any free port).
    advertise_address: str = field(default_factory=socket.getfqdn)
    rendezvous_ports: tuple[int, int] | None = None

    @property
    def weights_folder(self) -> Path:
        return self.weights_dir or self.jobs_dir / ".weights"

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem")

    @property
    def max_live_pages(self) -> int:
        """Socket.IO connections taken at once; beyond them a page works without live news."""
        return max(1, self.web_threads - LIVE_PAGE_RESERVE)

    @property
    def broker_dir(self) -> Path:
        """The embedded broker's files: a dot-folder, which the job store skips."""
        return self.jobs_dir / ".broker"

    @property
    def workers_dir(self) -> Path:
        """Where each worker's heartbeat file lives, so the server knows which queues are served."""
        return self.jobs_dir / ".workers"

    def with_changes(self, **changes) -> Settings:
        return replace(self, **changes)

    def child_environment(self) -> dict[str, str]:
        """The environment of a process we start (worker, trainer): ours and these settings,
        without secrets that only the web server needs (custom code runs in trainers)."""
        inherited = {k: v for k, v in os.environ.items() if k not in WEB_SERVER_SECRETS}
        return inherited | self.to_environment()

    def to_environment(self) -> dict[str, str]:
        """The DIGITS_* variables that hand these settings to a child process."""
        return {
            "DIGITS_JOBS_DIR": str(self.jobs_dir),
            "DIGITS_BROKER_URL": self.broker_url,
            "DIGITS_DATA_ROOTS": os.pathsep.join(str(p) for p in self.data_roots),
            "DIGITS_PLUGINS": ",".join(self.plugins),
            "DIGITS_MAX_RESTARTS": str(self.max_restarts),
            "DIGITS_MAX_UPLOAD_MB": str(self.max_upload_mb),
            "DIGITS_ALLOWED_HOSTS": ",".join(self.allowed_hosts),
            "DIGITS_TRUSTED_ORIGINS": ",".join(self.trusted_origins),
            "DIGITS_PUBLIC_READS": "1" if self.public_reads else "",
            "DIGITS_MAX_IMAGE_PIXELS": str(self.max_image_pixels),
            "DIGITS_MAX_UNPACKED_MB": str(self.max_unpacked_mb),
            "DIGITS_MAX_DATASET_MB": str(self.max_dataset_mb),
            "DIGITS_MAX_CONNECTIONS_PER_ADDRESS": str(self.max_connections_per_address),
            "DIGITS_NETWORK_CHECK_SECONDS": str(self.network_check_seconds),
            "DIGITS_NETWORK_CHECK_MEMORY_MB": str(self.network_check_memory_mb),
            "DIGITS_ALLOW_UNSANDBOXED_CODE": "1" if self.allow_unsandboxed_code else "",
            "DIGITS_WEIGHTS_DIR": str(self.weights_folder),
            "DIGITS_WEIGHTS_URL": self.weights_url,
            "DIGITS_INFERENCE_DEVICE": self.inference_device,
            "DIGITS_WARM_UP": "1" if self.warm_up else "0",
            "DIGITS_ADVERTISE_ADDRESS": self.advertise_address,
            "DIGITS_RENDEZVOUS_PORTS": "-".join(map(str, self.rendezvous_ports or ())),
        }


def _split_list(value: str | None, sep: str) -> list[str]:
    return [item.strip() for item in (value or "").split(sep) if item.strip()]


def _yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _port_range(text: str | None) -> tuple[int, int] | None:
    """`low-high` (one port: `29500`), or None when blank."""
    if not text or not text.strip():
        return None
    low, _, high = text.strip().partition("-")
    return int(low), int(high or low)


def load_settings(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Build Settings from DIGITS_* environment variables; keyword overrides (the CLI's) win."""
    env = os.environ if environ is None else environ
    jobs_dir = Path(os.path.expanduser(env.get("DIGITS_JOBS_DIR", DEFAULT_JOBS_DIR))).resolve()
    values = {
        "jobs_dir": jobs_dir,
        "broker_url": env.get("DIGITS_BROKER_URL") or EMBEDDED_BROKER,
        "data_roots": tuple(
            Path(p).expanduser().resolve()
            for p in _split_list(env.get("DIGITS_DATA_ROOTS"), os.pathsep)
        ),
        "secret_key": env.get("DIGITS_SECRET_KEY", ""),
        "plugins": tuple(_split_list(env.get("DIGITS_PLUGINS"), ",")),
        "max_restarts": int(env.get("DIGITS_MAX_RESTARTS", "2")),
        "max_upload_mb": int(env.get("DIGITS_MAX_UPLOAD_MB", "1024")),
        "allowed_hosts": tuple(_split_list(env.get("DIGITS_ALLOWED_HOSTS"), ",")),
        "trusted_origins": tuple(_split_list(env.get("DIGITS_TRUSTED_ORIGINS"), ",")),
        "public_reads": env.get("DIGITS_PUBLIC_READS", "").lower() in ("1", "true", "yes"),
        "max_image_pixels": int(env.get("DIGITS_MAX_IMAGE_PIXELS", "90000000")),
        "max_unpacked_mb": int(env.get("DIGITS_MAX_UNPACKED_MB", str(20 * 1024))),
        "max_dataset_mb": int(env.get("DIGITS_MAX_DATASET_MB", str(100 * 1024))),
        "web_threads": int(env.get("DIGITS_WEB_THREADS", "1024")),
        "max_connections_per_address": int(env.get("DIGITS_MAX_CONNECTIONS_PER_ADDRESS", "256")),
        "network_check_seconds": float(env.get("DIGITS_NETWORK_CHECK_SECONDS", "30")),
        "network_check_memory_mb": int(env.get("DIGITS_NETWORK_CHECK_MEMORY_MB", "8192")),
        "allow_unsandboxed_code": _yes(env.get("DIGITS_ALLOW_UNSANDBOXED_CODE")),
        "weights_dir": Path(env["DIGITS_WEIGHTS_DIR"]).expanduser().resolve()
        if env.get("DIGITS_WEIGHTS_DIR")
        else None,
        "weights_url": env.get("DIGITS_WEIGHTS_URL") or "https://download.pytorch.org/models/",
        "inference_device": env.get("DIGITS_INFERENCE_DEVICE", "auto").strip().lower() or "auto",
        "warm_up": env.get("DIGITS_WARM_UP", "1").lower() not in ("0", "false", "no", "off"),
        "advertise_address": env.get("DIGITS_ADVERTISE_ADDRESS") or socket.getfqdn(),
        "rendezvous_ports": _port_range(env.get("DIGITS_RENDEZVOUS_PORTS")),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values["jobs_dir"], str):
        values["jobs_dir"] = Path(values["jobs_dir"]).expanduser().resolve()
    return Settings(**values)


def ensure_secret_key(settings: Settings) -> Settings:
    """The configured secret key, else one kept in the jobs folder (sessions survive restarts)."""
    if settings.secret_key:
        return settings
    key_file = settings.jobs_dir / ".secret_key"
    if not key_file.exists():
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        tmp = key_file.with_name(f".secret_key.{os.getpid()}")
        # Created 0600 from the start: never readable by others, not even for a moment.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, key_file)  # atomic and exclusive: a concurrent first start keeps one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return settings.with_changes(secret_key=key_file.read_text().strip())
