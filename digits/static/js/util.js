// What every page's script shares: formatting, the status badge and progress bar, and
// requests that carry the session's CSRF token.

export const TERMINAL = ["Done", "Aborted", "Error"];

// With accounts, every change a page asks for carries its session's CSRF token.
export const CSRF = { "X-CSRF-Token": document.querySelector("meta[name=csrf-token]")?.content || "" };

export function formatDuration(seconds) {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

export function formatTime(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

export function figure(value, unit, digits = 0) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(digits)}${unit}`;
}

export function setProgress(element, progress) {
  if (!element) return;
  element.dataset.progress = progress;
  element.querySelector(".bar").style.width = `${(progress * 100).toFixed(1)}%`;
  element.querySelector(".label").textContent = `${Math.round(progress * 100)}%`;
}

export function setStatus(container, status, reason) {
  const badge = container.querySelector("[data-role=status]");
  badge.textContent = status;
  badge.className = `status status-${status.toLowerCase()}`;
  badge.title = reason || "";
  let note = container.querySelector("[data-role=status-reason]");
  if (reason) {
    if (!note) {
      note = document.createElement("span");
      note.className = "reason";
      note.dataset.role = "status-reason";
      badge.after(" ", note);
    }
    note.textContent = reason;
  } else if (note) {
    note.remove();
  }
}

export function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

export function localizeTimes(root) {
  root.querySelectorAll(".time[data-time]").forEach((el) => {
    el.textContent = formatTime(Number(el.dataset.time));
  });
}

// The messages of a JSON error answer ({"errors": {field: [message]}}), or its text.
export function errorText(text) {
  try {
    return Object.values(JSON.parse(text).errors).flat().join(" ");
  } catch (_) {
    return text;
  }
}

export function post(url, body) {
  return fetch(url, { method: "POST", body, headers: CSRF });
}
