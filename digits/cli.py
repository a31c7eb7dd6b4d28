"""The `digits` command: `digits serve`, `digits worker` and `digits user`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
from pathlib import Path

from digits import __version__
from digits.config import GPU_QUEUE, INFER_QUEUE, QUEUES, ensure_secret_key, load_settings
from digits.server import ServeOptions, serve


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs-dir",
        help="folder holding one folder per job (env DIGITS_JOBS_DIR; default ~/.digits/jobs)",
    )
    parser.add_argument(
        "--broker-url",
        help="redis://host:port/db to share work across hosts; default: the embedded broker in "
        "the jobs folder (env DIGITS_BROKER_URL)",
    )
    parser.add_argument(
        "--data-roots",
        help=f"server folders that users may read images from, separated by '{os.pathsep}' "
        "(env DIGITS_DATA_ROOTS)",
    )
    parser.add_argument("--log-level", default=_env("DIGITS_LOG_LEVEL", "INFO"))


def _settings(args: argparse.Namespace, **extra):
    data_roots = None
    if args.data_roots is not None:
        data_roots = tuple(
            Path(p).expanduser().resolve() for p in args.data_roots.split(os.pathsep) if p
        )
    return load_settings(
        jobs_dir=args.jobs_dir, broker_url=args.broker_url, data_roots=data_roots, **extra
    )


def _add_gpus_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gpus",
        default=_env("DIGITS_GPUS", ""),
        help="GPU indexes offered to training jobs, e.g. 0,1,2,3, or 'none' "
        "(env DIGITS_GPUS; default: every GPU that NVML sees)",
    )


def parse_gpus(text: str) -> list[int]:
    """--gpus: indexes, 'none', or empty for every GPU of this host."""
    from digits.hardware import nvml

    text = text.strip()
    if text.lower() == "none":
        return []
    if not text:
        return nvml.gpu_indexes()
    try:
        return sorted({int(g) for g in text.split(",") if g.strip()})
    except ValueError:
        raise SystemExit(f"digits: --gpus takes indexes like 0,1 or 'none'; got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digits", description="DIGITS, rebuilt: a deep-learning workbench"
    )
    parser.add_argument("--version", action="version", version=f"digits {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser(
        "serve",
        help="run the web server (and, with the embedded broker, its own workers)",
        description="Run the web server. With the embedded broker it also starts and stops its "
        "own workers; with DIGITS_BROKER_URL=redis://... run `digits worker` on each GPU host.",
    )
    _add_common_options(serve_parser)
    serve_parser.add_argument(
        "--host",
        default=_env("DIGITS_HOST", "127.0.0.1"),
        help="address to listen on (env DIGITS_HOST; default 127.0.0.1)",
    )
    serve_parser.add_argument(
        "--port",
        type=int,
        default=int(_env("DIGITS_PORT", "5000")),
        help="port to listen on (env DIGITS_PORT; default 5000)",
    )
    serve_parser.add_argument(
        "--secret-key",
        help="key that signs session cookies (env DIGITS_SECRET_KEY; "
        "default: one generated once and kept in the jobs folder)",
    )
    serve_parser.add_argument(
        "--workers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start this server's own workers (default: with the embedded broker only)",
    )
    serve_parser.add_argument(
        "--cpu-concurrency",
        type=int,
        default=max(1, os.cpu_count() or 1),
        help="dataset jobs run at once by the server's own worker",
    )
    _add_gpus_option(serve_parser)
    serve_parser.add_argument(
        "--insecure-no-accounts",
        action="store_true",
        default=_env("DIGITS_INSECURE_NO_ACCOUNTS", "") not in ("", "0"),
        help="listen beyond loopback with no accounts: anyone who reaches the server may run "
        "code on its workers (env DIGITS_INSECURE_NO_ACCOUNTS=1). Without it, such a server "
        "refuses to start; add a user with `digits user add NAME --admin`, or set "
        "DIGITS_ADMIN_PASSWORD to make an admin at start",
    )
    serve_parser.add_argument(
        "--debug",
        action="store_true",
        help="Werkzeug's development server with the debugger (never in use)",
    )

    worker_parser = commands.add_parser(
        "worker",
        help="run a worker that takes jobs from the broker",
        description="Run a Celery worker for DIGITS jobs on this host.",
    )
    _add_common_options(worker_parser)
    worker_parser.add_argument(
        "--queues",
        default=",".join(QUEUES),
        help="queues to serve: cpu (datasets, Classify Many), gpu (training), infer (Classify "
        "One); default all three",
    )
    _add_gpus_option(worker_parser)
    worker_parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs run at once (default: number of GPUs, or CPU cores)",
    )
    worker_parser.add_argument(
        "--hostname", default=None, help="this worker's name (default: <queues>@<host>)"
    )

    user_parser = commands.add_parser(
        "user",
        help="manage accounts (with one, logging in needs a password and the API a token)",
        description="Accounts of this DIGITS install, kept hashed in <jobs dir>/.users.json.",
    )
    user_parser.add_argument("--jobs-dir", help="the jobs folder (env DIGITS_JOBS_DIR)")
    actions = user_parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may change every user's jobs")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    actions.add_parser("remove", help="remove a user").add_argument("name")
    password = actions.add_parser(
        "password", help="set a user's password (asks for it); ends all of their sessions"
    )
    password.add_argument("name")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    token = actions.add_parser(
        "token",
        help="print a new API token for a user, or revoke tokens",
        description="Print a new API token for NAME (only its hash is kept), or revoke one.",
    )
    token.add_argument("name")
    revoke = token.add_mutually_exclusive_group()
    revoke.add_argument("--revoke", metavar="TOKEN", help="revoke this token of NAME's")
    revoke.add_argument("--revoke-all", action="store_true", help="revoke every token of NAME's")
    actions.add_parser("list", help="list the users")
    return parser


def _user(args: argparse.Namespace) -> int:
    import sys

    from digits.accounts import AccountError, Accounts

    settings = load_settings(jobs_dir=args.jobs_dir)
    accounts = Accounts(settings.jobs_dir)
    try:
        if args.action == "add":
            accounts.add(args.name, _new_password(args), admin=args.admin)
            print(f"user {args.name} added{' (admin)' if args.admin else ''}")
        elif args.action == "password":
            accounts.set_password(args.name, _new_password(args))
            print(f"password of {args.name} changed; their sessions have ended")
        elif args.action == "remove":
            accounts.remove(args.name)
            print(f"user {args.name} removed")
        elif args.action == "token":
            _token(accounts, args)
        else:
            for name in accounts.names():
                print(name + (" (admin)" if accounts.get(name).admin else ""))
    except AccountError as exc:
        print(f"digits user: {exc}", file=sys.stderr)
        return 1
    return 0


def _new_password(args: argparse.Namespace) -> str:
    import getpass
    import sys

    from digits.accounts import AccountError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != password:
        raise AccountError("the passwords differ")
    return password


def _token(accounts, args: argparse.Namespace) -> None:
    if args.revoke:
        accounts.revoke_token(args.name, args.revoke)
        print(f"token of {args.name} revoked")
    elif args.revoke_all:
        print(f"{accounts.revoke_all_tokens(args.name)} token(s) of {args.name} revoked")
    else:
        print(accounts.new_token(args.name))


# Set once the warning below is given, so that the workers a command starts do not repeat it.
ROOT_WARNED = "DIGITS_ROOT_WARNED"


def warn_if_root() -> None:
    """One line, instead of Celery's warning in each worker it starts."""
    if os.geteuid() == 0 and not os.environ.get(ROOT_WARNED):
        logging.getLogger("digits").warning(
            "running as root: run DIGITS as an ordinary user (its own jobs run with every "
            "privilege of this machine; users' code is sandboxed, with no capabilities)"
        )
        os.environ[ROOT_WARNED] = "1"


SANDBOX_REPORTED = "DIGITS_SANDBOX_REPORTED"


def report_sandbox() -> None:
    """Say once (not in every worker started) whether users' code runs in a sandbox here."""
    from digits import sandbox

    if os.environ.get(SANDBOX_REPORTED):
        return
    os.environ[SANDBOX_REPORTED] = "1"
    reason = sandbox.unavailable_reason()
    if reason is None:
        logging.getLogger("digits").info(
            "users' code (custom and imported networks) runs in a bubblewrap sandbox"
        )
        return
    logging.getLogger("digits").warning(
        "no sandbox for users' code on this host: %s. Without accounts it runs with this "
        "server's rights; with accounts it is refused unless DIGITS_ALLOW_UNSANDBOXED_CODE=1",
        reason,
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO").upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.command in ("serve", "worker"):
        warn_if_root()
        report_sandbox()
    if args.command == "serve":
        settings = ensure_secret_key(_settings(args, secret_key=args.secret_key))
        settings = _listening_settings(args, settings)
        start_workers = settings.embedded_broker if args.workers is None else args.workers
        options = ServeOptions(
            host=args.host,
            port=args.port,
            start_workers=start_workers,
            cpu_concurrency=args.cpu_concurrency,
            gpus=tuple(parse_gpus(args.gpus)) if start_workers else (),
            debug=args.debug,
        )
        serve(settings, options)
    elif args.command == "worker":
        raise SystemExit(_worker(args))
    elif args.command == "user":
        raise SystemExit(_user(args))


def _listening_settings(args: argparse.Namespace, settings):
    """Refuse to serve beyond loopback with no accounts (unless told it is meant); there, take
    requests addressed to any name unless DIGITS_ALLOWED_HOSTS lists them."""
    from digits.accounts import AccountError, Accounts
    from digits.webapp.security import is_loopback

    accounts = Accounts(settings.jobs_dir)
    if is_loopback(args.host):
        return _home_as_data_root(args, settings, accounts.enabled)
    password = _env("DIGITS_ADMIN_PASSWORD")
    if password and not accounts.enabled:
        name = _env("DIGITS_ADMIN_USER", "admin")
        try:
            accounts.add(name, password, admin=True)
        except AccountError as exc:
            raise SystemExit(f"digits serve: DIGITS_ADMIN_PASSWORD: {exc}") from None
        logging.getLogger("digits").info("made admin %s from DIGITS_ADMIN_PASSWORD", name)
    if not accounts.enabled:
        if not args.insecure_no_accounts:
            raise SystemExit(
                f"digits serve: refusing to listen on {args.host} with no accounts: anyone who "
                "reaches this server could run code on its workers. Add an admin with `digits "
                "user add NAME --admin` (or set DIGITS_ADMIN_PASSWORD), or pass "
                "--insecure-no-accounts on a network you trust"
            )
        logging.getLogger("digits").warning(
            "listening on %s with no accounts (--insecure-no-accounts): anyone who can reach "
            "this server can submit custom networks, which run as Python on the workers; add a "
            "user with `digits user add NAME`",
            args.host,
        )
    return settings if settings.allowed_hosts else settings.with_changes(allowed_hosts=("*",))


def _home_as_data_root(args: argparse.Namespace, settings, accounts: bool):
    """A first run on one's own machine: with no accounts, on loopback and no data roots
    configured, the folder of the user running the server is one, and start-up says so (DIGITS
    took any path). With accounts, roots stay what the operator configured."""
    configured = args.data_roots is not None or "DIGITS_DATA_ROOTS" in os.environ
    if accounts or configured:
        return settings
    home = Path.home().resolve()
    logging.getLogger("digits").info(
        "images are read from %s (your folder); --data-roots or DIGITS_DATA_ROOTS choose others",
        home,
    )
    return settings.with_changes(data_roots=(home,))


def _worker(args: argparse.Namespace) -> int:
    from digits.jobs.heartbeats import worker_name
    from digits.jobs.workers import (
        WorkerGroup,
        gpu_worker_concurrency,
        infer_concurrency,
        plan_workers,
        run_worker,
    )

    settings = _settings(args)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        raise SystemExit(f"digits worker: --queues takes {', '.join(QUEUES)}; got {args.queues!r}")
    gpus = parse_gpus(args.gpus) if GPU_QUEUE in queues else []
    loglevel = args.log_level.upper()
    if len(queues) == 1:
        [queue] = queues
        concurrency = args.concurrency or {
            GPU_QUEUE: gpu_worker_concurrency(gpus),
            INFER_QUEUE: infer_concurrency(),
        }.get(queue, os.cpu_count() or 1)
        hostname = worker_name(queue, args.hostname or socket.gethostname())
        run_worker(settings, queue, concurrency, hostname, gpus, loglevel)
        return 0
    # Several queues: one worker process each, so no queue's jobs take another's slots.
    node = args.hostname or socket.gethostname()
    group = WorkerGroup(
        settings,
        plan_workers(queues, node, args.concurrency or os.cpu_count() or 1, gpus),
        loglevel,
    )
    group.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: group.signal_all(signal.SIGTERM))
    return group.wait()
