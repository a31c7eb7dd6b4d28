// A model's snapshots, kept live: as each is written during training, the list (with its
// downloads) and the snapshot choices of Classify One and Classify Many follow, and the
// forms appear with the first one.

const EPOCH = "__epoch__";

function fillChoices(select, epochs) {
  const latest = select.options[0]; // "latest", kept as it is
  const options = [...epochs].reverse().map((epoch) => new Option(`epoch ${epoch}`, String(epoch)));
  const chosen = select.value;
  select.replaceChildren(latest, ...options);
  select.value = chosen;
}

function listItem(epoch) {
  const item = document.querySelector("template[data-role=snapshot-item]").content.firstElementChild.cloneNode(true);
  item.querySelector("[data-role=epoch]").textContent = epoch;
  item.querySelectorAll("a").forEach((link) => { link.href = link.href.replace(EPOCH, epoch); });
  return item;
}

export function liveSnapshots() {
  document.addEventListener("digits:snapshots", (event) => {
    const epochs = event.detail.epochs.map(String);
    if (!epochs.length) return;
    document.querySelectorAll("select[name=snapshot_epoch]").forEach((select) => fillChoices(select, epochs));
    document.querySelector("[data-role=snapshots]").replaceChildren(...epochs.map(listItem));
    for (const name of ["classify-one-form", "classify-many-form"]) {
      document.querySelector(`[data-role=${name}]`).hidden = false;
    }
    document.querySelector("[data-role=no-snapshot]").hidden = true;
  });
}
