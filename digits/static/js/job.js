// A job's page: its status, progress, log and name kept live, and its actions (abort, resume,
// delete, clone). Training figures, new snapshots and hardware samples go out as
// `digits:metrics`, `digits:snapshots` and `digits:usage` events on the document (charts.js,
// snapshots.js).

import { followJob } from "./live.js";
import {
  CSRF, TERMINAL, cell, errorText, formatDuration, formatTime, localizeTimes, setProgress, setStatus,
} from "./util.js";

const role = (name) => document.querySelector(`[data-role=${name}]`);

function progressDetail(event) {
  const parts = [];
  if (event.total) parts.push(`${event.done} of ${event.total} images`);
  if (event.epoch !== undefined) parts.push(`epoch ${event.epoch}`);
  if (event.images_per_sec) parts.push(`${Math.round(event.images_per_sec)} images/s`);
  if (event.eta > 0) parts.push(`about ${formatDuration(event.eta)} left`);
  return parts.join(" · ");
}

function showError(message) {
  const box = role("action-error");
  box.textContent = message;
  box.hidden = false;
}

export function job(jobId, lastSeq) {
  localizeTimes(document);
  const statusCard = role("status-history").closest("section");
  const log = role("log");
  const errorBox = role("job-error");

  function showStatus(event) {
    setStatus(statusCard, event.status, event.reason);
    const history = statusCard.querySelector("tbody");
    const last = history.lastElementChild;
    // The page may have been drawn from a job.json newer than its last event: the change is
    // then in the table already, and comes again as an event.
    const shown = last && last.cells[0].textContent === event.status
      && last.cells[2].textContent === (event.reason || "");
    if (!shown) {
      const row = document.createElement("tr");
      const time = cell(formatTime(event.time));
      time.className = "time";
      row.append(cell(event.status), time, cell(event.reason || ""));
      history.append(row);
    }
    document.querySelector("[data-action=abort]").disabled = TERMINAL.includes(event.status);
    // A stopped job may go on (the server says so if it has nothing to go on from).
    document.querySelector("[data-action=resume]").hidden = !["Aborted", "Error"].includes(event.status);
    if (event.status === "Error") {
      errorBox.textContent = event.reason || "";
      errorBox.hidden = false;
    }
    if (event.status === "Done" && statusCard.dataset.reloadOnDone) {
      // A finished job's page gains its results (databases, charts): show them.
      window.setTimeout(() => window.location.reload(), 300);
    }
  }

  function apply(event) {
    if (event.update === "status") showStatus(event);
    if ("progress" in event) setProgress(role("progress"), event.progress);
    if (event.update === "progress") role("progress-detail").textContent = progressDetail(event);
    if (event.update === "log") {
      log.hidden = false;
      role("log-empty").hidden = true;
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(`${event.line}\n`);
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
    if (["metrics", "snapshots", "probes", "search"].includes(event.update)) {
      document.dispatchEvent(new CustomEvent(`digits:${event.update}`, { detail: event }));
    }
    if (event.update === "name") {
      role("job-name").textContent = event.name;
      role("job-notes").textContent = event.notes || "—";
    }
  }

  followJob(jobId, lastSeq, {
    onEvent: apply,
    onUsage: (sample) => document.dispatchEvent(new CustomEvent("digits:usage", { detail: sample })),
    onDeleted: () => showError("This job has been deleted."),
  });
  wireActions();
}

// The action buttons carry their URLs (data-url); the answer of a refusal is shown in place.
async function act(button) {
  const method = button.dataset.method || "POST";
  const response = await fetch(button.dataset.url, { method, headers: { Accept: "application/json", ...CSRF } });
  if (response.status === 401) {
    const login = document.querySelector("meta[name=login-url]").content;
    window.location = `${login}?next=${encodeURIComponent(window.location.pathname)}`;
    return null;
  }
  if (!response.ok) {
    showError(errorText(await response.text()));
    return null;
  }
  return response;
}

function wireActions() {
  for (const name of ["abort", "resume"]) {
    const button = document.querySelector(`[data-action=${name}]`);
    button.addEventListener("click", () => act(button));
  }
  const remove = document.querySelector("[data-action=delete]");
  remove.addEventListener("click", async () => {
    if (!window.confirm("Delete this job and its files?")) return;
    if (await act(remove)) window.location = remove.dataset.then;
  });
  const clone = document.querySelector("button[data-action=clone]");
  if (clone) {
    clone.addEventListener("click", async () => {
      const response = await act(clone);
      if (response) window.location = clone.dataset.then.replace("__id__", (await response.json()).id);
    });
  }
}
