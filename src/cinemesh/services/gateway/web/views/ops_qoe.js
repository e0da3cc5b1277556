// The ops page's play-quality panel: QoE from the players' beacons over the last minutes, per
// title, edge and plan (play delay p50/p90, rebuffer ratio, mean bitrate, error rate), as the
// telemetry service aggregates them. Telemetry being away shows as such; playback never is.
import { api } from "../api.js";
import { h } from "../ui.js";

const TITLES_SHOWN = 8;
const VIEWS = [
  { by: "title", heading: "Titles", label: (row) => row.name || row.title },
  { by: "edge", heading: "Edges", label: (row) => row.instance || row.edge },
  { by: "plan", heading: "Plans", label: (row) => row.plan },
];

export function qoePanel() {
  const note = h("p", { class: "muted small qoe-note", role: "status" }, "Waiting for play beacons…");
  const tables = h("div", { class: "qoe-tables" });
  const root = h("section", { class: "qoe-panel", "aria-labelledby": "qoe-heading", dataset: { available: "unknown" } }, h("h2", { id: "qoe-heading" }, "Play quality"), note, tables);

  async function refresh() {
    let body;
    try {
      body = await api.get("/ops/telemetry", { auth: false });
    } catch {
      body = { available: false };
    }
    root.dataset.available = String(Boolean(body.available));
    if (!body.available) {
      note.textContent = "Telemetry is not answering: no play-quality figures right now (playback is unaffected).";
      return;
    }
    const minutes = Math.round((body.window_s || 0) / 60);
    const all = body.overall || {};
    note.textContent = `Last ${minutes} min · ${all.sessions || 0} sessions · play delay p50 ${ms(all.play_delay_p50_ms)}, p90 ${ms(all.play_delay_p90_ms)} · rebuffering ${pct(all.rebuffer_ratio)} · errors ${pct(all.error_rate)}`;
    tables.replaceChildren(...VIEWS.map((view) => table(view, (body[`by_${view.by}`] || []).slice(0, view.by === "title" ? TITLES_SHOWN : undefined))));
  }

  return { root, refresh };
}

function table({ by, heading, label }, rows) {
  const head = ["", "Sessions", "Delay p50", "p90", "Rebuffer", "Bitrate", "Errors"];
  const wide = h(
    "table",
    { class: "qoe-table", dataset: { by } },
    h("caption", {}, heading),
    h("thead", {}, h("tr", {}, ...head.map((text) => h("th", { scope: "col" }, text)))),
    h(
      "tbody",
      {},
      ...(rows.length
        ? rows.map((row) =>
            h(
              "tr",
              { dataset: { key: String(row[by]) } },
              h("th", { scope: "row", title: String(row[by]) }, String(label(row) ?? "")),
              h("td", {}, String(row.sessions)),
              h("td", {}, ms(row.play_delay_p50_ms)),
              h("td", {}, ms(row.play_delay_p90_ms)),
              h("td", { class: row.rebuffer_ratio > 0.02 ? "qoe-bad" : "" }, pct(row.rebuffer_ratio)),
              h("td", {}, row.avg_bitrate_kbps ? `${(row.avg_bitrate_kbps / 1000).toFixed(1)} Mb/s` : "—"),
              h("td", { class: row.error_rate > 0.01 ? "qoe-bad" : "" }, pct(row.error_rate)),
            ),
          )
        : [h("tr", {}, h("td", { colspan: head.length, class: "muted" }, "no plays yet"))]),
    ),
  );
  return h("div", { class: "qoe-table-wrap" }, wide);
}

function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function pct(value) {
  return `${((value || 0) * 100).toFixed(1)}%`;
}
