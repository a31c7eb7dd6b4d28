// A search's page: the trials table and the chart of their scores, drawn from the search's
// summary and redrawn with each one the search reports.
import { cell } from "./util.js";

const CONFIG = { displaylogo: false, responsive: true };
const role = (name) => document.querySelector(`[data-role=${name}]`);

function score(search, value) {
  if (value === null || value === undefined) return "";
  return search.metric === "val_top1" ? `${value.toFixed(1)}%` : value.toPrecision(4);
}

// The trial's own score when it finished, else its last reported one (a pruned trial's).
const lastScore = (trial) => trial.value ?? trial.scores[trial.scores.length - 1];

function row(search, trial, modelUrl) {
  const tr = document.createElement("tr");
  tr.dataset.state = trial.state;
  const link = document.createElement(trial.job_id ? "a" : "span");
  link.textContent = `#${trial.number}`;
  if (trial.job_id) link.href = modelUrl.replace("__id__", trial.job_id);
  const values = Object.entries(trial.values).map(([name, value]) => `${name} ${value}`).join(", ");
  tr.append(cell(link), cell(trial.state), cell(values), cell(score(search, lastScore(trial))),
    cell(trial.epochs ?? ""), cell(trial.note || ""));
  if (trial.number === search.best) {
    tr.classList.add("best");
    tr.dataset.role = "best-trial";
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = "best";
    tr.cells[0].append(" ", tag);
  }
  return tr;
}

function chart(search) {
  const finished = search.trials.filter((trial) => lastScore(trial) !== undefined);
  const better = search.direction === "maximize" ? Math.max : Math.min;
  let best = null;
  const bestSoFar = search.trials.filter((trial) => trial.value !== null).map((trial) => {
    best = best === null ? trial.value : better(best, trial.value);
    return { x: trial.number, y: best };
  });
  const byState = (state) => finished.filter((trial) => trial.state === state);
  const points = (state, symbol) => ({
    name: state, mode: "markers", marker: { symbol, size: 10 },
    x: byState(state).map((trial) => trial.number), y: byState(state).map(lastScore),
    text: byState(state).map((trial) => Object.entries(trial.values).map(([k, v]) => `${k} ${v}`).join("<br>")),
  });
  Plotly.react(role("search-chart"), [
    points("Done", "circle"), points("Pruned", "x"), points("Running", "circle-open"),
    { name: "best so far", mode: "lines", line: { shape: "hv" }, x: bestSoFar.map((p) => p.x), y: bestSoFar.map((p) => p.y) },
  ], {
    xaxis: { title: { text: "trial" }, dtick: 1 },
    yaxis: { title: { text: search.metric === "val_top1" ? "validation top-1 (%)" : "validation loss" } },
    margin: { t: 20, r: 20, b: 40, l: 60 }, legend: { orientation: "h" },
  }, CONFIG);
}

function draw(search, modelUrl) {
  if (!search) return;
  role("trials").tBodies[0].replaceChildren(...search.trials.map((trial) => row(search, trial, modelUrl)));
  const best = search.trials.find((trial) => trial.number === search.best);
  if (best) {
    const values = Object.entries(best.values).map(([name, value]) => `${name} ${value}`).join(", ");
    role("search-best").textContent = `Best so far: trial #${best.number}, ${score(search, best.value)} (${values}).`;
    role("search-best").classList.remove("muted");
  }
  chart(search);
}

export function searchPage(modelUrl) {
  draw(JSON.parse(document.querySelector("[data-search]").textContent), modelUrl);
  document.addEventListener("digits:search", (event) => draw(event.detail.search, modelUrl));
}
