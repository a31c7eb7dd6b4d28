// The Hardware page: each host's GPUs with their figures and holders, the running and waiting
// jobs; read again every 2 s from the page's JSON twin.

import { gpuFigures } from "./charts.js";
import { cell } from "./util.js";

function jobLink(job, url) {
  const link = document.createElement("a");
  link.href = url.replace("__id__", job.id);
  link.textContent = job.name;
  return link;
}

function hostCard(host, jobUrl) {
  const card = document.createElement("section");
  card.className = "card";
  card.dataset.role = "host";
  card.dataset.node = host.node;
  const heading = document.createElement("h2");
  heading.textContent = `${host.node} `;
  const detail = document.createElement("span");
  detail.className = "muted";
  // The machine's own name only where the workers were given another (`--hostname`).
  const machine = host.host && host.host !== host.node ? `${host.host} · ` : "";
  detail.textContent = `${machine}queues ${host.queues.join(", ")}`;
  heading.append(detail);
  card.append(heading);
  if (!host.gpus.length) {
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = "No GPUs offered: this host's training jobs run on its CPU.";
    card.append(note);
    return card;
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const title of ["GPU", "Name", "Utilization", "Memory", "Temperature", "Power", "Held by"]) {
    const th = document.createElement("th");
    th.textContent = title;
    head.append(th);
  }
  const body = table.createTBody();
  for (const gpu of host.gpus) {
    const figures = gpuFigures(gpu);
    const row = body.insertRow();
    row.dataset.role = "gpu";
    row.dataset.index = gpu.index;
    const holder = gpu.held_by ? jobLink({ id: gpu.held_by.job_id, name: gpu.held_by.name }, jobUrl) : "free";
    row.append(cell(String(gpu.index)), cell(gpu.name), cell(figures.utilization),
      cell(figures.memory), cell(figures.temperature), cell(figures.power), cell(holder));
    row.cells[2].dataset.field = "utilization";
    row.cells[6].dataset.field = "holder";
  }
  card.append(table);
  return card;
}

export function hardware() {
  const page = document.querySelector("[data-role=hardware]");
  const hostsBox = page.querySelector("[data-role=hosts]");
  const jobUrl = page.dataset.jobUrl;

  function fillJobs(name, jobs, columns) {
    page.querySelector(`[data-role=${name}] tbody`).replaceChildren(...jobs.map((job) => {
      const row = document.createElement("tr");
      row.dataset.jobId = job.id;
      row.append(cell(jobLink(job, jobUrl)), ...columns(job).map(cell));
      return row;
    }));
  }

  function render(report) {
    hostsBox.replaceChildren(...report.hosts.map((host) => hostCard(host, jobUrl)));
    if (!report.hosts.length) {
      const note = document.createElement("p");
      note.className = "card warning";
      note.textContent = "No worker is running: start `digits serve` or `digits worker`.";
      hostsBox.append(note);
    }
    // A job trained across hosts: each host's GPUs ("node1: 0, 1; node2: 0").
    const gpus = (job) => job.hosts
      ? job.hosts.map((host) => `${host.host}: ${host.gpus.join(", ")}`).join("; ")
      : (job.gpus.length ? job.gpus.join(", ") : "CPU");
    fillJobs("running-jobs", report.running, (job) => [job.worker || "", gpus(job)]);
    fillJobs("waiting-jobs", report.waiting, (job) => [job.status_reason || "its turn in the queue"]);
  }

  render(JSON.parse(document.querySelector("[data-hardware]").textContent));
  window.setInterval(async () => {
    try {
      const response = await fetch(page.dataset.reportUrl);
      if (response.ok) render(await response.json());
    } catch (error) { /* the server is restarting: try again at the next tick */ }
  }, 2000);
}
