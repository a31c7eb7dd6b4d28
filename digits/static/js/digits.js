// Live pages: the home page's job list and a job's own page, fed over Socket.IO.
//
// Every event of a job carries `seq`, its line number in the job's events file. A page keeps the
// next seq it expects, holds back events that arrive early, and on (re)connect asks the server
// for everything after what it has, so nothing is missed and nothing is applied twice.
"use strict";

const DIGITS = (() => {
  const TERMINAL = ["Done", "Aborted", "Error"];
  const metricsListeners = [];
  // With accounts, every change a page asks for carries its session's CSRF token.
  const CSRF = { "X-CSRF-Token": document.querySelector("meta[name=csrf-token]")?.content || "" };
  const usageListeners = [];

  function formatDuration(seconds) {
    const s = Math.round(seconds);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }

  function formatTime(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  function setProgress(element, progress) {
    if (!element) return;
    element.dataset.progress = progress;
    element.querySelector(".bar").style.width = `${(progress * 100).toFixed(1)}%`;
    element.querySelector(".label").textContent = `${Math.round(progress * 100)}%`;
  }

  function setStatus(container, status, reason) {
    const badge = container.querySelector("[data-testid=status]");
    badge.textContent = status;
    badge.className = `status status-${status.toLowerCase()}`;
    badge.title = reason || "";
    let note = container.querySelector("[data-testid=status-reason]");
    if (reason) {
      if (!note) {
        note = document.createElement("span");
        note.className = "reason";
        note.dataset.testid = "status-reason";
        badge.after(" ", note);
      }
      note.textContent = reason;
    } else if (note) {
      note.remove();
    }
  }

  function cell(content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    return td;
  }

  function statusCell(status, reason) {
    const td = document.createElement("td");
    const badge = document.createElement("span");
    badge.dataset.testid = "status";
    td.append(badge);
    setStatus(td, status, reason);
    return td;
  }

  function progressBar(progress) {
    const box = document.createElement("div");
    box.className = "progress";
    box.dataset.testid = "progress";
    const bar = document.createElement("div");
    bar.className = "bar";
    const label = document.createElement("span");
    label.className = "label";
    box.append(bar, label);
    setProgress(box, progress);
    return box;
  }

  function localizeTimes(root) {
    root.querySelectorAll(".time[data-time]").forEach((el) => {
      el.textContent = formatTime(Number(el.dataset.time));
    });
  }

  // ---- Home page --------------------------------------------------------------------------
  function home() {
    document.querySelectorAll(".tab").forEach((tab) => {
      tab.addEventListener("click", () => {
        document.querySelectorAll(".tab").forEach((t) => {
          t.classList.toggle("active", t === tab);
          t.setAttribute("aria-selected", t === tab);
        });
        document.querySelectorAll(".tab-panel").forEach((p) => {
          p.classList.toggle("active", p.dataset.panel === tab.dataset.tab);
        });
      });
    });
    localizeTimes(document);

    const rowFor = (id) => document.querySelector(`tr[data-job-id="${id}"]`);

    function buildRow(job) {
      const tr = document.createElement("tr");
      tr.dataset.jobId = job.id;
      tr.dataset.seq = job.seq;
      const link = document.createElement("a");
      link.href = `/${job.kind}s/${job.id}`;
      link.textContent = job.name;
      const time = cell(formatTime(job.submitted));
      time.className = "time";
      time.dataset.time = job.submitted;
      tr.append(cell(link), statusCell(job.status, job.status_reason), cell(job.owner), time,
                cell(progressBar(job.progress)));
      return tr;
    }

    function refreshCounts() {
      for (const kind of ["dataset", "model"]) {
        const body = document.querySelector(`tbody[data-kind="${kind}"]`);
        const count = body.querySelectorAll("tr").length;
        document.querySelector(`[data-count="${kind}s"]`).textContent = count;
        body.closest("section").querySelector(".empty").hidden = count > 0;
      }
    }

    function renderAll(jobs) {
      for (const kind of ["dataset", "model"]) {
        const body = document.querySelector(`tbody[data-kind="${kind}"]`);
        body.replaceChildren(...jobs.filter((j) => j.kind === kind).map(buildRow));
      }
      refreshCounts();
    }

    function apply(event) {
      const row = rowFor(event.job_id);
      if (event.update === "deleted") {
        if (row) row.remove();
        refreshCounts();
        return;
      }
      if (!row) {
        // A job we have not seen: fetch the list again rather than guess its row.
        resync();
        return;
      }
      if (event.seq <= Number(row.dataset.seq)) return;
      row.dataset.seq = event.seq;
      if (event.update === "status") setStatus(row, event.status, event.reason);
      if ("progress" in event) setProgress(row.querySelector("[data-testid=progress]"), event.progress);
      if (event.update === "name") row.querySelector("a").textContent = event.name;
    }

    const socket = io("/jobs");
    function resync() {
      socket.emit("join", { room: "job_management" }, (answer) => renderAll(answer.jobs));
    }
    socket.on("connect", resync);
    socket.on("job update", apply);
  }

  // ---- A job's page -----------------------------------------------------------------------
  function job(jobId, kind, lastSeq) {
    localizeTimes(document);
    let next = lastSeq + 1;
    const early = new Map();
    const statusCard = document.querySelector("[data-testid=status-history]").closest("section");
    const log = document.querySelector("[data-testid=log]");
    const errorBox = document.querySelector("[data-testid=job-error]");

    function apply(event) {
      if (event.update === "status") {
        setStatus(statusCard, event.status, event.reason);
        const row = document.createElement("tr");
        const time = cell(formatTime(event.time));
        time.className = "time";
        row.append(cell(event.status), time, cell(event.reason || ""));
        statusCard.querySelector("tbody").append(row);
        document.querySelector("[data-action=abort]").disabled = TERMINAL.includes(event.status);
        // A stopped job may go on (the server says so if it has nothing to go on from).
        document.querySelector("[data-action=resume]").hidden = !["Aborted", "Error"].includes(event.status);
        if (event.status === "Error") {
          errorBox.textContent = event.reason || "";
          errorBox.hidden = false;
        }
      }
      if ("progress" in event) setProgress(document.querySelector("[data-testid=progress]"), event.progress);
      if (event.update === "progress") {
        const parts = [];
        if (event.total) parts.push(`${event.done} of ${event.total} images`);
        if (event.epoch !== undefined) parts.push(`epoch ${event.epoch}`);
        if (event.images_per_sec) parts.push(`${Math.round(event.images_per_sec)} images/s`);
        if (event.eta > 0) parts.push(`about ${formatDuration(event.eta)} left`);
        document.querySelector("[data-testid=progress-detail]").textContent = parts.join(" · ");
      }
      if (event.update === "status" && event.status === "Done" && statusCard.dataset.reloadOnDone) {
        // A finished job's page gains its results (databases, charts): show them.
        window.setTimeout(() => window.location.reload(), 300);
      }
      if (event.update === "log") {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(`${event.line}\n`);
        if (atBottom) log.scrollTop = log.scrollHeight;
      }
      if (event.update === "metrics") metricsListeners.forEach((listener) => listener(event));
      if (event.update === "name") {
        document.querySelector("[data-testid=job-name]").textContent = event.name;
        document.querySelector("[data-testid=job-notes]").textContent = event.notes || "—";
      }
    }

    function receive(events) {
      for (const event of events) {
        if (event.seq >= next) early.set(event.seq, event);
      }
      while (early.has(next)) {
        apply(early.get(next));
        early.delete(next);
        next += 1;
      }
      if (early.size) catchUp(); // a gap: the server's file has what we missed
    }

    const socket = io("/jobs");
    function catchUp() {
      socket.emit("join", { room: jobId, since: next }, (answer) => {
        if (answer.events) receive(answer.events);
      });
    }
    socket.on("connect", catchUp);
    socket.on("job usage", (sample) => {
      if (sample.job_id === jobId) usageListeners.forEach((listener) => listener(sample));
    });
    socket.on("job update", (event) => {
      if (event.job_id !== jobId) return;
      if (event.update === "deleted") {
        showError("This job has been deleted.");
        return;
      }
      receive([event]);
    });

    function showError(message) {
      const box = document.querySelector("[data-testid=action-error]");
      box.textContent = message;
      box.hidden = false;
    }

    async function act(method, url) {
      const response = await fetch(url, { method, headers: { Accept: "application/json", ...CSRF } });
      if (response.status === 401) {
        window.location = `/login?next=${encodeURIComponent(window.location.pathname)}`;
        return null;
      }
      if (!response.ok) {
        const text = await response.text();
        let message = text;
        try {
          message = Object.values(JSON.parse(text).errors).flat().join(" ");
        } catch (_) { /* plain text */ }
        showError(message);
        return null;
      }
      return response;
    }

    document.querySelector("[data-action=abort]").addEventListener("click", () => {
      act("POST", `/${kind}s/${jobId}/abort.json`);
    });
    document.querySelector("[data-action=resume]").addEventListener("click", () => {
      act("POST", `/${kind}s/${jobId}/resume.json`);
    });
    document.querySelector("[data-action=delete]").addEventListener("click", async () => {
      if (!window.confirm("Delete this job and its files?")) return;
      if (await act("DELETE", `/${kind}s/${jobId}`)) window.location = "/";
    });
    const cloneButton = document.querySelector("button[data-action=clone]");
    if (cloneButton) {
      cloneButton.addEventListener("click", async () => {
        const response = await act("POST", `/clone/${jobId}.json`);
        if (response) window.location = `/${kind}s/${(await response.json()).id}`;
      });
    }
  }

  // ---- The New Dataset form ----------------------------------------------------------------
  function datasetForm() {
    const form = document.querySelector("[data-testid=dataset-form]");
    function showMethod() {
      const method = form.querySelector("input[name=method]:checked").value;
      form.querySelectorAll("[data-method]").forEach((section) => {
        section.hidden = section.dataset.method !== method;
      });
    }
    form.querySelectorAll("input[name=method]").forEach((r) => r.addEventListener("change", showMethod));
    showMethod();

    const exampleFile = form.querySelector("[data-example-file]");
    const examples = form.querySelector("[data-examples]");
    exampleFile.addEventListener("change", async () => {
      const body = new FormData();
      for (const name of ["resize_channels", "resize_width", "resize_height"]) {
        body.append(name, form.elements[name].value);
      }
      body.append("image_file", exampleFile.files[0]);
      const response = await fetch("/datasets/images/resize-example.json", { method: "POST", body, headers: CSRF });
      const answer = await response.json();
      if (!response.ok) {
        examples.textContent = Object.values(answer.errors).flat().join(" ");
        return;
      }
      examples.replaceChildren(...Object.entries(answer.examples).map(([mode, src]) => {
        const figure = document.createElement("figure");
        const img = document.createElement("img");
        img.src = src;
        img.alt = mode;
        const caption = document.createElement("figcaption");
        caption.textContent = mode;
        figure.append(img, caption);
        return figure;
      }));
    });
  }

  // ---- A dataset's images per class -----------------------------------------------------------
  function classChart() {
    const holder = document.querySelector("[data-chart-data]");
    if (!holder || !window.Plotly) return;
    const data = JSON.parse(holder.textContent);
    const traces = data.splits.map((db) => ({
      type: "bar",
      name: db.name.replace(/^Create DB \((.*)\)$/, "$1"),
      x: data.labels,
      y: db.per_class,
    }));
    Plotly.newPlot(document.querySelector("[data-testid=class-chart]"), traces, {
      barmode: "group",
      title: { text: "Images per class" },
      margin: { t: 40, r: 10, b: 60, l: 50 },
    }, { displaylogo: false, responsive: true });
  }

  // ---- The New Model form -------------------------------------------------------------------
  function modelForm() {
    const form = document.querySelector("[data-testid=model-form]");
    // The custom network's code editor (CodeMirror keeps the textarea in step on submit).
    const editor = window.CodeMirror
      ? CodeMirror.fromTextArea(form.elements.custom_network, { mode: "python", lineNumbers: true, indentUnit: 4 })
      : null;
    const code = {
      get: () => (editor ? editor.getValue() : form.elements.custom_network.value),
      set: (text) => (editor ? editor.setValue(text) : (form.elements.custom_network.value = text)),
    };
    let markedLine = null;
    const showMethod = () => {
      const method = form.querySelector("input[name=method]:checked").value;
      form.querySelectorAll("[data-method]").forEach((s) => { s.hidden = s.dataset.method !== method; });
      if (editor && method === "custom") editor.refresh();
    };
    form.querySelectorAll("input[name=method]").forEach((r) => r.addEventListener("change", showMethod));
    showMethod();

    const policyFields = () => {
      const prefix = `lr_${form.elements.lr_policy.value}_`;
      form.querySelectorAll(".policy-fields input").forEach((input) => {
        const shown = input.name.startsWith(prefix);
        input.classList.toggle("shown", shown);
        form.querySelector(`label[for=${input.id}]`).classList.toggle("shown", shown);
      });
    };
    async function previewRate() {
      policyFields();
      const response = await fetch("/models/visualize-lr.json", { method: "POST", body: new FormData(form), headers: CSRF });
      if (!response.ok || !window.Plotly) return;
      const curve = await response.json();
      Plotly.react(form.querySelector("[data-testid=lr-preview]"), [{ x: curve.x, y: curve.y, mode: "lines" }],
        { title: { text: "Learning rate" }, xaxis: { title: { text: "% of training" } },
          margin: { t: 40, r: 10, b: 40, l: 60 } }, { displaylogo: false, responsive: true });
    }
    form.querySelectorAll("[name^=lr_], [name=learning_rate]").forEach((el) => el.addEventListener("change", previewRate));
    previewRate();

    form.querySelector("[data-action=customize]").addEventListener("click", async () => {
      const body = new FormData();
      body.append("network", form.querySelector("input[name=standard_networks]:checked").value);
      const response = await fetch("/models/customize.json", { method: "POST", body, headers: CSRF });
      code.set((await response.json()).network);
      form.querySelector("input[name=method][value=custom]").checked = true;
      showMethod();
    });

    form.querySelector("[data-action=visualize]").addEventListener("click", async () => {
      const body = new FormData();
      body.append("dataset", form.elements.dataset.value);
      body.append("crop_size", form.elements.crop_size.value);
      const method = form.querySelector("input[name=method]:checked").value;
      if (method === "custom") body.append("custom_network", code.get());
      else body.append("standard_networks", form.querySelector("input[name=standard_networks]:checked").value);
      const response = await fetch("/models/visualize-network.json", { method: "POST", body, headers: CSRF });
      const answer = await response.json();
      const box = form.querySelector("[data-testid=visualization]");
      if (editor && markedLine !== null) editor.removeLineClass(markedLine, "background", "error-line");
      markedLine = null;
      if (!response.ok) {
        const where = answer.line ? `line ${answer.line}: ` : "";
        if (editor && answer.line && method === "custom") {
          markedLine = answer.line - 1;
          editor.addLineClass(markedLine, "background", "error-line");
        }
        box.innerHTML = "";
        const p = document.createElement("p");
        p.className = "error";
        p.dataset.testid = "network-error";
        p.textContent = where + Object.values(answer.errors).flat().join(" ");
        box.append(p);
        return;
      }
      const table = document.createElement("table");
      const head = table.insertRow();
      ["Layer", "Type", "Output shape", "Parameters"].forEach((t) => { head.insertCell().textContent = t; });
      for (const layer of answer.layers) {
        const row = table.insertRow();
        [layer.name, layer.kind, layer.output_shape.join(" × "), layer.parameters.toLocaleString()]
          .forEach((t) => { row.insertCell().textContent = t; });
      }
      const total = document.createElement("p");
      total.textContent = `Input ${answer.input.join(" × ")} · ${answer.total_parameters.toLocaleString()} parameters`;
      const graph = document.createElement("div");
      graph.className = "network-graph";
      graph.dataset.testid = "network-graph";
      box.replaceChildren(total, graph, table);
      drawNetwork(graph, answer.graph);
    });
  }

  function drawNetwork(container, graph) {
    if (!window.cytoscape || !graph) return;
    const label = (n) => {
      const params = n.parameters ? ` · ${n.parameters.toLocaleString()}` : "";
      return `${n.label} (${n.kind})\n${n.output_shape.join("×")}${params}`;
    };
    container.dataset.nodes = graph.nodes.length;
    cytoscape({
      container,
      elements: [
        ...graph.nodes.map((n) => ({ data: { id: n.id, label: label(n) } })),
        ...graph.edges.map(([source, target], i) => ({ data: { id: `edge${i}`, source, target } })),
      ],
      layout: { name: "breadthfirst", directed: true, spacingFactor: 0.8 },
      style: [
        { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "text-valign": "center",
          shape: "round-rectangle", width: 170, height: 34, "font-size": 9,
          "background-color": "#eef7dc", "border-color": "#76b900", "border-width": 1 } },
        { selector: "edge", style: { width: 1, "curve-style": "bezier", "target-arrow-shape": "triangle" } },
      ],
    });
  }

  // ---- A model's training charts --------------------------------------------------------------
  function modelCharts() {
    const holder = document.querySelector("[data-metrics]");
    if (!holder || !window.Plotly) return;
    const rows = JSON.parse(holder.textContent).metrics;
    const series = {
      train_loss: { name: "train loss", x: [], y: [], mode: "lines" },
      val_loss: { name: "val loss", x: [], y: [], mode: "lines+markers" },
      val_top1: { name: "val top-1 (%)", x: [], y: [], mode: "lines+markers", yaxis: "y2" },
      val_top5: { name: "val top-5 (%)", x: [], y: [], mode: "lines+markers", yaxis: "y2" },
    };
    const rate = { name: "learning rate", x: [], y: [], mode: "lines" };
    const chart = document.querySelector("[data-testid=metrics-chart]");
    const lrChart = document.querySelector("[data-testid=lr-chart]");
    function push(trace, epoch, value) {
      // The page's data and the live events may overlap by a row or two: keep each epoch once.
      if (trace.x.length && trace.x[trace.x.length - 1] >= epoch) return;
      trace.x.push(epoch);
      trace.y.push(value);
    }
    function add(row) {
      for (const [key, trace] of Object.entries(series)) {
        if (key in row) push(trace, row.epoch, row[key]);
      }
      if ("lr" in row) push(rate, row.epoch, row.lr);
    }
    let revision = 0;
    function draw() {
      // The traces grow in place: a new datarevision is what tells Plotly.react to redraw.
      revision += 1;
      Plotly.react(chart, Object.values(series), {
        datarevision: revision,
        xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "loss" } },
        yaxis2: { title: { text: "accuracy (%)" }, overlaying: "y", side: "right", range: [0, 102] },
        margin: { t: 20, r: 60, b: 40, l: 60 }, legend: { orientation: "h" },
      }, { displaylogo: false, responsive: true });
      Plotly.react(lrChart, [rate], { datarevision: revision, xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "learning rate" } },
        margin: { t: 20, r: 60, b: 40, l: 60 } }, { displaylogo: false, responsive: true });
      chart.dataset.points = series.train_loss.x.length + series.val_loss.x.length;
    }
    rows.forEach(add);
    draw();
    metricsListeners.push((event) => { add(event); draw(); });
    usagePanels(JSON.parse(holder.textContent).usage);
  }

  // ---- Hardware figures: a training job's panels, and the Hardware page ------------------------
  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return "—";
    const gib = bytes / 2 ** 30;
    return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
  }

  function figure(value, unit, digits = 0) {
    return value === null || value === undefined ? "—" : `${Number(value).toFixed(digits)}${unit}`;
  }

  function gpuFigures(gpu) {
    return {
      utilization: figure(gpu.utilization, " %"),
      memory: `${formatBytes(gpu.memory_used)} of ${formatBytes(gpu.memory_total)}`,
      temperature: figure(gpu.temperature, " °C"),
      power: gpu.power_limit ? `${figure(gpu.power, " W")} of ${figure(gpu.power_limit, " W")}`
        : figure(gpu.power, " W"),
    };
  }

  function usagePanels(samples) {
    const holder = document.querySelector("[data-testid=usage-panels]");
    if (!holder || !window.Plotly) return;
    const HISTORY = 300;
    const panels = new Map();

    function panel(key, title, traceNames) {
      if (!panels.has(key)) {
        const element = document.createElement("div");
        element.className = "usage-panel";
        element.dataset.testid = "usage-panel";
        element.dataset.key = key;
        const heading = document.createElement("h3");
        const list = document.createElement("dl");
        const chart = document.createElement("div");
        chart.className = "chart tiny";
        element.append(heading, list, chart);
        holder.append(element);
        const traces = traceNames.map((name, i) => ({ name, x: [], y: [], mode: "lines",
          yaxis: i ? "y2" : "y" }));
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
        const found = panel(`gpu${gpu.index}`, `GPU ${gpu.index} · ${gpu.name}`,
          ["utilization (%)", "memory (%)"]);
        show(found, gpuFigures(gpu));
        record(found, time, [gpu.utilization, 100 * gpu.memory_used / (gpu.memory_total || 1)]);
      }
      document.querySelector("[data-testid=usage-empty]").hidden = true;
    }

    let revision = 0;
    function draw() {
      revision += 1; // the traces grow in place (see modelCharts)
      for (const found of panels.values()) {
        Plotly.react(found.chart, found.traces, {
          datarevision: revision,
          margin: { t: 8, r: 55, b: 24, l: 50 }, showlegend: false, height: 140,
          xaxis: { tickformat: "%H:%M:%S" },
          yaxis: { title: { text: found.traces[0].name }, rangemode: "tozero" },
          yaxis2: { title: { text: found.traces[1].name }, overlaying: "y", side: "right", rangemode: "tozero" },
        }, { displaylogo: false, responsive: true, staticPlot: true });
      }
    }

    samples.forEach(add);
    draw();
    usageListeners.push((sample) => { add(sample); draw(); });
  }

  function jobLink(job) {
    const link = document.createElement("a");
    link.href = `/jobs/${job.id}`;
    link.textContent = job.name;
    return link;
  }

  function hardware(url) {
    const hostsBox = document.querySelector("[data-testid=hosts]");

    function hostCard(host) {
      const card = document.createElement("section");
      card.className = "card";
      card.dataset.testid = "host";
      card.dataset.node = host.node;
      const heading = document.createElement("h2");
      heading.textContent = `${host.node} `;
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = `${host.host} · queues ${host.queues.join(", ")}`;
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
        row.dataset.testid = "gpu";
        row.dataset.index = gpu.index;
        const holder = gpu.held_by ? jobLink({ id: gpu.held_by.job_id, name: gpu.held_by.name }) : "free";
        row.append(cell(String(gpu.index)), cell(gpu.name), cell(figures.utilization),
          cell(figures.memory), cell(figures.temperature), cell(figures.power), cell(holder));
        row.cells[2].dataset.field = "utilization";
        row.cells[6].dataset.field = "holder";
      }
      card.append(table);
      return card;
    }

    function fillJobs(testid, jobs, columns) {
      const body = document.querySelector(`[data-testid=${testid}] tbody`);
      body.replaceChildren(...jobs.map((job) => {
        const row = document.createElement("tr");
        row.dataset.jobId = job.id;
        row.append(cell(jobLink(job)), ...columns(job).map(cell));
        return row;
      }));
    }

    function render(report) {
      hostsBox.replaceChildren(...report.hosts.map(hostCard));
      if (!report.hosts.length) {
        const note = document.createElement("p");
        note.className = "card warning";
        note.textContent = "No worker is running: start `digits serve` or `digits worker`.";
        hostsBox.append(note);
      }
      fillJobs("running-jobs", report.running, (job) => [job.worker || "", job.gpus.length ? job.gpus.join(", ") : "CPU"]);
      fillJobs("waiting-jobs", report.waiting, (job) => [job.status_reason || "its turn in the queue"]);
    }

    render(JSON.parse(document.querySelector("[data-hardware]").textContent));
    window.setInterval(async () => {
      try {
        const response = await fetch(url);
        if (response.ok) render(await response.json());
      } catch (error) { /* the server is restarting: try again at the next tick */ }
    }, 2000);
  }

  // ---- Classify One's layer histograms ---------------------------------------------------------
  function histograms() {
    const holder = document.querySelector("[data-histograms]");
    if (!holder || !window.Plotly) return;
    const data = JSON.parse(holder.textContent);
    document.querySelectorAll("[data-histogram]").forEach((chart) => {
      const histogram = data[chart.dataset.histogram];
      if (!histogram) return;
      const centres = histogram.counts.map((_, i) => (histogram.edges[i] + histogram.edges[i + 1]) / 2);
      Plotly.newPlot(chart, [{ type: "bar", x: centres, y: histogram.counts, marker: { color: "#76b900" } }], {
        margin: { t: 6, r: 10, b: 24, l: 40 }, height: 120, bargap: 0.05,
      }, { displaylogo: false, staticPlot: true });
    });
  }

  // ---- A confusion matrix (Classify Many, the model page's validation) --------------------------
  function confusionMatrix() {
    document.querySelectorAll("[data-confusion]").forEach((holder) => {
      const { labels, matrix } = JSON.parse(holder.textContent);
      const chart = holder.parentElement.querySelector("[data-testid=confusion-matrix]");
      if (!chart || !window.Plotly) return;
      // Rows: the true class (top to bottom); columns: the predicted one.
      Plotly.newPlot(chart, [{ type: "heatmap", z: matrix, x: labels, y: labels, colorscale: "Greens",
        hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>" }], {
        xaxis: { title: { text: "predicted" }, side: "top" }, yaxis: { title: { text: "true" }, autorange: "reversed" },
        margin: { t: 60, r: 20, b: 20, l: 80 }, height: 320,
      }, { displaylogo: false, responsive: true });
      chart.dataset.cells = matrix.length * (matrix[0] || []).length;
    });
  }

  return { home, job, datasetForm, classChart, modelForm, modelCharts, hardware, histograms, confusionMatrix };
})();
