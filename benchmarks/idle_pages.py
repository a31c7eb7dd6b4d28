"""Hundreds of open pages against the API: `/index.json` latency while N idle Socket.IO
clients (WebSockets, each answering the server's pings as a page does) stay connected.

    .venv/bin/python benchmarks/idle_pages.py                 # 500 pages, 100 vs 1024 threads
    .venv/bin/python benchmarks/idle_pages.py --pages 200 --requests 100
    .venv/bin/python benchmarks/idle_pages.py --anonymous 1000    # with accounts, no login
    .venv/bin/python benchmarks/idle_pages.py --slowloris 1100     # headers a byte at a time

For each thread count a real `digits serve --no-workers` is started, the pages connect (those
it refuses are counted), then `/index.json` is asked `--requests` times one after another and
its median and p95 are printed. 100 threads was the server's setting before this benchmark.
With `--anonymous N`, the server has accounts: N pages that never logged in try to connect,
then a logged-in user's page (an API token) does, and `/index.json` is timed with that token.
With `--slowloris N`, N connections send a request's headers a byte every 2 s and never finish
them; `/index.json` is timed at 5 s (all of them held) and at 12 s (the server closing them),
then how many of them the server has closed by 25 s is counted.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from tests.support.processes import Server  # noqa: E402


class IdlePage:
    """An engine.io WebSocket joined to namespace /jobs, answering pings, doing nothing else."""

    def __init__(self, url: str, headers: list[str] | None = None):
        address = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(address, timeout=5, origin=url, header=headers)
        self.ws.recv()  # the engine.io open packet
        self.ws.send("40/jobs,")
        self.accepted = self.ws.recv().startswith("40/jobs")
        self.ws.settimeout(None)
        self.thread = threading.Thread(target=self._answer_pings, daemon=True)
        self.thread.start()

    def _answer_pings(self) -> None:
        try:
            while True:
                if self.ws.recv() == "2":
                    self.ws.send("3")
        except Exception:
            return

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def open_pages(url: str, pages: int) -> list[IdlePage | None]:
    """`pages` idle pages, 50 opening at once as after a restart; None where refused."""

    def open_page(_) -> IdlePage | None:
        try:
            return IdlePage(url)
        except Exception:  # refused (401, 503) or no thread to answer within 5 s
            return None

    with ThreadPoolExecutor(50) as openers:
        return list(openers.map(open_page, range(pages)))


def latency(times: list[float], timeouts: int) -> dict:
    return {
        "median_ms": 1000 * statistics.median(times) if times else None,
        "p95_ms": 1000 * percentile(times, 0.95) if times else None,
        "timeouts": timeouts,
    }


def time_requests(url: str, count: int, headers: dict | None = None) -> tuple[list, int]:
    """`/index.json` asked `count` times in a row: the times of those answered, and how many
    timed out."""
    times, timeouts = [], 0
    for _ in range(count):
        start = time.perf_counter()
        try:
            requests.get(url + "/index.json", headers=headers, timeout=5).raise_for_status()
            times.append(time.perf_counter() - start)
        except requests.RequestException:
            timeouts += 1
    return times, timeouts


def measure(threads: int, pages: int, count: int) -> dict:
    folder = Path(tempfile.mkdtemp()) / "jobs"
    server = Server(folder, workers=False, env={"DIGITS_WEB_THREADS": str(threads)})
    opened: list[IdlePage] = []
    try:
        results = open_pages(server.url, pages)
        opened = [page for page in results if page is not None]
        refused = sum(not page.accepted for page in opened) + results.count(None)
        return {
            "threads": threads,
            "pages": sum(page.accepted for page in opened),
            "refused": refused,
            **latency(*time_requests(server.url, count)),
        }
    finally:
        for page in opened:
            page.close()
        server.stop()


def measure_anonymous(pages: int, count: int) -> dict:
    """With accounts: `pages` anonymous connections, then a user's page and requests."""
    from digits.accounts import Accounts

    folder = Path(tempfile.mkdtemp()) / "jobs"
    folder.mkdir(parents=True)
    accounts = Accounts(folder)
    accounts.add("bob", "bob's password")
    token = accounts.new_token("bob")
    server = Server(folder, workers=False)
    opened: list[IdlePage] = []
    try:
        opened = [page for page in open_pages(server.url, pages) if page is not None]
        sessions = len(opened)
        try:
            bob = IdlePage(server.url, headers=[f"Authorization: Bearer {token}"])
            opened.append(bob)
            bob_live = bob.accepted
        except Exception:
            bob_live = False
        auth = {"Authorization": f"Bearer {token}"}
        return {
            "sessions": sessions,
            "bob_live": bob_live,
            **latency(*time_requests(server.url, count, auth)),
        }
    finally:
        for page in opened:
            page.close()
        server.stop()


class SlowClient:
    """A connection that sends the start of a request, then a header byte every few seconds."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(b"GET /index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
        self.open = True

    def trickle(self) -> None:
        if not self.open:
            return
        try:
            self.sock.sendall(b"a")
        except OSError:  # the server closed it
            self.open = False


def measure_slowloris(clients: int, count: int) -> dict:
    folder = Path(tempfile.mkdtemp()) / "jobs"
    server = Server(folder, workers=False)
    slow: list[SlowClient] = []
    stop = threading.Event()
    try:
        for _ in range(clients):
            try:
                slow.append(SlowClient(server.url))
            except OSError:
                pass

        def trickle() -> None:
            while not stop.wait(2.0):
                for client in slow:
                    client.trickle()

        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(5)  # each has sent more bytes by now, and none has finished its head
        times, timeouts = time_requests(server.url, count)
        time.sleep(7)  # past the time a head may take: the server is closing them
        later, later_timeouts = time_requests(server.url, count)
        times, timeouts = times + later, timeouts + later_timeouts
        time.sleep(13)
        for client in slow:  # a closed one fails its next send
            client.trickle()
            client.trickle()
        return {
            "connected": len(slow),
            "closed": sum(not client.open for client in slow),
            "server_alive": server.alive(),
            **latency(times, timeouts),
        }
    finally:
        stop.set()
        for client in slow:
            client.sock.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--threads", default="100,1024")
    parser.add_argument("--anonymous", type=int, default=0)
    parser.add_argument("--slowloris", type=int, default=0)
    args = parser.parse_args()
    if args.slowloris:
        result = measure_slowloris(args.slowloris, args.requests)
        median = "-" if result["median_ms"] is None else f"{result['median_ms']:.0f}"
        p95 = "-" if result["p95_ms"] is None else f"{result['p95_ms']:.0f}"
        print(
            f"{args.slowloris} slow clients: {result['connected']} connected, "
            f"{result['closed']} closed by the server within 25 s; /index.json median {median} "
            f"ms, p95 {p95} ms, {result['timeouts']} of {2 * args.requests} timed out (5 s); "
            f"server {'alive' if result['server_alive'] else 'dead'}",
            flush=True,
        )
        return
    if args.anonymous:
        result = measure_anonymous(args.anonymous, args.requests)
        print(
            f"{args.anonymous} anonymous pages: {result['sessions']} got a session; a user's "
            f"page {'connected' if result['bob_live'] else 'was refused'}; /index.json median "
            f"{result['median_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
            f"{result['timeouts']} of {args.requests} timed out (5 s)",
            flush=True,
        )
        return
    for threads in (int(t) for t in args.threads.split(",")):
        result = measure(threads, args.pages, args.requests)
        median = "-" if result["median_ms"] is None else f"{result['median_ms']:.0f}"
        p95 = "-" if result["p95_ms"] is None else f"{result['p95_ms']:.0f}"
        print(
            f"threads {threads:5d}: {result['pages']} pages live, {result['refused']} refused; "
            f"/index.json median {median} ms, p95 {p95} ms, {result['timeouts']} of "
            f"{args.requests} timed out (5 s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
