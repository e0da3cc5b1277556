// A title: synopsis, cast, seasons and episodes, My List, thumbs, play or resume.
import { api, enc, listItems, session } from "../api.js";
import { backdropUrl, emptyState, formatTime, h, posterUrl, spinner, svgIcon, titleMeta, toast, withQuery } from "../ui.js";
import { warmPlayer } from "./hls_loader.js";

const RATINGS_KEY = "cinemesh.ratings";

function storedRatings() {
  try {
    return JSON.parse(localStorage.getItem(RATINGS_KEY) || "{}");
  } catch {
    return {};
  }
}

function rememberRating(profileId, titleId, rating) {
  const all = storedRatings();
  all[`${profileId}:${titleId}`] = rating;
  localStorage.setItem(RATINGS_KEY, JSON.stringify(all));
}

// The player's page; `row`, the home row the title was opened from, goes on to the session.
export function watchHref(titleId, episodeId, row = null) {
  return withQuery(`/watch/${enc(titleId)}`, { episode: episodeId, row });
}

export function episodesOf(title) {
  return (title.seasons || []).flatMap((season) => (season.episodes || []).map((ep) => ({ ...ep, season: season.number })));
}

export async function renderTitle({ main, params, query, isCurrent, navigate }) {
  warmPlayer();
  const profile = session.profile;
  main.replaceChildren(h("div", { class: "title-page" }, spinner("Loading title")));
  let title;
  try {
    title = await api.get(`/titles/${enc(params.id)}`, { query: { profile_id: profile.id } });
  } catch (error) {
    if (!isCurrent()) return;
    main.replaceChildren(
      h(
        "div",
        { class: "page narrow center" },
        emptyState(
          error.status === 404 ? "We couldn't find that title." : "This title can't be loaded right now. Try again shortly.",
          h("a", { class: "button", href: "/", "data-link": true }, "Back to Home"),
        ),
      ),
    );
    return;
  }
  const inList = await api
    .get(`/profiles/${enc(profile.id)}/my-list`)
    .then((body) => listItems(body).some((i) => (i.title_id || i.id) === title.id))
    .catch(() => null);
  if (!isCurrent()) return;
  main.replaceChildren(titlePage({ title, profile, inList, navigate, row: query?.row }));
  main.querySelector(".title-actions .button")?.focus();
}

function titlePage({ title, profile, inList, navigate, row }) {
  const progress = title.progress && !title.progress.finished && title.progress.position_s > 1 ? title.progress : null;
  const episodes = episodesOf(title);
  const allowed = title.allowed_for_profile !== false;
  const resumeEpisode = progress?.episode_id ? episodes.find((e) => e.id === progress.episode_id) : null;
  const firstEpisode = episodes.find((e) => e.playable) || episodes[0];
  const playEpisode = resumeEpisode || (title.kind === "series" ? firstEpisode : null);
  const label = progress ? `Resume${resumeEpisode ? ` S${resumeEpisode.season}:E${resumeEpisode.number}` : ""}` : playEpisode ? `Play S${playEpisode.season}:E${playEpisode.number}` : "Play";

  const actions = h("div", { class: "title-actions" });
  if (!allowed) {
    actions.append(h("p", { class: "notice", role: "status" }, "Not available on this profile."));
  } else if (title.playable) {
    actions.append(h("a", { class: "button button-play", href: watchHref(title.id, playEpisode?.id, row), "data-link": true }, svgIcon("play", 24), label));
  } else {
    actions.append(h("span", { class: "notice" }, "Coming soon"));
  }
  actions.append(myListButton(title, profile, inList), ...thumbs(title, profile));

  const poster = h("img", { class: "title-poster", src: posterUrl(title), alt: `${title.title} poster`, width: 200, height: 300 });
  poster.addEventListener("error", () => poster.remove(), { once: true });
  const backdrop = h("img", { class: "title-backdrop", src: backdropUrl(title), alt: "" });
  backdrop.addEventListener("error", () => backdrop.remove(), { once: true });

  return h(
    "article",
    { class: "title-page", "aria-labelledby": "title-name", dataset: { titleId: title.id } },
    h("div", { class: "title-hero" }, backdrop, h("div", { class: "hero-shade" })),
    h(
      "div",
      { class: "title-body" },
      poster,
      h(
        "div",
        { class: "title-main" },
        h("h1", { id: "title-name" }, title.title),
        h("p", { class: "title-meta" }, titleMeta(title).map((part) => h("span", { class: part === title.maturity_rating ? "rating" : "" }, part))),
        progress
          ? h(
              "div",
              { class: "title-progress" },
              h("div", { class: "progress progress-inline" }, h("span", { style: { width: `${Math.min(100, (progress.progress || 0) * 100)}%` } })),
              h("span", { class: "muted small" }, `${formatTime(progress.position_s)} of ${formatTime(progress.duration_s)}`),
            )
          : null,
        actions,
        title.synopsis ? h("p", { class: "title-synopsis" }, title.synopsis) : null,
        facts(title),
      ),
    ),
    episodes.length ? seasonsSection(title, allowed, row) : null,
  );
}

function facts(title) {
  const list = h("dl", { class: "facts" });
  const add = (name, values) => {
    if (values?.length) list.append(h("dt", {}, name), h("dd", {}, values.join(", ")));
  };
  add("Cast", title.cast);
  add("Creators", title.crew);
  add("Genres", title.genres);
  add("Maturity rating", title.maturity_rating ? [title.maturity_rating] : []);
  return list;
}

function myListButton(title, profile, initial) {
  let inList = Boolean(initial);
  const button = h("button", { class: "button button-round", type: "button", dataset: { action: "my-list" } });
  const paint = () => {
    button.replaceChildren(svgIcon(inList ? "check" : "plus", 22), h("span", { class: "visually-hidden" }, inList ? "Remove from My List" : "Add to My List"));
    button.setAttribute("aria-pressed", String(inList));
    button.title = inList ? "Remove from My List" : "Add to My List";
  };
  paint();
  button.addEventListener("click", async () => {
    button.disabled = true;
    const path = `/profiles/${enc(profile.id)}/my-list/${enc(title.id)}`;
    try {
      if (inList) await api.del(path);
      else await api.put(path);
      inList = !inList;
      paint();
      toast(inList ? `${title.title} added to My List` : `${title.title} removed from My List`);
    } catch {
      toast("My List can't be changed right now. Try again shortly.", { kind: "warn" });
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function thumbs(title, profile) {
  let rating = title.rating || storedRatings()[`${profile.id}:${title.id}`] || "none";
  const make = (value, icon, text) => {
    const button = h("button", { class: "button button-round", type: "button", title: text, dataset: { rating: value } }, svgIcon(icon, 20), h("span", { class: "visually-hidden" }, text));
    button.addEventListener("click", async () => {
      const next = rating === value ? "none" : value;
      try {
        await api.put(`/profiles/${enc(profile.id)}/ratings/${enc(title.id)}`, { rating: next });
        rating = next;
        rememberRating(profile.id, title.id, next);
        paint();
        toast(next === "up" ? "Thanks! We'll recommend more like this." : next === "down" ? "Got it. We'll show less like this." : "Rating removed");
      } catch {
        toast("Ratings are unavailable right now.", { kind: "warn" });
      }
    });
    return button;
  };
  const up = make("up", "up", "I like this");
  const down = make("down", "down", "Not for me");
  const paint = () => {
    up.setAttribute("aria-pressed", String(rating === "up"));
    down.setAttribute("aria-pressed", String(rating === "down"));
  };
  paint();
  return [up, down];
}

function seasonsSection(title, allowed, row) {
  const seasons = title.seasons || [];
  const list = h("ol", { class: "episodes" });
  const show = (number) => {
    const season = seasons.find((s) => s.number === Number(number)) || seasons[0];
    list.replaceChildren(
      ...(season?.episodes || []).map((ep) =>
        h(
          "li",
          { class: "episode" },
          h("span", { class: "episode-number", "aria-hidden": "true" }, ep.number),
          h(
            "div",
            { class: "episode-body" },
            h("h3", {}, `${ep.number}. ${ep.name}`, ep.runtime_min ? h("span", { class: "muted small" }, ` · ${ep.runtime_min} min`) : null),
            ep.synopsis ? h("p", { class: "muted" }, ep.synopsis) : null,
          ),
          ep.playable && allowed
            ? h("a", { class: "button button-round", href: watchHref(title.id, ep.id, row), "data-link": true, "aria-label": `Play episode ${ep.number}, ${ep.name}` }, svgIcon("play", 20))
            : h("span", { class: "muted small" }, ep.playable ? "" : "Coming soon"),
        ),
      ),
    );
  };
  const picker = h(
    "select",
    { class: "season-select", "aria-label": "Season", onchange: (event) => show(event.target.value) },
    seasons.map((s) => h("option", { value: s.number }, `Season ${s.number}`)),
  );
  show(seasons[0]?.number);
  return h("section", { class: "seasons", "aria-labelledby": "episodes-heading" }, h("div", { class: "seasons-head" }, h("h2", { id: "episodes-heading" }, "Episodes"), seasons.length > 1 ? picker : h("span", { class: "muted" }, `Season ${seasons[0]?.number ?? 1}`)), list);
}
