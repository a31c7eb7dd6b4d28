"""The home page's lists: each job under its tab, filtered as the person asks, a page at a time.

A server with hundreds of experiments must not send them all to every page: the page shows
PAGE_SIZE rows of one tab, and the filters (status, owner, name, group) travel in its address,
so a filtered page can be bookmarked and its live script asks for the same rows again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from digits.jobs.status import Status

PAGE_SIZE = 50
# Tab (also its key in /index.json) and its title. DIGITS had the first two.
TABS = {"datasets": "Datasets", "models": "Models", "inference_runs": "Inference runs"}
DEFAULT_TAB = "datasets"
# Status filter and its title; "active" is every job that has not ended yet.
STATUSES = {
    "": "Any status",
    "active": "Waiting or running",
    "done": "Done",
    "error": "Error",
    "aborted": "Aborted",
}


def tab_of(summary: Mapping[str, Any]) -> str:
    """Inference runs of a model are listed apart from the models themselves."""
    if summary.get("run_of"):
        return "inference_runs"
    return f"{summary['kind']}s"


@dataclass(frozen=True)
class JobFilter:
    status: str = ""  # a key of STATUSES
    owner: str = ""  # exactly
    name: str = ""  # a part of the name, any case
    group: str = ""  # exactly

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> JobFilter:
        """The filter in a page's address; what is not understood is no filter."""
        status = args.get("status", "").strip().lower()
        return cls(
            status=status if status in STATUSES else "",
            owner=args.get("owner", "").strip(),
            name=args.get("name", "").strip(),
            group=args.get("group", "").strip(),
        )

    def matches(self, summary: Mapping[str, Any]) -> bool:
        return (
            self._status_matches(summary["status"])
            and (not self.owner or summary["owner"] == self.owner)
            and (not self.name or self.name.lower() in summary["name"].lower())
            and (not self.group or summary.get("group", "") == self.group)
        )

    def _status_matches(self, label: str) -> bool:
        if self.status == "active":
            return not Status.parse(label).is_terminal
        return not self.status or label.lower() == self.status

    def args(self) -> dict[str, str]:
        """The filter as address arguments (only those set)."""
        return {key: value for key, value in asdict(self).items() if value}


def by_tab(summaries: Iterable[dict[str, Any]], job_filter: JobFilter) -> dict[str, list]:
    """The jobs that pass the filter, under their tabs, in the order given (newest first)."""
    listed: dict[str, list] = {tab: [] for tab in TABS}
    for summary in summaries:
        if job_filter.matches(summary):
            listed[tab_of(summary)].append(summary)
    return listed
