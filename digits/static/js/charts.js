// The pages' Plotly charts: a dataset's images per class, a model's training curves and its
// hardware panels (live, from job.js's `digits:metrics` and `digits:usage` events), Classify
// One's histograms, confusion matrices, and the New Model form's learning-rate preview.

import { figure, formatBytes } from "./util.js";

const CONFIG = { displaylogo: false, responsive: true };
const STILL = { ...CONFIG, staticPlot: true }; // small charts: no hover, no zoom
const ACCENT = "#76b900";

function plot(element, traces, layout, config = CONFIG) {
  if (window.Plotly && element) Plotly.react(element, traces, layout, config);
}

const role = (name, root = document) => root.querySelector(`[data-role=${name}]`);
const embedded = (attribute) => {
  const holder = document.querySelector(`[${attribute}]`);
  return holder ? JSON.parse(holder.textContent) : null;
};

export function classChart() {
  const data = embedded("data-chart-data");
  if (!data) return;
  const traces = data.splits.map((db) => ({
    type: "bar",
    name: db.name.replace(/^Create DB \((.*)\)$/, "$1"),
    x: data.labels,
    y: db.per_class,
  }));
  plot(role("class-chart"), traces, {
    barmode: "group", title: { text: "Images per class" }, margin: { t: 40, r: 10, b: 60, l: 50 },
  });
}

// A rate never falls below zero: the axis starts there, so a fixed rate is a level line at
// its value (autoscaled alone, a flat line sat on a -0.5..1 axis).
const RATE_AXIS = { rangemode: "tozero" };

export function learningRate(element, curve) {
  if (!curve) {
    if (window.Plotly && element) Plotly.purge(element); // no valid rate: no curve at all
    return;
  }
  plot(element, [{ x: curve.x, y: curve.y, mode: "lines" }], {
    title: { text: "Learning rate" }, xaxis: { title: { text: "% of training" } },
    yaxis: RATE_AXIS, margin: { t: 40, r: 10, b: 40, l: 60 },
  });
}

// A trace that grows in place; the page's data and live events may overlap by a row or two.
function push(trace, x, y) {
  if (trace.x.length && trace.x[trace.x.length - 1] >= x) return;
  trace.x.push(x);
  trace.y.push(y);
}

const SERIES_NAMES = { val_mae: "val mean abs. error", val_mse: "val mean squared error" };

function seriesName(key) {
  if (key in SERIES_NAMES) return SERIES_NAMES[key];
  if (key.startsWith("val_mae:")) return `val abs. error ${key.slice(8)}`;
  return key.replace(/^val_/, "val ").replaceAll("_", " ");
}

export function modelCharts() {
  const data = embedded("data-metrics");
  if (!data) return;
  const series = {
    train_loss: { name: "train loss", x: [], y: [], mode: "lines" },
    val_loss: { name: "val loss", x: [], y: [], mode: "lines+markers" },
    val_top1: { name: "val top-1 (%)", x: [], y: [], mode: "lines+markers", yaxis: "y2" },
    val_top5: { name: "val top-5 (%)", x: [], y: [], mode: "lines+markers", yaxis: "y2" },
  };
  const rate = { name: "learning rate", x: [], y: [], mode: "lines" };
  const chart = role("metrics-chart");
  const lrChart = role("lr-chart");
  const add = (row) => {
    // Whatever else the task measures at validation (a regression's errors, overall and each
    // output's `val_mae:<name>`; another task's own figures), on the loss axis.
    for (const key of Object.keys(row)) {
      if (key.startsWith("val_") && !(key in series)) {
        series[key] = { name: seriesName(key), x: [], y: [], mode: "lines+markers" };
      }
    }
    for (const [key, trace] of Object.entries(series)) {
      if (key in row) push(trace, row.epoch, row[key]);
    }
    if ("lr" in row) push(rate, row.epoch, row.lr);
  };
  let revision = 0;
  const draw = () => {
    revision += 1; // the traces grow in place: a new datarevision makes Plotly.react redraw
    const margin = { t: 20, r: 60, b: 40, l: 60 };
    const epochs = { title: { text: "epoch" } };
    plot(chart, Object.values(series), {
      datarevision: revision, xaxis: epochs, yaxis: { title: { text: "loss" } },
      yaxis2: { title: { text: "accuracy (%)" }, overlaying: "y", side: "right", range: [0, 102] },
      margin, legend: { orientation: "h" },
    });
    plot(lrChart, [rate], {
      datarevision: revision, xaxis: epochs, yaxis: { ...RATE_AXIS, title: { text: "learning rate" } }, margin,
    });
    chart.dataset.points = series.train_loss.x.length + series.val_loss.x.length;
  };
  data.metrics.forEach(add);
  draw();
  document.addEventListener("digits:metrics", (event) => { add(event.detail); draw(); });
  usagePanels(data.usage);
  if (data.probes) probeStrips(data.probes);
}

// Probe images: a strip per image, a cell per validation with its top class, live.
function probeStrips(probes) {
  const holder = role("probe-strips");
  const strips = probes.images.map((probe) => {
    const strip = document.createElement("div");
    strip.className = "probe-strip";
    strip.dataset.role = "probe-strip";
    const picture = document.createElement("figure");
    const img = document.createElement("img");
    img.src = probe.image;
    img.alt = probes.labels[probe.label];
    const caption = document.createElement("figcaption");
    caption.textContent = probes.labels[probe.label];
    picture.append(img, caption);
    strip.append(picture);
    holder.append(strip);
    return strip;
  });
  const add = (row) => {
    row.probes.forEach((top, index) => {
      if (!strips[index]) return;
      const [best, chance] = top[0];
      const cell = document.createElement("span");
      const right = best === probes.images[index].label;
      cell.className = `probe ${right ? "right" : "wrong"}`;
      cell.dataset.role = "probe";
      cell.title = `epoch ${row.epoch}: ` + top.map(([c, p]) => `${probes.labels[c]} ${(100 * p).toFixed(1)}%`).join(", ");
      cell.textContent = `${probes.labels[best]} ${Math.round(100 * chance)}%`;
      strips[index].append(cell);
    });
  };
  probes.history.forEach(add);
  document.addEventListener("digits:probes", (event) => add(event.detail));
}

export function gpuFigures(gpu) {
  return {
    utilization: figure(gpu.utilization, " %"),
    memory: `${formatBytes(gpu.memory_used)} of ${formatBytes(gpu.memory_total)}`,
    temperature: figure(gpu.temperature, " °C"),
    power: gpu.power_limit ? `${figure(gpu.power, " W")} of ${figure(gpu.power_limit, " W")}`
      : figure(gpu.power, " W"),
  };
}

// A training job's hardware: a panel for its processes and one per GPU, with their history.
function usagePanels(samples) {
  const holder = role("usage-panels");
  if (!holder) return;
  const HISTORY = 300;
  const panels = new Map();

  function panel(key, title, traceNames) {
    if (!panels.has(key)) {
      const element = document.createElement("div");
      element.className = "usage-panel";
      element.dataset.role = "usage-panel";
      element.dataset.key = key;
      const heading = document.createElement("h3");
      const list = document.createElement("dl");
      const chart = document.createElement("div");
      chart.className = "chart tiny";
      element.append(heading, list, chart);
      holder.append(element);
      const traces = traceNames.map((name, i) => ({ name, x: [], y: [], mode: "lines", yaxis: i ? "y2" : "y" }));
      panels.set(key, { element, heading, list, chart, traces });
    }
    const found = panels.get(key);
    found.heading.textContent = title;
    return found;
  }

  function show(found, figures) {
    found.list.replaceChildren(...Object.entries(figures).flatMap(([name, text]) => {
      const term = document.createElement("dt");
      term.textContent = name;
      const value = document.createElement("dd");
      value.dataset.field = name;
      value.textContent = text;
      return [term, value];
    }));
  }

  function record(found, time, values) {
    found.traces.forEach((trace, i) => {
      trace.x.push(time);
      trace.y.push(values[i]);
      if (trace.x.length > HISTORY) { trace.x.shift(); trace.y.shift(); }
    });
  }

  function add(sample) {
    const time = new Date(sample.time * 1000);
    const processes = panel("processes", "Training processes", ["CPU (%)", "memory (GiB)"]);
    show(processes, {
      CPU: `${figure(sample.cpu_percent, " %")} (${sample.cpu_count} cores = ${sample.cpu_count * 100} %)`,
      memory: formatBytes(sample.memory),
      processes: String(sample.processes),
    });
    record(processes, time, [sample.cpu_percent, sample.memory / 2 ** 30]);
    for (const gpu of sample.gpus || []) {
      const found = panel(`gpu${gpu.index}`, `GPU ${gpu.index} · ${gpu.name}`, ["utilization (%)", "memory (%)"]);
      show(found, gpuFigures(gpu));
      record(found, time, [gpu.utilization, 100 * gpu.memory_used / (gpu.memory_total || 1)]);
    }
    role("usage-empty").hidden = true;
  }

  let revision = 0;
  function draw() {
    revision += 1; // the traces grow in place (see modelCharts)
    for (const found of panels.values()) {
      plot(found.chart, found.traces, {
        datarevision: revision, margin: { t: 8, r: 55, b: 24, l: 50 }, showlegend: false, height: 140,
        xaxis: { tickformat: "%H:%M:%S" },
        yaxis: { title: { text: found.traces[0].name }, rangemode: "tozero" },
        yaxis2: { title: { text: found.traces[1].name }, overlaying: "y", side: "right", rangemode: "tozero" },
      }, STILL);
    }
  }

  samples.forEach(add);
  draw();
  document.addEventListener("digits:usage", (event) => { add(event.detail); draw(); });
}

export function histograms() {
  const data = embedded("data-histograms");
  if (!data) return;
  document.querySelectorAll("[data-histogram]").forEach((chart) => {
    const histogram = data[chart.dataset.histogram];
    if (!histogram) return;
    const centres = histogram.counts.map((_, i) => (histogram.edges[i] + histogram.edges[i + 1]) / 2);
    plot(chart, [{ type: "bar", x: centres, y: histogram.counts, marker: { color: ACCENT } }], {
      margin: { t: 6, r: 10, b: 24, l: 40 }, height: 120, bargap: 0.05,
    }, STILL);
  });
}

// Rows: the true class (top to bottom); columns: the predicted one.
export function confusionMatrix() {
  document.querySelectorAll("[data-confusion]").forEach((holder) => {
    const { labels, matrix } = JSON.parse(holder.textContent);
    const chart = role("confusion-matrix", holder.parentElement);
    if (!chart) return;
    // Plotly's "Greens" runs dark to light: reversed, the largest counts are the darkest.
    plot(chart, [{ type: "heatmap", z: matrix, x: labels, y: labels, colorscale: "Greens",
      reversescale: true, texttemplate: "%{z}", hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>" }], {
      xaxis: { title: { text: "predicted" }, side: "top" }, yaxis: { title: { text: "true" }, autorange: "reversed" },
      margin: { t: 60, r: 20, b: 20, l: 80 }, height: 320,
    });
    chart.dataset.cells = matrix.length * (matrix[0] || []).length;
  });
}

// Infer Many with known values: each output's predicted value against the known one.
export function predictedVsKnown() {
  const holder = document.querySelector("[data-scatter]");
  if (!holder) return;
  const { outputs, rows } = JSON.parse(holder.textContent);
  const known = rows.filter((row) => row.target);
  const traces = outputs.map((name, i) => ({
    name, type: "scatter", mode: "markers",
    x: known.map((row) => row.target[i]), y: known.map((row) => row.output[i]),
  }));
  const values = known.flatMap((row) => [...row.target, ...row.output]);
  const low = Math.min(...values);
  const high = Math.max(...values);
  traces.push({ name: "exact", x: [low, high], y: [low, high], mode: "lines", line: { dash: "dot" } });
  const chart = role("predicted-vs-known", holder.parentElement);
  plot(chart, traces, {
    xaxis: { title: { text: "known" } }, yaxis: { title: { text: "predicted" } },
    margin: { t: 20, r: 20, b: 40, l: 60 }, height: 320, legend: { orientation: "h" },
  });
  chart.dataset.points = known.length;
}

// A generic dataset: each output's distribution, one histogram per output and database.
export function outputHistograms() {
  const statistics = embedded("data-output-statistics");
  if (!statistics) return;
  const traces = Object.entries(statistics).flatMap(([split, outputs]) => outputs.map((output) => {
    const { counts, edges } = output.histogram;
    return {
      type: "bar", name: `${output.name} (${split})`, opacity: 0.6,
      x: counts.map((_, i) => (edges[i] + edges[i + 1]) / 2), y: counts,
    };
  }));
  plot(role("output-histograms"), traces, {
    barmode: "overlay", title: { text: "Values per output" }, margin: { t: 40, r: 10, b: 40, l: 50 },
  });
}

// A learning-rate range test: the smoothed loss against the rate (a log axis), the proposal marked.
export function rangeTest() {
  const test = embedded("data-range-test");
  if (!test) return;
  const traces = [{ name: "loss (smoothed)", mode: "lines", x: test.rows.map((r) => r.lr), y: test.rows.map((r) => r.loss) }];
  const shapes = test.suggested ? [{ type: "line", x0: test.suggested, x1: test.suggested, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: ACCENT } }] : [];
  const chart = role("range-test-chart");
  plot(chart, traces, {
    xaxis: { type: "log", title: { text: "learning rate" } }, yaxis: { title: { text: "loss" } },
    shapes, margin: { t: 20, r: 20, b: 50, l: 60 },
  });
  chart.dataset.points = test.rows.length;
}
