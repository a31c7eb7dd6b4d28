// The home page: one tab's page of jobs, kept live (status, progress, name and group; new and
// deleted jobs). The page's address holds the tab, the page and the filters; whenever the rows
// may have changed (a new job, one that left the filter) the page asks for the same rows again.

import { watchJobs } from "./live.js";
import { formatTime, localizeTimes, setProgress, setStatus } from "./util.js";

const RESYNC_DELAY_MS = 300; // news often comes in bursts (a sweep's jobs): ask once for them all

function table() {
  return document.querySelector("tbody[data-tab]");
}

function setGroup(row, group) {
  const tag = row.querySelector("[data-role=group]");
  tag.textContent = group || "";
  tag.hidden = !group;
  tag.href = table().dataset.groupUrl.replace("__group__", encodeURIComponent(group || ""));
}

// A row made from the page's one row <template> (the server renders its rows from it too).
function buildRow(job) {
  const row = document.querySelector("template[data-role=job-row]").content.firstElementChild.cloneNode(true);
  row.dataset.jobId = job.id;
  row.dataset.seq = job.seq;
  const select = row.querySelector("[data-role=select]");
  if (select) select.value = job.id;
  const link = row.querySelector("[data-role=job-link]");
  link.href = table().dataset.jobUrl.replace("__id__", job.id);
  link.textContent = job.name;
  setGroup(row, job.group);
  setStatus(row, job.status, job.status_reason);
  row.querySelector("[data-role=owner]").textContent = job.owner;
  const time = row.querySelector(".time");
  time.dataset.time = job.submitted;
  time.textContent = formatTime(job.submitted);
  setProgress(row.querySelector("[data-role=progress]"), job.progress);
  return row;
}

function showPager(pages, shown) {
  const pager = document.querySelector("[data-role=pager]");
  pager.hidden = pages.pages < 2;
  pager.querySelector("[data-role=page-range]").textContent = `${pages.first + 1}–${pages.first + shown} of ${pages.total}`;
  pager.querySelector("[data-role=newer]").hidden = pages.page < 2;
  pager.querySelector("[data-role=older]").hidden = pages.page >= pages.pages;
}

function render(answer) {
  const tab = table().dataset.tab;
  // The models ticked for Compare stay ticked when the rows are made again.
  const ticked = new Set([...table().querySelectorAll("[data-role=select]:checked")].map((box) => box.value));
  table().replaceChildren(...answer[tab].map(buildRow));
  table().querySelectorAll("[data-role=select]").forEach((box) => { box.checked = ticked.has(box.value); });
  for (const [name, pages] of Object.entries(answer.pages)) {
    const count = document.querySelector(`[data-count="${name}"]`);
    if (count) count.textContent = pages.total;
  }
  document.querySelector("[data-role=no-jobs]").hidden = answer[tab].length > 0;
  showPager(answer.pages[tab], answer[tab].length);
}

// Choosing a status, owner or group filters at once (the button is there without scripts); the
// address keeps only the filters that are set.
function submitFiltersOnChange() {
  const form = document.querySelector("[data-role=job-filters]");
  form.addEventListener("submit", () => {
    form.querySelectorAll("input, select").forEach((field) => {
      field.disabled = !field.value;
    });
  });
  form.querySelectorAll("select").forEach((select) => select.addEventListener("change", () => form.requestSubmit()));
  // Back to this page from the browser's cache: its fields as they were, usable.
  window.addEventListener("pageshow", () => form.querySelectorAll("[disabled]").forEach((f) => (f.disabled = false)));
}

export function home(indexUrl) {
  localizeTimes(document);
  submitFiltersOnChange();
  const filtered = ["status", "owner", "name", "group"].some((key) => new URL(location.href).searchParams.get(key));
  const rowFor = (id) => document.querySelector(`tr[data-job-id="${id}"]`);

  let timer = null;
  function resync() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const query = new URL(location.href).searchParams;
      query.set("page", table().dataset.page);
      const response = await fetch(`${indexUrl}?${query}`, { headers: { Accept: "application/json" } });
      if (response.ok) render(await response.json());
    }, RESYNC_DELAY_MS);
  }

  function apply(event) {
    const row = rowFor(event.job_id);
    if (event.update === "deleted") {
      if (row) resync(); // the next page's first row moves up
      return;
    }
    if (!row) {
      // A new job, or one of another page or filtered out: only a status or a name can bring
      // it onto this page.
      if (event.update === "status" || event.update === "name") resync();
      return;
    }
    if (event.seq <= Number(row.dataset.seq)) return;
    row.dataset.seq = event.seq;
    if (event.update === "status") setStatus(row, event.status, event.reason);
    if ("progress" in event) setProgress(row.querySelector("[data-role=progress]"), event.progress);
    if (event.update === "name") {
      row.querySelector("[data-role=job-link]").textContent = event.name;
      if ("group" in event) setGroup(row, event.group);
    }
    if (filtered && (event.update === "status" || event.update === "name")) resync(); // it may leave
  }

  watchJobs(resync, apply);
}
