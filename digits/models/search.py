"""A hyperparameter search as a job: Optuna picks each trial's values and says which trials
fall behind; each trial is an ordinary model job (its own page, resumable, on any free GPU).

Why Optuna: it is the best-kept library that does both halves (samplers from random to TPE,
pruners from median to successive halving), its ask-and-tell interface lets the trials be our
own jobs rather than functions it calls, and its journal storage is one append-only file that
lives in the search's folder (no database server), read again when the search resumes.

The search holds no GPU: it runs on a CPU worker, submits up to `parallel` trials, follows their
validations as the trainer writes them, reports each to the study, aborts a trial the pruner
gives up on, and tells the study each trial's best score when it ends. `search.json` is what the
search's page (and its JSON) shows: the web process never imports Optuna.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from digits import tasks
from digits.datasets.layout import read_info
from digits.files import read_json_lines, write_json_atomically
from digits.jobs import types
from digits.jobs.context import JobAborted, JobContext, JobError
from digits.jobs.control import JobControl, JobFinished
from digits.jobs.job import Job
from digits.jobs.recovery import CannotResume
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from digits.models.layout import METRICS_FILE, SEARCH_STUDY_FILE, SEARCH_SUMMARY_FILE
from digits.models.search_space import Dimension, SearchPlan, form_value, parse_search_plan

STUDY_NAME = "search"
# Seconds between looks at the trials: a trial behind is stopped within a validation or so of
# short epochs (a look reads each running trial's metrics and the study's new lines).
POLL = 0.25
STATES = {
    TrialState.RUNNING: "Running",
    TrialState.COMPLETE: "Done",
    TrialState.PRUNED: "Pruned",
    TrialState.FAIL: "Failed",
}


def run_search(ctx: JobContext) -> None:
    """Run the search to its end; its trials are scored by their task's metric."""
    plan = parse_search_plan(ctx.parameters, ctx.parameters["search_model_type"])
    info = read_info(ctx.events.store.folder(ctx.parameters["dataset"]))
    if info is None:
        raise JobError("the search's dataset has no databases (is it Done?)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the job's log says what matters
    Search(ctx, plan, tasks.of_dataset(info).metric).run()


class Search:
    def __init__(self, ctx: JobContext, plan: SearchPlan, metric: tasks.Metric):
        self.ctx = ctx
        self.plan = plan
        self.control = JobControl(ctx.events, ctx.celery)
        self.store = ctx.events.store
        # A trial's score: its best validation by the task's metric (as its own page's best).
        self.metric = metric
        self.study = open_study(ctx.folder, plan, metric.optuna_direction)
        self._saved: dict[str, Any] | None = None
        # The jobs of running trials, kept here too: a deleted search has no study to ask.
        self._running_jobs: dict[int, str] = {}
        # Each trial's epochs trained, as last read (an ended trial's read once): the summary
        # is made at every look, and must not read every trial's metrics again each time.
        self._epochs: dict[int, float | None] = {}

    def run(self) -> None:
        self._go_on_with_stopped_trials()
        try:
            while True:
                if not self.ctx.folder.is_dir():  # deleted: its trials go no further either
                    self._stop_running("the search it belongs to was deleted")
                    raise JobNotFound(self.ctx.job.id)
                self.ctx.check_abort()
                self._follow_running()
                self._start_trials()
                self._save()
                if self._finished():
                    break
                time.sleep(POLL)
        except JobAborted:
            self._stop_running("the search it belongs to was aborted")
            self._save()
            raise
        self._log_best()

    def _trials(self, *states: TrialState) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states or None)

    def _finished(self) -> bool:
        return len(self._trials()) >= self.plan.trials and not self._trials(TrialState.RUNNING)

    def _start_trials(self) -> None:
        """Ask the study for new trials while fewer than `parallel` run and budget remains."""
        while (
            len(self._trials(TrialState.RUNNING)) < self.plan.parallel
            and len(self._trials()) < self.plan.trials
        ):
            trial = self.study.ask()
            values = {d.name: form_value(d, _suggest(trial, d)) for d in self.plan.dimensions}
            trial.set_user_attr("values", values)
            name = f"{self.plan.base.get('model_name') or 'Search'} #{trial.number + 1}"
            form = self.plan.trial_form(values) | {"model_name": name, "group_name": self._group}
            try:
                job = self.control.submit(
                    types.get(self.plan.model_type),
                    name,
                    self.ctx.job.owner,
                    form,
                    group=self._group,
                )
            except Exception as exc:  # the trial fails, not the search
                trial.set_user_attr("note", f"could not be submitted: {exc}")
                self.study.tell(trial, state=TrialState.FAIL)
                continue
            trial.set_user_attr("job_id", job.id)
            self._running_jobs[trial.number] = job.id
            self.ctx.log(f"trial {trial.number + 1}: {_describe(values)} ({job.id})")

    @property
    def _group(self) -> str:
        """The trials are filed with the search: Compare shows them all by this group."""
        return self.ctx.job.group or self.ctx.job.name

    def _follow_running(self) -> None:
        for frozen in self._trials(TrialState.RUNNING):
            job_id = frozen.user_attrs.get("job_id")
            try:
                job = self.store.get(job_id) if job_id else None
            except JobNotFound:
                job = None
            if job is None:
                self._end(frozen, TrialState.FAIL, "its job was deleted")
                continue
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            rows = read_json_lines(self.store.folder(job.id) / METRICS_FILE)
            self._epochs[frozen.number] = rows[-1].get("epoch") if rows else 0
            scores = [float(row[self.metric.key]) for row in rows if self.metric.key in row]
            # Step n: the nth validation. (The frozen trial is the storage's own: it gains
            # each report, so what is new is read first.)
            new = [
                step for step in range(1, len(scores) + 1) if step not in frozen.intermediate_values
            ]
            for step in new:
                trial.report(scores[step - 1], step)
            if job.status is Status.DONE:
                self._complete(frozen, scores)
            elif job.status.is_terminal:
                self._end(frozen, TrialState.FAIL, f"its job ended {job.status.label}")
            elif new and trial.should_prune():
                self._prune(frozen, job, len(scores), scores[-1])

    def _complete(self, frozen: FrozenTrial, scores: list[float]) -> None:
        if not scores:
            self._end(frozen, TrialState.FAIL, "it ended without a validation")
            return
        best = self.metric.best_value(scores)
        self.study.tell(frozen.number, best)
        self._running_jobs.pop(frozen.number, None)
        self.ctx.log(f"trial {frozen.number + 1} done: {self._figure(best)}")

    def _prune(self, frozen: FrozenTrial, job: Job, validations: int, score: float) -> None:
        why = (
            f"pruned by the search: {self._figure(score)} at validation {validations}, "
            "behind the trials before it"
        )
        try:
            self.control.abort(job.id, why)
        except (JobFinished, JobNotFound):
            pass  # it ended meanwhile: pruned all the same, its score stands as reported
        self._end(frozen, TrialState.PRUNED, why)

    def _end(self, frozen: FrozenTrial, state: TrialState, note: str) -> None:
        self._running_jobs.pop(frozen.number, None)
        optuna.trial.Trial(self.study, frozen._trial_id).set_user_attr("note", note)
        self.study.tell(frozen.number, state=state)
        self.ctx.log(f"trial {frozen.number + 1} {STATES[state].lower()}: {note}")

    def _stop_running(self, why: str) -> None:
        """Abort the running trials (they stay running in the study: a resumed search resumes
        them)."""
        for job_id in self._running_jobs.values():
            try:
                self.control.abort(job_id, reason=why)
            except (JobFinished, JobNotFound):
                pass

    def _go_on_with_stopped_trials(self) -> None:
        """A resumed search: its trials that were aborted with it go on where they stopped."""
        for frozen in self._trials(TrialState.RUNNING):
            job_id = frozen.user_attrs.get("job_id", "")
            self._running_jobs[frozen.number] = job_id
            try:
                if self.store.get(job_id).status in (Status.ABORT, Status.ERROR):
                    self.control.resume(job_id)
                    self.ctx.log(f"trial {frozen.number + 1} resumed ({job_id})")
            except JobNotFound:
                pass  # _follow_running says so
            except CannotResume as exc:
                self._end(frozen, TrialState.FAIL, f"could not be resumed: {exc}")

    def _figure(self, score: float) -> str:
        return self.metric.describe(score)

    def _log_best(self) -> None:
        best = _best(self.study)
        if best is None:
            self.ctx.log("no trial finished: no best")
            return
        values = _describe(best.user_attrs.get("values", {}))
        self.ctx.log(f"best: trial {best.number + 1}, {self._figure(best.value)} ({values})")

    def _save(self) -> None:
        summary = self.summary()
        if summary == self._saved:
            return
        write_json_atomically(self.ctx.folder / SEARCH_SUMMARY_FILE, summary)
        self._saved = summary
        ended = sum(1 for t in summary["trials"] if t["state"] != "Running")
        self.ctx.events.publish(self.ctx.job.id, "search", search=summary)
        self.ctx.progress(ended / self.plan.trials)

    def summary(self) -> dict[str, Any]:
        trials = self._trials()
        best = _best(self.study)
        return {
            "metric": self.metric.key,
            "direction": self.metric.optuna_direction,
            "budget": self.plan.trials,
            "parallel": self.plan.parallel,
            "sampler": self.plan.sampler,
            "pruner": self.plan.pruner,
            "space": [d.describe() for d in self.plan.dimensions],
            "group": self._group,
            "best": best.number + 1 if best else None,
            "trials": [self._trial_row(t) for t in trials],
        }

    def _epochs_trained(self, job_id: str | None) -> float | None:
        try:
            rows = read_json_lines(self.store.folder(job_id) / METRICS_FILE) if job_id else None
        except JobNotFound:
            return None
        return None if rows is None else (rows[-1].get("epoch") if rows else 0)

    def _trial_row(self, frozen: FrozenTrial) -> dict[str, Any]:
        job_id = frozen.user_attrs.get("job_id")
        if frozen.number not in self._epochs:  # ended before this run of the search looked
            self._epochs[frozen.number] = self._epochs_trained(job_id)
        scores = [frozen.intermediate_values[k] for k in sorted(frozen.intermediate_values)]
        return {
            "number": frozen.number + 1,
            "job_id": job_id,
            "state": STATES.get(frozen.state, frozen.state.name.title()),
            "values": frozen.user_attrs.get("values", {}),
            "value": frozen.value if frozen.state is TrialState.COMPLETE else None,
            "scores": scores,
            "epochs": self._epochs[frozen.number],
            "note": frozen.user_attrs.get("note"),
        }


def open_study(folder: Path, plan: SearchPlan, direction: str) -> optuna.Study:
    """The search's study in its folder, made or (a resumed search) read again."""
    storage = JournalStorage(JournalFileBackend(str(folder / SEARCH_STUDY_FILE)))
    return optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        load_if_exists=True,
        direction=direction,
        sampler=_sampler(plan),
        pruner=_pruner(plan),
    )


def _sampler(plan: SearchPlan) -> optuna.samplers.BaseSampler:
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=plan.seed)
    # Random trials first, then TPE; the constant liar keeps parallel trials apart.
    startup = min(10, max(1, plan.trials // 3))
    return optuna.samplers.TPESampler(seed=plan.seed, n_startup_trials=startup, constant_liar=True)


def _pruner(plan: SearchPlan) -> optuna.pruners.BasePruner:
    if plan.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if plan.pruner == "median":
        # Pruning starts once a few trials have finished: a median of one is a coin toss.
        startup = max(1, min(5, plan.trials // 4))
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def _suggest(trial: optuna.Trial, dimension: Dimension) -> Any:
    if dimension.choices:
        return trial.suggest_categorical(dimension.name, list(dimension.choices))
    if dimension.integer:
        return trial.suggest_int(
            dimension.name, int(dimension.low), int(dimension.high), log=dimension.log
        )
    return trial.suggest_float(dimension.name, dimension.low, dimension.high, log=dimension.log)


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no trial has finished
        return None


def _describe(values: dict[str, str]) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items())
