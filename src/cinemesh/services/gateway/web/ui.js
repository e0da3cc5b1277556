// Small DOM building blocks shared by the views: elements, poster cards, rows, toasts.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function svgIcon(name, size = 20) {
  const paths = {
    play: "M7 4.5v15l12.5-7.5z",
    plus: "M11 5h2v14h-2zM5 11h14v2H5z",
    check: "M9.5 16.2 5.3 12l-1.4 1.4 5.6 5.6 11-11-1.4-1.4z",
    up: "M2 21h3.5V10H2zm19.6-9.3c0-1.1-.9-2-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L12.8 3 6.3 9.6C5.9 9.9 5.7 10.4 5.7 11v8.2c0 1 .9 1.8 2 1.8h8.4c.8 0 1.5-.5 1.8-1.2l2.8-6.6c.1-.2.1-.5.1-.7z",
    down: "M22 3h-3.5v11H22zM2.4 12.3c0 1.1.9 2 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1.1 6.5-6.6c.4-.3.6-.8.6-1.4V5.2c0-1-.9-1.8-2-1.8H7.9c-.8 0-1.5.5-1.8 1.2l-2.8 6.6c-.1.2-.1.5-.1.7z",
    info: "M11 10h2v7h-2zm0-4h2v2h-2zm1-4a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16z",
    back: "M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z",
    pause: "M6 5h4v14H6zm8 0h4v14h-4z",
    next: "M6 18l8.5-6L6 6zm10-12h2v12h-2z",
    full: "M4 4h6v2H6v4H4zm10 0h6v6h-2V6h-4zM4 14h2v4h4v2H4zm14 0h2v6h-6v-2h4z",
    gear: "M19.4 13a7.6 7.6 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.4 7.4 0 0 0-1.7-1l-.4-2.7h-4l-.4 2.7c-.6.3-1.2.6-1.7 1l-2.5-1-2 3.5L4.6 11a7.6 7.6 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1c.5.4 1.1.7 1.7 1l.4 2.7h4l.4-2.7c.6-.3 1.2-.6 1.7-1l2.5 1 2-3.5zM12 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z",
    volume: "M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z",
    mute: "M3 9v6h4l5 5V4L7 9zm18.7 1.7-1.4-1.4L18 11.6l-2.3-2.3-1.4 1.4 2.3 2.3-2.3 2.3 1.4 1.4 2.3-2.3 2.3 2.3 1.4-1.4-2.3-2.3z",
    chevronLeft: "M15.4 7.4 14 6l-6 6 6 6 1.4-1.4L10.8 12z",
    chevronRight: "M8.6 16.6 10 18l6-6-6-6-1.4 1.4 4.6 4.6z",
  };
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", paths[name] || "");
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

export function toast(message, { kind = "info", timeoutMs = 4000 } = {}) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: `toast toast-${kind}` }, message);
  region.append(item);
  setTimeout(() => item.remove(), timeoutMs);
}

export function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

export function posterUrl(item) {
  return item.poster_url || item.artwork?.poster || `/api/v1/artwork/${encodeURIComponent(item.id)}/poster`;
}

export function backdropUrl(item) {
  return (
    item.backdrop_url || item.artwork?.backdrop || `/api/v1/artwork/${encodeURIComponent(item.id)}/backdrop`
  );
}

export function titleMeta(item) {
  const parts = [];
  if (item.year) parts.push(String(item.year));
  if (item.maturity_rating) parts.push(item.maturity_rating);
  if (item.runtime_min) parts.push(`${item.runtime_min} min`);
  if (item.kind === "series") parts.push("Series");
  return parts;
}

// A path with the query parameters that have a value.
export function withQuery(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value)).toString();
  return query ? `${path}?${query}` : path;
}

// A poster card: a link to the title (or straight to the player when resuming). `rowId`, the
// row it sits in, travels to the player's session start: experiments count plays from rows.
export function posterCard(item, { resume = false, rowId = null } = {}) {
  const href = resume
    ? withQuery(`/watch/${encodeURIComponent(item.id)}`, { episode: item.episode_id, row: rowId })
    : withQuery(`/title/${encodeURIComponent(item.id)}`, { row: rowId });
  const label = resume
    ? `Resume ${item.title}${item.position_s ? ` from ${formatTime(item.position_s)}` : ""}`
    : item.title;
  const img = h("img", {
    src: posterUrl(item),
    alt: `${item.title} poster`,
    loading: "lazy",
    decoding: "async",
    width: 200,
    height: 300,
  });
  img.addEventListener("error", () => img.replaceWith(fallbackArt(item)), { once: true });
  const progress =
    typeof item.progress === "number" && item.progress > 0
      ? h(
          "div",
          { class: "progress", role: "progressbar", "aria-label": "Watched", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(item.progress * 100) },
          h("span", { style: { width: `${Math.min(100, item.progress * 100)}%` } }),
        )
      : null;
  return h(
    "a",
    { class: "card", href, "data-link": true, "aria-label": label, dataset: { titleId: item.id } },
    h("div", { class: "card-art" }, img, resume ? h("span", { class: "card-play" }, svgIcon("play", 28)) : null),
    progress,
    h(
      "div",
      { class: "card-info" },
      h("span", { class: "card-title" }, item.title),
      h("span", { class: "card-meta" }, titleMeta(item).slice(0, 2).join(" · ")),
      item.reason ? h("span", { class: "card-reason" }, item.reason) : null,
    ),
  );
}

export function fallbackArt(item) {
  return h("div", { class: "art-fallback", role: "img", "aria-label": `${item.title} poster` }, item.title);
}

// A horizontal row; arrow keys move between its cards, up and down between rows.
export function row({ id, title, items, resume = false }) {
  const track = h("div", { class: "row-track", role: "list" });
  for (const item of items) {
    track.append(h("div", { class: "row-item", role: "listitem" }, posterCard(item, { resume, rowId: id })));
  }
  const scrollBy = (dir) => track.scrollBy({ left: dir * track.clientWidth * 0.8, behavior: "smooth" });
  const section = h(
    "section",
    { class: "row", "aria-labelledby": `row-${cssId(id)}`, dataset: { rowId: id } },
    h("h2", { class: "row-title", id: `row-${cssId(id)}` }, title),
    h(
      "div",
      { class: "row-frame" },
      h("button", { class: "row-arrow row-arrow-left", type: "button", tabindex: -1, "aria-label": `Scroll ${title} left`, onclick: () => scrollBy(-1) }, svgIcon("chevronLeft", 32)),
      track,
      h("button", { class: "row-arrow row-arrow-right", type: "button", tabindex: -1, "aria-label": `Scroll ${title} right`, onclick: () => scrollBy(1) }, svgIcon("chevronRight", 32)),
    ),
  );
  return section;
}

export function cssId(value) {
  return String(value).replace(/[^A-Za-z0-9_-]/g, "-");
}

// Arrow-key navigation across every `.row` inside `container` (a roving focus grid).
export function enableRowKeys(container) {
  container.addEventListener("keydown", (event) => {
    const card = event.target.closest?.(".card");
    if (!card) return;
    const rowEl = card.closest(".row, .grid");
    if (!rowEl) return;
    const cards = [...rowEl.querySelectorAll(".card")];
    const index = cards.indexOf(card);
    let target = null;
    if (event.key === "ArrowRight") target = cards[index + 1];
    else if (event.key === "ArrowLeft") target = cards[index - 1];
    else if (event.key === "Home") target = cards[0];
    else if (event.key === "End") target = cards[cards.length - 1];
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (rowEl.classList.contains("grid")) return;
      const rows = [...container.querySelectorAll(".row")];
      const next = rows[rows.indexOf(rowEl) + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) {
        const nextCards = [...next.querySelectorAll(".card")];
        target = nextCards[Math.min(index, nextCards.length - 1)];
      }
    } else if (event.key === " ") {
      event.preventDefault();
      card.click();
      return;
    }
    if (target) {
      event.preventDefault();
      target.focus();
      target.scrollIntoView({ block: "nearest", inline: "nearest", behavior: "smooth" });
    }
  });
}

export function spinner(label = "Loading") {
  return h("div", { class: "spinner", role: "progressbar", "aria-label": label });
}

export function emptyState(message, ...extra) {
  return h("div", { class: "empty" }, h("p", {}, message), ...extra);
}

export const AVATARS = ["red", "blue", "green", "yellow", "purple", "teal", "orange", "pink"];

export function avatar(profile, size = "") {
  const colour = AVATARS.includes(profile.avatar) ? profile.avatar : AVATARS[hash(profile.name || "") % AVATARS.length];
  return h(
    "span",
    { class: `avatar avatar-${colour} ${size}`, "aria-hidden": "true" },
    profile.kids ? "kids" : (profile.name || "?").trim().charAt(0).toUpperCase(),
  );
}

function hash(text) {
  let value = 0;
  for (const ch of text) value = (value * 31 + ch.charCodeAt(0)) >>> 0;
  return value;
}
