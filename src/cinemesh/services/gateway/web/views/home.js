// Home: a hero banner and rows. The gateway drops or replaces rows whose service is down and
// names it in `degraded`; the page shows what it got, quietly, never an error dialog.
import { api, enc, listItems, session } from "../api.js";
import { backdropUrl, emptyState, enableRowKeys, h, posterCard, row, spinner, svgIcon, titleMeta, withQuery } from "../ui.js";

export async function renderHome(ctx) {
  const { main, isCurrent } = ctx;
  const profile = session.profile;
  main.replaceChildren(h("div", { class: "home loading" }, h("div", { class: "hero hero-skeleton" }), spinner("Loading your rows")));
  const page = await loadHome(profile);
  if (!isCurrent()) return;
  const rows = (page.rows || []).filter((r) => r.items?.length);
  const container = h("div", { class: "home", dataset: { degraded: (page.degraded || []).join(" "), rows: rows.length } });
  if (!rows.length) {
    container.append(
      emptyState(
        page.offline ? "cinemesh is having a moment. Your rows will be back shortly." : "Nothing to show yet. New titles arrive all the time.",
        h("button", { class: "button", type: "button", onclick: () => renderHome(ctx) }, "Refresh"),
      ),
    );
    main.replaceChildren(container);
    return;
  }
  container.append(hero(pickHero(rows), profile));
  const rowsBox = h("div", { class: "rows" });
  for (const r of rows) {
    rowsBox.append(row({ id: r.id, title: r.title, items: r.items, resume: r.id === "continue-watching" }));
  }
  enableRowKeys(rowsBox);
  container.append(rowsBox);
  main.replaceChildren(container);
}

async function loadHome(profile) {
  try {
    return await api.get("/home", { query: { profile_id: profile.id } });
  } catch (error) {
    if (error.status === 404) {
      session.profile = null; // the profile was deleted elsewhere
      location.assign("/profiles");
      return { rows: [] };
    }
  }
  // The home page itself failed: fall back to plain browsing, then to nothing (quietly).
  try {
    const popular = listItems(await api.get("/browse", { query: { profile_id: profile.id, limit: 30 } }));
    return { rows: [{ id: "popular", title: "Popular on cinemesh", items: popular }], degraded: ["home"] };
  } catch {
    return { rows: [], degraded: ["home"], offline: true };
  }
}

function pickHero(rows) {
  const preferred = rows.find((r) => r.id !== "continue-watching" && r.id !== "my-list") || rows[0];
  const items = preferred.items;
  const playable = (i) => i.playable || i.kind === "series";
  const item = items.find((i) => playable(i) && i.synopsis) || items.find(playable) || items[0];
  return { item, rowId: preferred.id };
}

function hero({ item, rowId }, profile) {
  const image = h("img", { class: "hero-image", src: backdropUrl(item), alt: "", decoding: "async" });
  image.addEventListener("error", () => image.remove(), { once: true });
  return h(
    "section",
    { class: "hero", "aria-label": `Featured: ${item.title}` },
    image,
    h("div", { class: "hero-shade" }),
    h(
      "div",
      { class: "hero-body" },
      h("h1", { class: "hero-title" }, item.title),
      h("p", { class: "hero-meta" }, [...titleMeta(item), ...(item.genres || []).slice(0, 3)].join(" · ")),
      item.synopsis ? h("p", { class: "hero-synopsis" }, item.synopsis) : null,
      h(
        "div",
        { class: "hero-actions" },
        item.playable || item.kind === "series"
          ? h("a", { class: "button button-play", href: withQuery(`/watch/${enc(item.id)}`, { row: rowId }), "data-link": true }, svgIcon("play", 24), "Play")
          : null,
        h("a", { class: "button button-muted", href: withQuery(`/title/${enc(item.id)}`, { row: rowId }), "data-link": true }, svgIcon("info", 22), "More Info"),
      ),
      profile?.kids ? h("span", { class: "badge hero-badge" }, "Kids") : null,
    ),
  );
}

export async function renderMyList({ main, isCurrent }) {
  const profile = session.profile;
  main.replaceChildren(h("div", { class: "page" }, h("h1", {}, "My List"), spinner()));
  let titles = [];
  let unavailable = false;
  try {
    const ids = listItems(await api.get(`/profiles/${enc(profile.id)}/my-list`)).map((i) => i.title_id || i.id);
    const found = await Promise.all(
      ids.slice(0, 60).map((id) => api.get(`/titles/${enc(id)}`, { query: { profile_id: profile.id } }).catch(() => null)),
    );
    titles = found.filter(Boolean);
  } catch {
    unavailable = true;
  }
  if (!isCurrent()) return;
  const grid = h("div", { class: "grid", role: "list" }, titles.map((t) => h("div", { role: "listitem" }, posterCard(t))));
  enableRowKeys(grid);
  main.replaceChildren(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "My List"),
      titles.length
        ? grid
        : emptyState(unavailable ? "My List is taking a break. Try again shortly." : "Add shows and movies to My List to find them here."),
    ),
  );
}
