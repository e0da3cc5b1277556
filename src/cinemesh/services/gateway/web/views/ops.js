// Ops, in the spirit of the Hystrix dashboard: every service, its instances and health, and
// the gateway's calls to it (breaker, rate, errors, latency), its adaptive concurrency limit and
// the requests it sheds by priority, polled every 2 s; chaos buttons when the gateway allows
// them (an admin, in local mode).
import { api, enc, session } from "../api.js";
import { h, toast } from "../ui.js";
import { experimentsPanel } from "./ops_experiments.js";
import { qoePanel } from "./ops_qoe.js";

const POLL_MS = 2000;
const HISTORY = 60;
const QOE_POLL_MS = 5000;

export function renderOps({ main }) {
  const grid = h("div", { class: "ops-grid", "aria-live": "off" });
  const status = h("p", { class: "muted ops-status", role: "status" }, "Connecting…");
  const chaosNote = h("p", { class: "muted small" });
  const qoe = qoePanel();
  const experiments = experimentsPanel();
  const deploysPanel = h("section", { class: "ops-deploys", "aria-label": "Deploys", hidden: true });
  main.replaceChildren(
    h(
      "div",
      { class: "page ops-page" },
      h("div", { class: "ops-head" }, h("h1", {}, "Operations"), status),
      h("p", { class: "muted" }, "Circle size: requests per second through the gateway. Colour: health (green all good, amber degraded, red failing). Breaker states come from the gateway's resilient client."),
      chaosNote,
      deploysPanel,
      grid,
      qoe.root,
      experiments.root,
    ),
  );
  const history = new Map();
  const shedSeen = new Map(); // service -> {at, shed}: the last poll's counts, for a rate
  const cards = new Map();
  let chaos = null;
  let stopped = false;

  async function loadChaos() {
    if (!session.signedIn) {
      chaosNote.textContent = "Sign in with an admin account to use the chaos buttons (local mode only).";
      return;
    }
    try {
      const me = await api.get("/auth/me").catch(() => null);
      if (me && me.role !== "admin") {
        chaosNote.textContent = "Chaos buttons need an admin account.";
        return;
      }
      chaos = await api.get("/ops/chaos");
      chaosNote.textContent = "Chaos controls are live: kill, slow or break a service and watch the platform cope.";
    } catch (error) {
      chaos = null;
      chaosNote.textContent =
        error.status === 403
          ? "Chaos buttons need an admin account."
          : error.status === 404
            ? "Chaos buttons are available when cinemesh runs locally (`cinemesh up`)."
            : "";
    }
    for (const [name, card] of cards) paintChaos(card, name);
  }

  async function poll() {
    if (stopped) return;
    try {
      const body = await api.get("/ops/services", { auth: false });
      status.textContent = `Live · updated ${new Date().toLocaleTimeString()} · discovery: ${body.discovery || "registry"}`;
      status.classList.remove("stale");
      paintDeploys(deploysPanel, body.deploys || {});
      for (const service of body.services || []) {
        const calls = service.calls || {};
        const series = history.get(service.name) || [];
        series.push({ rate: calls.requests_per_s || 0, errors: calls.error_rate || 0, p99: calls.p99_ms || 0 });
        while (series.length > HISTORY) series.shift();
        history.set(service.name, series);
        let card = cards.get(service.name);
        if (!card) {
          card = serviceCard(service.name);
          cards.set(service.name, card);
          grid.append(card.root);
          paintChaos(card, service.name);
        }
        paint(card, service, series);
      }
      for (const [name, card] of cards) {
        if (!(body.services || []).some((s) => s.name === name)) card.root.classList.add("gone");
      }
    } catch {
      status.textContent = "The gateway did not answer; retrying…";
      status.classList.add("stale");
    }
  }

  function serviceCard(name) {
    const root = h("article", { class: "ops-card", "aria-label": `${name} service`, dataset: { service: name } });
    const parts = {
      root,
      circle: h("div", { class: "ops-circle", "aria-hidden": "true" }),
      breaker: h("span", { class: "breaker" }),
      stats: h("dl", { class: "ops-stats" }),
      spark: document.createElementNS("http://www.w3.org/2000/svg", "svg"),
      instances: h("ul", { class: "instances" }),
      chaos: h("div", { class: "chaos" }),
    };
    parts.spark.setAttribute("class", "spark");
    parts.spark.setAttribute("viewBox", `0 0 ${HISTORY} 30`);
    parts.spark.setAttribute("preserveAspectRatio", "none");
    parts.spark.setAttribute("aria-hidden", "true");
    root.append(
      h("header", { class: "ops-card-head" }, parts.circle, h("h2", {}, name), parts.breaker),
      parts.spark,
      parts.stats,
      parts.instances,
      parts.chaos,
    );
    return parts;
  }

  function paint(card, service, series) {
    const calls = service.calls;
    const instances = service.instances || [];
    const healthy = service.healthy_instances ?? instances.filter((i) => i.health === "healthy").length;
    const breaker = calls?.breaker || "—";
    const errorRate = calls?.error_rate || 0;
    const level = !instances.length || healthy === 0 || breaker === "open" ? "bad" : healthy < instances.length || errorRate > 0.05 || breaker === "half_open" ? "warn" : "good";
    card.root.dataset.level = level;
    card.root.classList.remove("gone");
    const rate = calls?.requests_per_s || 0;
    const size = 18 + Math.min(42, Math.sqrt(rate) * 8);
    Object.assign(card.circle.style, { width: `${size}px`, height: `${size}px` });
    card.breaker.textContent = calls ? `breaker ${breaker.replace("_", "-")}` : "not called";
    card.breaker.dataset.state = breaker;
    const stat = (name, value) => [h("dt", {}, name), h("dd", {}, value)];
    card.stats.replaceChildren(
      ...stat("Instances", `${healthy}/${instances.length} healthy`),
      ...stat("Versions", describeVersions(service.versions || [])),
      ...stat("Requests", calls ? `${rate.toFixed(1)}/s` : "—"),
      ...stat("Errors", calls ? `${(errorRate * 100).toFixed(1)}%` : "—"),
      ...stat("Latency p50", calls ? `${Math.round(calls.p50_ms || 0)} ms` : "—"),
      ...stat("Latency p99", calls ? `${Math.round(calls.p99_ms || 0)} ms` : "—"),
      ...(calls?.in_flight !== undefined ? stat("In flight", String(calls.in_flight)) : []),
      ...(service.concurrency ? stat("Limit", `${service.concurrency.limit} (${service.concurrency.in_flight} in)`) : []),
      ...(service.concurrency ? stat("Shed", shedRate(service.name, service.concurrency.shed || {})) : []),
      ...(service.cache ? stat("Cache hits", cacheLine(service.cache)) : []),
      ...(service.cache ? stat("From origin", `${megabytes(service.cache.origin_bytes)} (${service.cache.origin_fetches} fetches)`) : []),
    );
    const max = Math.max(1, ...series.map((p) => p.rate));
    const points = series.map((p, i) => `${i + HISTORY - series.length},${(30 - (p.rate / max) * 28).toFixed(1)}`).join(" ");
    card.spark.innerHTML = `<polyline points="${points}" fill="none" stroke="currentColor" stroke-width="1.2" vector-effect="non-scaling-stroke"/>`;
    card.instances.replaceChildren(
      ...instances.map((inst) =>
        h(
          "li",
          { class: `instance instance-${inst.health}`, title: inst.url },
          h("span", { class: "dot", "aria-hidden": "true" }),
          h("span", { class: "instance-id" }, shortId(inst.id)),
          h("span", { class: "muted small" }, `${inst.health}${inst.version ? ` · ${inst.version}` : ""}${inst.pid ? ` · pid ${inst.pid}` : ""}${inst.concurrency ? ` · limit ${inst.concurrency.limit}` : ""}${inst.cache ? ` · cache ${cacheLine(inst.cache)}` : ""}`),
        ),
      ),
      ...(instances.length ? [] : [h("li", { class: "instance instance-unreachable" }, h("span", { class: "dot" }), "no instances registered")]),
    );
  }

  // An edge cache's hit ratio and origin offload (the share of bytes served not fetched).
  function cacheLine(cache) {
    const share = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
    return `${share(cache.hit_ratio)} hits, ${share(cache.offload)} offload, ${megabytes(cache.bytes)} of ${megabytes(cache.max_bytes)}`;
  }

  function megabytes(bytes) {
    return `${((bytes || 0) / 1048576).toFixed(1)} MB`;
  }

  // Requests shed a second since the last poll, by priority ("none" when nothing was shed).
  function shedRate(name, shed) {
    const now = Date.now();
    const before = shedSeen.get(name);
    shedSeen.set(name, { at: now, shed });
    if (!before) return "—";
    const seconds = Math.max(0.5, (now - before.at) / 1000);
    const rates = Object.entries(shed)
      .map(([priority, count]) => [priority, Math.max(0, count - (before.shed[priority] || 0)) / seconds])
      .filter(([, rate]) => rate > 0);
    return rates.length ? rates.map(([priority, rate]) => `${priority} ${rate.toFixed(1)}/s`).join(", ") : "none";
  }

  function paintChaos(card, name) {
    if (!chaos || name === "gateway") {
      card.chaos.replaceChildren();
      return;
    }
    const act = (label, kind, fn) =>
      h("button", { type: "button", class: `button button-small chaos-${kind}`, dataset: { chaos: kind }, onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          await fn();
          toast(`${label}: ${name}`);
        } catch (error) {
          toast(`${label} failed: ${error.message}`, { kind: "warn" });
        } finally {
          event.target.closest("button").disabled = false;
          poll();
        }
      } }, label);
    const base = `/ops/chaos`;
    card.chaos.replaceChildren(
      act("Kill", "kill", () => api.post(`${base}/kill`, { service: name, hold_s: 60 })),
      act("Slow", "slow", () => api.put(`${base}/faults/${enc(name)}`, { latency_ms: 1500 })),
      act("Errors", "error", () => api.put(`${base}/faults/${enc(name)}`, { error_rate: 0.5 })),
      act("Heal", "heal", async () => {
        await api.del(`${base}/faults/${enc(name)}`);
        await api.post(`${base}/revive`, { service: name });
      }),
    );
  }

  loadChaos();
  poll();
  const timer = setInterval(poll, POLL_MS);
  qoe.refresh();
  const qoeTimer = setInterval(qoe.refresh, QOE_POLL_MS);
  experiments.refresh();
  const experimentsTimer = setInterval(experiments.refresh, QOE_POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    clearInterval(qoeTimer);
    clearInterval(experimentsTimer);
  };
}

// Each release of a service, its instances and its share of the calls (a canary's weight).
function describeVersions(versions) {
  if (!versions.length) return "—";
  return versions.map((v) => `${v.version || "?"} ×${v.instances} (${Math.round(v.traffic_share * 100)}%)`).join(", ");
}

// The local supervisor's deploys: running ones with their phase, finished ones with the verdict.
function paintDeploys(panel, deploys) {
  const entries = Object.values(deploys);
  panel.hidden = entries.length === 0;
  panel.replaceChildren(
    h("h2", {}, "Deploys"),
    h(
      "ul",
      { class: "ops-deploy-list" },
      ...entries.map((d) =>
        h(
          "li",
          { class: `ops-deploy ops-deploy-${d.verdict ? d.verdict.replace(" ", "-") : "running"}`, dataset: { service: d.service } },
          h("strong", {}, `${d.service} → ${d.release}`),
          h("span", { class: "muted small" }, ` ${d.strategy} · ${d.replaced}/${d.total} replaced · ${d.verdict || d.phase} · ${d.elapsed_s}s`),
          ...(d.reason ? [h("span", { class: "small" }, ` · ${d.reason}`)] : []),
        ),
      ),
    ),
  );
}

function shortId(id) {
  const text = String(id || "");
  return text.length > 28 ? `${text.slice(0, 12)}…${text.slice(-12)}` : text;
}
