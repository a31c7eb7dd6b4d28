// The New Dataset and New Model forms: the method's fields, "See example", the learning-rate
// preview, Customize and Visualize (the form element carries each helper's URL).

import { learningRate } from "./charts.js";
import { errorText, post } from "./util.js";

// A helper's URL, from the form's data-*-url attribute (not form.dataset: the model form has a
// field named "dataset", which that name finds instead).
const url = (form, name) => form.getAttribute(`data-${name}-url`);

// Show the fields of the chosen method (data-method sections, each naming the methods it is
// for); `then` after each change.
function methodSections(form, then = () => {}) {
  const show = () => {
    const method = form.querySelector("input[name=method]:checked").value;
    form.querySelectorAll("[data-method]").forEach((section) => {
      section.hidden = !section.dataset.method.split(" ").includes(method);
    });
    then(method);
  };
  form.querySelectorAll("input[name=method]").forEach((r) => r.addEventListener("change", show));
  show();
  return show;
}

export function datasetForm() {
  const form = document.querySelector("form[data-role=dataset-form]");
  methodSections(form);
  const exampleFile = form.querySelector("[data-example-file]");
  const examples = form.querySelector("[data-examples]");
  const sizeFields = ["resize_channels", "resize_width", "resize_height"];
  // "See example": each resize mode on the chosen image, again whenever the size changes.
  const showExamples = async () => {
    if (!exampleFile.files.length) return;
    const body = new FormData();
    for (const name of sizeFields) body.append(name, form.elements[name].value);
    body.append("image_file", exampleFile.files[0]);
    const response = await post(url(form, "example"), body);
    if (!response.ok) {
      examples.textContent = errorText(await response.text());
      return;
    }
    const answer = await response.json();
    examples.replaceChildren(...Object.entries(answer.examples).map(([mode, src]) => {
      const picture = document.createElement("figure");
      const img = document.createElement("img");
      img.src = src;
      img.alt = mode;
      const caption = document.createElement("figcaption");
      caption.textContent = mode;
      picture.append(img, caption);
      return picture;
    }));
  };
  exampleFile.addEventListener("change", showExamples);
  sizeFields.forEach((name) => form.elements[name].addEventListener("change", showExamples));
}

export function modelForm() {
  const form = document.querySelector("form[data-role=model-form]");
  // The custom network's code editor (CodeMirror keeps the textarea in step on submit).
  const editor = window.CodeMirror
    ? CodeMirror.fromTextArea(form.elements.custom_network, { mode: "python", lineNumbers: true, indentUnit: 4 })
    : null;
  const code = {
    get: () => (editor ? editor.getValue() : form.elements.custom_network.value),
    set: (text) => (editor ? editor.setValue(text) : (form.elements.custom_network.value = text)),
  };
  const showMethod = methodSections(form, (method) => {
    if (editor && method === "custom") editor.refresh();
  });
  previewRates(form);
  const network = () => form.querySelector("input[name=standard_networks]:checked").value;

  form.querySelector("[data-action=customize]").addEventListener("click", async () => {
    const body = new FormData();
    body.append("network", network());
    const response = await post(url(form, "customize"), body);
    code.set((await response.json()).network);
    form.querySelector("input[name=method][value=custom]").checked = true;
    showMethod();
  });

  let markedLine = null;
  form.querySelector("[data-action=visualize]").addEventListener("click", async () => {
    const body = new FormData();
    body.append("dataset", form.elements.dataset.value);
    body.append("crop_size", form.elements.crop_size.value);
    const method = form.querySelector("input[name=method]:checked").value;
    if (method === "custom") body.append("custom_network", code.get());
    else body.append("standard_networks", network());
    const response = await post(url(form, "visualize"), body);
    const answer = await response.json();
    const box = form.querySelector("[data-role=visualization]");
    if (editor && markedLine !== null) editor.removeLineClass(markedLine, "background", "error-line");
    markedLine = null;
    if (!response.ok) {
      if (editor && answer.line && method === "custom") {
        markedLine = answer.line - 1;
        editor.addLineClass(markedLine, "background", "error-line");
      }
      box.replaceChildren(networkError(answer));
      return;
    }
    box.replaceChildren(...networkSummary(answer));
    drawNetwork(box.querySelector(".network-graph"), answer.graph);
  });
}

// The learning-rate policy's own fields, and its curve drawn as they change.
function previewRates(form) {
  const policyFields = () => {
    const prefix = `lr_${form.elements.lr_policy.value}_`;
    form.querySelectorAll(".policy-fields input").forEach((input) => {
      const shown = input.name.startsWith(prefix);
      input.classList.toggle("shown", shown);
      form.querySelector(`label[for=${input.id}]`).classList.toggle("shown", shown);
    });
  };
  const preview = async () => {
    policyFields();
    const response = await post(url(form, "learning-rate"), new FormData(form));
    learningRate(form.querySelector("[data-role=lr-preview]"), response.ok ? await response.json() : null);
  };
  form.querySelectorAll("[name^=lr_], [name=learning_rate]").forEach((el) => el.addEventListener("change", preview));
  preview();
}

function networkError(answer) {
  const p = document.createElement("p");
  p.className = "error";
  p.dataset.role = "network-error";
  p.textContent = (answer.line ? `line ${answer.line}: ` : "") + Object.values(answer.errors).flat().join(" ");
  return p;
}

function networkSummary(answer) {
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
  graph.dataset.role = "network-graph";
  return [total, graph, table];
}

// Each layer one row below the layers it reads (its longest path from the input), layers of a
// row side by side: a network reads top to bottom, a ResNet's shortcuts beside its blocks.
function positions(graph) {
  const depth = new Map(graph.nodes.map((n) => [n.id, 0]));
  for (const [source, target] of graph.edges) {
    depth.set(target, Math.max(depth.get(target), depth.get(source) + 1)); // edges come in order
  }
  const rows = new Map();
  for (const node of graph.nodes) {
    const row = depth.get(node.id);
    rows.set(row, [...(rows.get(row) || []), node.id]);
  }
  const placed = {};
  for (const [row, ids] of rows) {
    ids.forEach((id, i) => { placed[id] = { x: (i - (ids.length - 1) / 2) * ROW_GAP.x, y: row * ROW_GAP.y }; });
  }
  return { placed, rows: rows.size };
}

const ROW_GAP = { x: 210, y: 60 };
const READABLE = 0.75; // the smallest zoom whose labels can be read

function drawNetwork(container, graph) {
  if (!window.cytoscape || !graph) return;
  const label = (n) => {
    const params = n.parameters ? ` · ${n.parameters.toLocaleString()}` : "";
    return `${n.label} (${n.kind})\n${n.output_shape.join("×")}${params}`;
  };
  container.dataset.nodes = graph.nodes.length;
  const { placed, rows } = positions(graph);
  // The box grows with the network, up to a screen; a larger one scrolls and zooms (wheel,
  // pinch) from its top rather than shrinking its labels.
  container.style.height = `${Math.min(rows * ROW_GAP.y + 40, 900)}px`;
  const cy = cytoscape({
    container,
    maxZoom: 2,
    elements: [
      ...graph.nodes.map((n) => ({ data: { id: n.id, label: label(n) }, position: placed[n.id] })),
      ...graph.edges.map(([source, target], i) => ({ data: { id: `edge${i}`, source, target } })),
    ],
    layout: { name: "preset", fit: true, padding: 16 },
    style: [
      { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "text-valign": "center",
        shape: "round-rectangle", width: 190, height: 36, "font-size": 11,
        "background-color": "#eef7dc", "border-color": "#76b900", "border-width": 1 } },
      { selector: "edge", style: { width: 1, "curve-style": "bezier", "target-arrow-shape": "triangle" } },
    ],
  });
  if (cy.zoom() < READABLE) {
    cy.zoom(READABLE);
    const box = cy.nodes().boundingBox();
    cy.pan({ x: container.clientWidth / 2 - READABLE * (box.x1 + box.w / 2), y: 16 - READABLE * box.y1 });
  }
}

// An imported model's page: Visualize its network (its own code, classes and input).
export function modelNetwork() {
  const button = document.querySelector("[data-action=visualize-model]");
  button.addEventListener("click", async () => {
    const body = new FormData();
    body.append("job_id", button.dataset.jobId);
    const response = await post(button.dataset.url, body);
    const answer = await response.json();
    const box = document.querySelector("[data-role=visualization]");
    if (!response.ok) {
      box.replaceChildren(networkError(answer));
      return;
    }
    box.replaceChildren(...networkSummary(answer));
    drawNetwork(box.querySelector(".network-graph"), answer.graph);
  });
}
