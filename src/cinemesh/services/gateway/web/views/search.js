// Search as you type (debounced, stale answers dropped), with genre and year filters.
import { api, listItems, session } from "../api.js";
import { emptyState, enableRowKeys, h, posterCard, spinner } from "../ui.js";

const DEBOUNCE_MS = 250;

export function renderSearch({ main, query }) {
  const profile = session.profile;
  const input = h("input", {
    type: "search",
    id: "search-input",
    placeholder: "Titles, people, genres",
    autocomplete: "off",
    spellcheck: "false",
    value: query.q || "",
    "aria-controls": "search-results",
  });
  const genre = h("select", { id: "search-genre", "aria-label": "Genre" }, h("option", { value: "" }, "All genres"));
  const year = h("input", { type: "number", id: "search-year", min: 1900, max: 2100, placeholder: "Any year", "aria-label": "Year", inputmode: "numeric", value: query.year || "" });
  const status = h("p", { class: "search-status muted", role: "status", "aria-live": "polite" });
  const results = h("div", { id: "search-results", class: "search-results" });
  const facets = h("div", { class: "facets", "aria-label": "Refine by genre" });
  main.replaceChildren(
    h(
      "div",
      { class: "page search-page" },
      h("h1", { class: "visually-hidden" }, "Search"),
      h(
        "form",
        { class: "search-bar", role: "search", onsubmit: (event) => { event.preventDefault(); run(); } },
        h("label", { class: "visually-hidden", for: "search-input" }, "Search cinemesh"),
        input,
        genre,
        year,
      ),
      facets,
      status,
      results,
    ),
  );
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);

  api
    .get("/genres")
    .then((body) => {
      for (const g of listItems(body)) {
        const name = typeof g === "string" ? g : g.name;
        genre.append(h("option", { value: name, selected: name === query.genre }, name));
      }
    })
    .catch(() => {
      if (query.genre) genre.append(h("option", { value: query.genre, selected: true }, query.genre));
    });

  let timer = null;
  let inflight = null;
  let latest = 0;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  };

  async function run() {
    clearTimeout(timer);
    const q = input.value.trim();
    const params = { q, genre: genre.value, year: /^\d{4}$/.test(year.value) ? year.value : "" };
    const url = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
    history.replaceState({}, "", `/search${url.toString() ? `?${url}` : ""}`);
    if (!q && !params.genre && !params.year) {
      status.textContent = "";
      facets.replaceChildren();
      results.replaceChildren(emptyState("Find movies and series as you type. Try a title, a genre or a year."));
      return;
    }
    inflight?.abort();
    inflight = new AbortController();
    const ticket = ++latest;
    results.setAttribute("aria-busy", "true");
    if (!results.children.length) results.replaceChildren(spinner("Searching"));
    try {
      const body = await api.get("/search", { query: { ...params, profile_id: profile.id, limit: 40 }, signal: inflight.signal });
      if (ticket !== latest) return;
      show(body, q);
    } catch (error) {
      if (error.name === "AbortError" || ticket !== latest) return;
      status.textContent = "";
      results.replaceChildren(emptyState(error.status === 503 || error.status === 0 ? "Search is taking a break. Browse the home page meanwhile." : error.message));
    } finally {
      if (ticket === latest) results.removeAttribute("aria-busy");
    }
  }

  function show(body, q) {
    const hits = body.hits || [];
    const total = body.total ?? hits.length;
    status.textContent = hits.length ? `${total} result${total === 1 ? "" : "s"}${q ? ` for “${q}”` : ""}` : "";
    showFacets(body.facets?.genre || {});
    if (!hits.length) {
      results.replaceChildren(emptyState(`Your search${q ? ` for “${q}”` : ""} did not have any matches. Try another title or genre.`));
      return;
    }
    const grid = h("div", { class: "grid", role: "list" });
    for (const hit of hits) {
      const card = posterCard(hit);
      const highlighted = safeHighlight(hit.highlight?.title);
      if (highlighted) card.querySelector(".card-title").replaceChildren(...highlighted);
      grid.append(h("div", { role: "listitem" }, card));
    }
    enableRowKeys(grid);
    results.replaceChildren(grid);
  }

  function showFacets(counts) {
    const entries = Object.entries(counts).slice(0, 8);
    facets.replaceChildren(
      ...entries.map(([name, count]) =>
        h(
          "button",
          { type: "button", class: `chip${genre.value === name ? " chip-on" : ""}`, "aria-pressed": String(genre.value === name), onclick: () => {
            if (![...genre.options].some((o) => o.value === name)) genre.append(h("option", { value: name }, name));
            genre.value = genre.value === name ? "" : name;
            run();
          } },
          `${name} `,
          h("span", { class: "chip-count" }, count),
        ),
      ),
    );
  }

  input.addEventListener("input", schedule);
  genre.addEventListener("change", run);
  year.addEventListener("input", schedule);
  run();
  return () => {
    clearTimeout(timer);
    inflight?.abort();
  };
}

// The search service sends the title HTML-escaped with matches in <em>; keep only text and <em>.
function safeHighlight(html) {
  if (!html) return null;
  const template = document.createElement("template");
  template.innerHTML = html;
  const nodes = [];
  for (const node of template.content.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) nodes.push(document.createTextNode(node.textContent));
    else if (node.nodeName === "EM") nodes.push(h("mark", {}, node.textContent));
    else return null;
  }
  return nodes;
}
