// The Compare page: the models' curves on shared axes, live while they train, and a table that
// sorts by any column.

const CONFIG = { displaylogo: false, responsive: true };
const role = (name) => document.querySelector(`[data-role=${name}]`);

function curves(models, key, dash = "solid", suffix = "") {
  return models.map((model) => {
    const rows = model.metrics.filter((row) => key in row);
    return {
      name: model.name + suffix, mode: "lines+markers", line: { dash },
      x: rows.map((row) => row.epoch), y: rows.map((row) => row[key]),
    };
  });
}

function draw(data) {
  const models = data.models;
  const epochs = { title: { text: "epoch" } };
  const margin = { t: 40, r: 20, b: 40, l: 60 };
  const [score, scoreTitle] = data.score; // the task's: a classifier's top-1, say
  Plotly.react(role("compare-accuracy"), curves(models, score), {
    title: { text: scoreTitle }, xaxis: epochs, margin, legend: { orientation: "h" },
  }, CONFIG);
  Plotly.react(role("compare-loss"), [
    ...curves(models, "val_loss", "solid", " (val)"),
    ...curves(models, "train_loss", "dot", " (train)"),
  ], { title: { text: "loss" }, xaxis: epochs, margin, legend: { orientation: "h" } }, CONFIG);
  Plotly.react(role("compare-lr"), curves(models, "lr"), {
    title: { text: "learning rate" }, xaxis: epochs, yaxis: { rangemode: "tozero" }, margin,
  }, CONFIG);
  role("compare-accuracy").dataset.points = models.reduce(
    (sum, model) => sum + model.metrics.filter((row) => score in row).length, 0);
}

function follow(data) {
  const byId = new Map(data.models.map((model) => [model.id, model]));
  // Live events and a join's catch-up may overlap or cross: each event is applied once.
  const applied = new Set();
  const apply = (event) => {
    const model = byId.get(event.job_id);
    const key = `${event.job_id}:${event.seq}`;
    if (!model || event.seq <= model.seq || applied.has(key)) return;
    applied.add(key);
    if (event.update === "metrics") {
      model.metrics.push(event);
      model.metrics.sort((a, b) => a.epoch - b.epoch);
      draw(data);
    } else if (event.update === "status") {
      const cell = document.querySelector(`tr[data-job-id="${model.id}"] [data-role=status]`);
      if (cell) cell.textContent = event.status;
    }
  };
  const socket = io("/jobs");
  socket.on("connect", () => {
    for (const model of data.models) {
      socket.emit("join", { room: model.id, since: model.seq + 1 }, (answer) => {
        (answer.events || []).forEach(apply);
      });
    }
  });
  socket.on("job update", apply);
}

function sortable(table) {
  table.querySelectorAll("th").forEach((heading, column) => {
    heading.addEventListener("click", () => {
      const ascending = heading.dataset.order !== "asc";
      table.querySelectorAll("th").forEach((th) => delete th.dataset.order);
      heading.dataset.order = ascending ? "asc" : "desc";
      const numeric = heading.dataset.sort === "number";
      const value = (row) => {
        const cell = row.children[column];
        const text = cell.dataset.value ?? cell.textContent.trim();
        return numeric ? (text === "" ? -Infinity : Number(text)) : text.toLowerCase();
      };
      const rows = [...table.tBodies[0].rows].sort((a, b) => {
        const [x, y] = [value(a), value(b)];
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      table.tBodies[0].append(...rows);
    });
  });
}

export function compare() {
  const data = JSON.parse(document.querySelector("[data-compare]").textContent);
  draw(data);
  follow(data);
  sortable(role("compare-table"));
}
