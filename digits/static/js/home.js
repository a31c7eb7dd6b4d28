// The home page: every job's row, kept live (status, progress, name; new and deleted jobs).

import { watchJobs } from "./live.js";
import { formatTime, localizeTimes, setProgress, setStatus } from "./util.js";

const KINDS = ["dataset", "model"];

function showTabs() {
  const tabs = document.querySelectorAll(".tab");
  tabs.forEach((tab) => {
    tab.addEventListener("click", () => {
      tabs.forEach((t) => {
        t.classList.toggle("active", t === tab);
        t.setAttribute("aria-selected", t === tab);
      });
      document.querySelectorAll(".tab-panel").forEach((p) => {
        p.classList.toggle("active", p.dataset.panel === tab.dataset.tab);
      });
    });
  });
}

// A row made from the page's one row <template> (the server renders its rows from it too).
function buildRow(job, body) {
  const row = document.querySelector("template[data-role=job-row]").content.firstElementChild.cloneNode(true);
  row.dataset.jobId = job.id;
  row.dataset.seq = job.seq;
  const link = row.querySelector("a");
  link.href = body.dataset.jobUrl.replace("__id__", job.id);
  link.textContent = job.name;
  setStatus(row, job.status, job.status_reason);
  row.querySelector("[data-role=owner]").textContent = job.owner;
  const time = row.querySelector(".time");
  time.dataset.time = job.submitted;
  time.textContent = formatTime(job.submitted);
  setProgress(row.querySelector("[data-role=progress]"), job.progress);
  return row;
}

function body(kind) {
  return document.querySelector(`tbody[data-kind="${kind}"]`);
}

function refreshCounts() {
  for (const kind of KINDS) {
    const count = body(kind).querySelectorAll("tr").length;
    document.querySelector(`[data-count="${kind}s"]`).textContent = count;
    body(kind).closest("section").querySelector(".empty").hidden = count > 0;
  }
}

function renderAll(jobs) {
  for (const kind of KINDS) {
    body(kind).replaceChildren(...jobs.filter((j) => j.kind === kind).map((j) => buildRow(j, body(kind))));
  }
  refreshCounts();
}

export function home() {
  showTabs();
  localizeTimes(document);
  const rowFor = (id) => document.querySelector(`tr[data-job-id="${id}"]`);

  function apply(event) {
    const row = rowFor(event.job_id);
    if (event.update === "deleted") {
      if (row) row.remove();
      refreshCounts();
      return;
    }
    if (!row) {
      resync(); // a job we have not seen: fetch the list again rather than guess its row
      return;
    }
    if (event.seq <= Number(row.dataset.seq)) return;
    row.dataset.seq = event.seq;
    if (event.update === "status") setStatus(row, event.status, event.reason);
    if ("progress" in event) setProgress(row.querySelector("[data-role=progress]"), event.progress);
    if (event.update === "name") row.querySelector("a").textContent = event.name;
  }

  const resync = watchJobs(renderAll, apply);
}
