// The ops page's experiments panel: every running A/B experiment, its cells with the members
// exposed so far against what the weights promise (a bar filling up), and the report's
// headline: play starts from recommendation rows per member, each cell against control with its
// 95% CI and p-value. Experiments being away shows as such; members then get control.
import { api } from "../api.js";
import { h } from "../ui.js";

export function experimentsPanel() {
  const note = h("p", { class: "muted small experiments-note", role: "status" }, "Looking for running experiments…");
  const list = h("div", { class: "experiments-list" });
  const root = h("section", { class: "experiments-panel", "aria-labelledby": "experiments-heading", dataset: { available: "unknown" } }, h("h2", { id: "experiments-heading" }, "Experiments"), note, list);

  async function refresh() {
    let body;
    try {
      body = await api.get("/ops/experiments", { auth: false });
    } catch {
      body = { available: false };
    }
    root.dataset.available = String(Boolean(body.available));
    if (!body.available) {
      note.textContent = "Experiments is not answering: every member gets control for now.";
      return;
    }
    const running = body.experiments || [];
    note.textContent = running.length ? `${running.length} running` : "No experiment is running.";
    list.replaceChildren(...running.map(card));
  }

  return { root, refresh };
}

function card(experiment) {
  const most = Math.max(1, ...experiment.cells.map((c) => Math.max(c.exposed, c.expected || 0)));
  return h(
    "article",
    { class: "experiment-card", dataset: { experiment: experiment.name } },
    h("h3", {}, experiment.name, h("span", { class: "muted small" }, ` · layer ${experiment.layer} · ${Math.round(experiment.traffic * 100)}% of its profiles · ${experiment.exposed} exposed`)),
    experiment.description ? h("p", { class: "muted small" }, experiment.description) : null,
    h(
      "table",
      { class: "experiment-cells" },
      h("thead", {}, h("tr", {}, ...["Cell", "Treatments", "Exposed", "", "Play starts from rows", "Lift", "95% CI", "p"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...experiment.cells.map((cell) => row(cell, experiment.headline, most))),
    ),
    ...experiment.warnings.map((w) => h("p", { class: "experiment-warning", role: "alert" }, w)),
    experiment.report_available ? null : h("p", { class: "muted small" }, "The report is not to be had right now."),
  );
}

function row(cell, headline, most) {
  const figures = (headline && headline.cells[cell.name]) || {};
  const treatments = Object.entries(cell.treatments || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—";
  const filled = Math.round((100 * cell.exposed) / most);
  const significant = figures.p_value !== null && figures.p_value !== undefined && figures.p_value < 0.05;
  return h(
    "tr",
    { dataset: { cell: cell.name } },
    h("th", { scope: "row" }, cell.control ? `${cell.name} (control)` : cell.name),
    h("td", { class: "small" }, treatments),
    h("td", {}, cell.expected === null || cell.expected === undefined ? String(cell.exposed) : `${cell.exposed} / ${Math.round(cell.expected)}`),
    h("td", { class: "experiment-fill" }, h("span", { style: { width: `${filled}%` } })),
    h("td", {}, number(figures.mean)),
    h("td", { class: significant ? (figures.lift > 0 ? "experiment-win" : "qoe-bad") : "" }, cell.control ? "—" : lift(figures.lift)),
    h("td", {}, figures.ci ? `[${number(figures.ci[0])}, ${number(figures.ci[1])}]` : "—"),
    h("td", {}, cell.control ? "—" : number(figures.p_value)),
  );
}

function number(value) {
  if (value === null || value === undefined) return "—";
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function lift(value) {
  if (value === null || value === undefined) return "—";
  return `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}%`;
}
