// The journey editor (templates/journeys/editor.html): the draft drawn on the canvas, nodes
// added from the palette and configured in the side panel, and the whole draft posted back as
// JSON on save; the answer's problems are listed and their nodes marked on the canvas. The
// page hands over the draft, its problems, the published version's counts, the pickers (P)
// and every word shown (W), already translated.
import { createCanvas } from "./journeys_canvas.js";
import { createPanel } from "./journeys_panel.js";
import { blank, freshId } from "./journeys_nodes.js";

// htmx leaves refusals unswapped; the dry run's answer says in place why it could not run
document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target.id === "dry-run-result" && event.detail.xhr.status < 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// the canvas takes the size of its box: start once the page's style sheets apply
const root = document.querySelector("[data-journey-editor]");
if (root && document.readyState === "complete") start(root);
else if (root) window.addEventListener("load", () => start(root), { once: true });

function start(root) {
  const data = JSON.parse(document.getElementById("journey-data").textContent);
  const W = JSON.parse(document.getElementById("journey-words").textContent);
  const P = data.pickers;
  const readOnly = !data.can_write;
  const stats = data.stats ? Object.fromEntries(data.stats.nodes.map((s) => [s.node, s])) : {};
  const stateLine = document.querySelector("[data-journey-state]");
  const problemList = document.querySelector("[data-journey-problems]");
  const nameInput = document.querySelector("[data-journey-name]");
  const descriptionInput = document.querySelector("[data-journey-description]");
  let settings = data.graph.settings || {};
  let dirty = false;

  const say = (words, tone = "") => {
    stateLine.textContent = words;
    stateLine.dataset.tone = tone;
  };
  const changed = () => {
    for (const button of root.querySelectorAll("[data-zoom]")) {
    button.addEventListener("click", () => canvas.zoom(button.dataset.zoom));
  }
  if (readOnly) return;
    dirty = true;
    say(W.unsaved);
  };

  const panel = createPanel(root.querySelector("[data-journey-panel]"), {
    P, W, readOnly,
    onNode: (json, renamed) => canvas.update(json, renamed),
    onSettings: (next) => {
      settings = next;
      changed();
    },
    onDelete: () => canvas.remove(),
  });
  const canvas = createCanvas(root.querySelector("[data-journey-canvas]"), {
    P, W, readOnly,
    onChange: changed,
    onSelect: (chosen) => {
      if (!chosen) panel.showSettings(settings);
      else if (chosen.node) panel.showNode(chosen.node, stats[chosen.node.id]);
      else panel.showEdge(chosen.edge);
    },
  });

  function showProblems(problems) {
    canvas.markProblems(problems);
    problemList.replaceChildren();
    for (const p of problems) {
      const item = document.createElement("li");
      item.dataset.testid = "problem";
      // a problem of a step shows it when clicked; the message names the step, or is told it
      const words = p.node && !p.message.includes(p.node) ? `${p.node}: ${p.message}` : p.message;
      if (p.node) {
        item.dataset.node = p.node;
        const link = document.createElement("button");
        link.type = "button";
        link.className = "link";
        link.textContent = words;
        link.addEventListener("click", () => canvas.focus(p.node));
        item.append(link);
      } else {
        item.append(words);
      }
      problemList.append(item);
    }
    problemList.dataset.count = problems.length;
    document.querySelector("[data-journey-ready]").hidden = problems.length > 0;
  }

  async function save() {
    const body = {
      graph: { ...canvas.toGraph(), settings },
      name: nameInput.value.trim() || undefined,
      description: descriptionInput.value.trim(),
    };
    say(W.saving);
    let response;
    try {
      response = await fetch(data.save_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify(body),
      });
    } catch {
      say(W.network_error, "error");
      return false;
    }
    const answer = await response.json().catch(() => ({}));
    if (answer.problems) showProblems(answer.problems);
    if (!response.ok) {
      say(answer.problems ? W.not_saved : W.refused.replace("{status}", response.status), "error");
      return false;
    }
    dirty = false;
    const count = answer.problems.length;
    say(count ? W.saved_with_problems.replace("{n}", count) : W.saved, count ? "warn" : "ok");
    return true;
  }

  canvas.load(data.graph);
  showProblems(data.problems);
  canvas.showStats(data.stats);
  panel.showSettings(settings);

  for (const button of root.querySelectorAll("[data-zoom]")) {
    button.addEventListener("click", () => canvas.zoom(button.dataset.zoom));
  }
  if (readOnly) return;
  for (const button of root.querySelectorAll("[data-add-kind]")) {
    button.addEventListener("click", () => {
      const kind = button.dataset.addKind;
      canvas.add(blank(kind, freshId(kind, canvas.ids()), P, W));
    });
  }
  document.querySelector("[data-journey-save]").addEventListener("click", save);
  nameInput.addEventListener("input", changed);
  descriptionInput.addEventListener("input", changed);
  const publish = document.querySelector("[data-journey-publish]");
  publish?.addEventListener("click", async (event) => {
    if (!dirty) return;
    event.preventDefault();
    if (await save()) window.location.assign(publish.href);
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      save();
    } else if (!typing && (event.key === "Delete" || event.key === "Backspace")) {
      canvas.remove();
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty) event.preventDefault();
  });
}
