// The player: hls.js with automatic and manual quality, resume, heartbeats, scrub previews
// from the thumbnail sprite, next episode, clear refusals, and failover between edges.
import { ApiError, api, enc, session } from "../api.js";
import { PlayBeacons } from "../beacons.js";
import { formatTime, h, svgIcon, toast } from "../ui.js";
import { episodesOf, watchHref } from "./title.js";
import { autoplaysNext, countdownStartsAt, inIntro, markersFor, nextEpisodeOf, nextLabel } from "./markers.js";
import { loadHls } from "./hls_loader.js";
import { fetchFirstSegment, loaderWithStartFiles, startFiles } from "./start_files.js";
import { startBandwidth, startConfig, startLevelFor } from "./start_level.js";
import { TrackMenu } from "./track_menu.js";

const HEARTBEAT_MS = 10_000;
const HIDE_CONTROLS_MS = 3000;
const NEXT_EPISODE_COUNTDOWN_S = 8;

// This browser's name for playback, kept across plays: the platform remembers the throughput
// measured on each device of a profile and starts the next play from it.
function deviceId() {
  try {
    let id = localStorage.getItem("cinemesh.device");
    if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      id = crypto.randomUUID().replaceAll("-", "");
      localStorage.setItem("cinemesh.device", id);
    }
    return id;
  } catch {
    return null; // storage refused: plays start from the platform's first-play default
  }
}

const REFUSALS = {
  STREAM_LIMIT: {
    title: "Too many people are watching right now",
    body: "Your plan streams on a limited number of screens at once. Stop playing on another screen, or upgrade your plan, to watch here.",
  },
  MATURITY_RESTRICTED: { title: "Not available on this profile", body: "This title's maturity rating is above this profile's limit. Switch profiles to watch it." },
  NOT_PLAYABLE: { title: "Not ready to play yet", body: "This title's video is still being prepared. Try again in a few minutes." },
};

function refusalFor(error) {
  if (error.code && REFUSALS[error.code]) return REFUSALS[error.code];
  if (error.status === 429) return REFUSALS.STREAM_LIMIT;
  if (error.status === 403) return REFUSALS.MATURITY_RESTRICTED;
  if (error.status === 409) return REFUSALS.NOT_PLAYABLE;
  if (error.status === 404) return { title: "We couldn't find that title", body: "It may have been removed from cinemesh." };
  return { title: "Playback isn't available right now", body: "Something went wrong on our side. Try again in a moment; the rest of cinemesh keeps working." };
}

export async function renderPlayer({ main, params, query, navigate, isCurrent }) {
  const pressedAt = performance.now(); // play delay runs from here to the first frame
  const profile = session.profile;
  const titleId = params.id;
  const back = () => (history.length > 1 ? history.back() : navigate(`/title/${enc(titleId)}`));
  const shell = h("div", { class: "player", "data-testid": "player", dataset: { state: "starting" } });
  main.replaceChildren(shell);
  shell.append(h("div", { class: "player-loading" }, h("div", { class: "spinner" }), h("p", {}, "Starting…")));

  // hls.js, the title and the session all at once: none waits on another. Without an episode in
  // the address the title is tried as a movie; a series (known when the title answers) then
  // starts its episode, the movie guess having cost no stream (it is refused before a lease).
  const hlsReady = loadHls().catch(() => null);
  const startSession = (episodeId) => {
    const body = { profile_id: profile.id, title_id: titleId, ...(episodeId ? { episode_id: episodeId } : {}), ...(query.row ? { row: query.row } : {}) };
    const device = deviceId();
    if (device) body.device = device;
    return api.post("/playback/sessions", body).then(prepareStart);
  };
  const guess = startSession(query.episode || null);
  guess.catch(() => {}); // judged below, once the title says what it is
  const title = await api.get(`/titles/${enc(titleId)}`, { query: { profile_id: profile.id } }).catch(() => null);
  if (!isCurrent()) {
    guess.then((s) => stopSession(s.started.session_id, 0)).catch(() => {});
    return;
  }
  const episodeId = query.episode || (title?.kind === "series" ? defaultEpisode(title)?.id : null) || null;
  let started, files;
  try {
    const starting = episodeId && !query.episode ? startSession(episodeId) : guess;
    if (starting !== guess) guess.then((s) => stopSession(s.started.session_id, 0)).catch(() => {});
    [{ started, files }] = await Promise.all([starting, hlsReady]);
  } catch (error) {
    if (!isCurrent()) return;
    const refusal = refusalFor(error);
    shell.dataset.state = "refused";
    shell.dataset.code = error.code || String(error.status || "");
    shell.replaceChildren(
      h(
        "div",
        { class: "player-message", role: "alert" },
        h("h1", {}, refusal.title),
        h("p", {}, refusal.body),
        h(
          "div",
          { class: "form-actions" },
          h("button", { class: "button button-primary", type: "button", onclick: () => navigate(location.pathname + location.search, { replace: true }) }, "Try again"),
          h("button", { class: "button button-outline", type: "button", onclick: back }, "Back"),
        ),
      ),
    );
    shell.querySelector(".button")?.focus();
    return;
  }
  if (!isCurrent()) {
    stopSession(started.session_id, 0);
    return;
  }
  const autoplayNext = autoplaysNext(profile);
  const player = new Player({ shell, started, files, title, titleId, episodeId, back, navigate, pressedAt, autoplayNext });
  player.start();
  return () => player.destroy();
}

// The session answered: the files that came with it, and the first segment of video asked for
// at once, while the player is built.
function prepareStart(started) {
  const files = startFiles(started);
  const position = Number(started.resume_position_s) || 0;
  const segment = fetchFirstSegment(started, files, { position });
  if (segment) files.set(segment.path, segment.loading);
  return { started, files };
}

// Where a series starts: the episode in progress, else the first one that plays.
function defaultEpisode(title) {
  const episodes = episodesOf(title);
  const inProgress = title.progress && !title.progress.finished ? title.progress.episode_id : null;
  return episodes.find((e) => e.id === inProgress) || episodes.find((e) => e.playable) || null;
}

function beatBody(position, bandwidth) {
  const body = { position_s: Math.max(0, position || 0) };
  const bps = Math.round(Number(bandwidth));
  if (Number.isFinite(bps) && bps >= 1000 && bps <= 10_000_000_000) body.bandwidth_bps = bps;
  return body;
}

function stopSession(sessionId, position, bandwidth) {
  const path = `/playback/sessions/${enc(sessionId)}`;
  api.post(`${path}/heartbeat`, beatBody(position, bandwidth), { keepalive: true }).catch(() => {}).finally(() => {
    api.del(path, { keepalive: true }).catch(() => {});
  });
}

class Player {
  constructor({ shell, started, files, title, titleId, episodeId, back, navigate, pressedAt, autoplayNext }) {
    Object.assign(this, { shell, started, files, title, titleId, episodeId, back, navigate, pressedAt, autoplayNext });
    this.edges = (started.edge_urls?.length ? started.edge_urls : [new URL(started.manifest_url).origin]).map((u) => new URL(u).origin);
    this.edgeIndex = Math.max(0, this.edges.indexOf(new URL(started.manifest_url).origin));
    this.switches = [];
    this.failovers = 0;
    this.thumbs = [];
    this.timers = [];
    this.listeners = [];
    this.ended = false;
    this.episodes = title ? episodesOf(title) : [];
    this.currentEpisode = this.episodes.find((e) => e.id === episodeId) || null;
    this.nextEpisode = nextEpisodeOf(this.episodes, this.currentEpisode);
    this.markers = markersFor(title, this.currentEpisode);
    window.cinemeshPlayer = this;
  }

  // ----- building the UI -----------------------------------------------------------------
  build() {
    const name = this.title?.title || "";
    const episodeLabel = this.currentEpisode ? `S${this.currentEpisode.season}:E${this.currentEpisode.number} “${this.currentEpisode.name}”` : "";
    this.video = h("video", { class: "player-video", playsinline: true, preload: "auto", "aria-label": `${name} video` });
    this.seek = h("input", { type: "range", class: "seek", min: 0, max: 1000, step: 1, value: 0, "aria-label": "Seek", "aria-valuetext": "0:00" });
    this.preview = h("div", { class: "scrub-preview", hidden: true, "aria-hidden": "true" }, h("div", { class: "scrub-image" }), h("span", { class: "scrub-time" }));
    this.timeLabel = h("span", { class: "time" }, "0:00");
    this.durationLabel = h("span", { class: "time" }, "0:00");
    this.playButton = h("button", { class: "control", type: "button", "aria-label": "Play", "data-control": "play" }, svgIcon("play", 28));
    this.muteButton = h("button", { class: "control", type: "button", "aria-label": "Mute", "data-control": "mute" }, svgIcon("volume", 26));
    this.rendition = h("span", { class: "rendition", "data-testid": "rendition", "aria-live": "polite" }, "Auto");
    this.qualityButton = h("button", { class: "control control-text", type: "button", "aria-haspopup": "true", "aria-expanded": "false", "data-control": "quality" }, svgIcon("gear", 22), this.rendition);
    this.qualityMenu = h("div", { class: "quality-menu", role: "menu", "aria-label": "Quality", hidden: true });
    this.nextButton = this.nextEpisode
      ? h("button", { class: "control control-text", type: "button", "aria-label": `Next episode: ${this.nextEpisode.name}`, "data-control": "next" }, svgIcon("next", 26), h("span", { class: "next-label" }, nextLabel(this.nextEpisode, this.currentEpisode)))
      : null;
    this.fullButton = h("button", { class: "control", type: "button", "aria-label": "Full screen", "data-control": "fullscreen" }, svgIcon("full", 24));
    this.notice = h("div", { class: "player-notice", role: "status", "aria-live": "polite", hidden: true });
    this.upNext = h("div", { class: "up-next", hidden: true });
    const backButton = h("button", { class: "control player-back", type: "button", "aria-label": "Back", onclick: () => this.back() }, svgIcon("back", 28));
    this.controls = h(
      "div",
      { class: "player-controls" },
      h("div", { class: "seek-row" }, this.timeLabel, h("div", { class: "seek-wrap" }, this.preview, this.seek), this.durationLabel),
      h(
        "div",
        { class: "button-row" },
        this.playButton,
        h("button", { class: "control", type: "button", "aria-label": "Back 10 seconds", onclick: () => this.skip(-10) }, "−10"),
        h("button", { class: "control", type: "button", "aria-label": "Forward 10 seconds", onclick: () => this.skip(10) }, "+10"),
        this.muteButton,
        h("div", { class: "player-title" }, h("strong", {}, name), episodeLabel ? h("span", {}, episodeLabel) : null),
        this.nextButton,
        h("div", { class: "quality" }, this.qualityButton, this.qualityMenu),
        this.fullButton,
      ),
    );
    this.skipIntroButton = h("button", { class: "button skip-intro", type: "button", hidden: true, "data-control": "skip-intro", onclick: () => this.skipIntro() }, "Skip intro");
    this.shell.replaceChildren(this.video, h("div", { class: "player-top" }, backButton), this.notice, this.upNext, this.skipIntroButton, this.controls);
    this.shell.tabIndex = -1;
  }

  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.listeners.push(() => target.removeEventListener(type, fn, options));
  }

  wire() {
    const v = this.video;
    this.on(this.playButton, "click", () => this.toggle());
    this.on(v, "click", () => this.toggle());
    this.on(this.muteButton, "click", () => {
      v.muted = !v.muted;
    });
    this.on(v, "volumechange", () => {
      this.muteButton.replaceChildren(svgIcon(v.muted ? "mute" : "volume", 26));
      this.muteButton.setAttribute("aria-label", v.muted ? "Unmute" : "Mute");
    });
    this.on(v, "play", () => this.paintPlaying());
    this.on(v, "pause", () => {
      this.paintPlaying();
      this.heartbeat();
    });
    this.on(v, "timeupdate", () => this.paintTime());
    this.on(v, "timeupdate", () => this.followMarkers());
    this.on(v, "durationchange", () => this.paintTime());
    this.on(v, "waiting", () => (this.shell.dataset.buffering = "true"));
    this.on(v, "playing", () => delete this.shell.dataset.buffering);
    this.on(v, "ended", () => this.onEnded());
    this.on(this.seek, "input", () => {
      this.seeking = true;
      const t = (this.seek.value / 1000) * this.duration();
      this.timeLabel.textContent = formatTime(t);
      this.showPreview(t, this.seek.value / 1000);
    });
    this.on(this.seek, "change", () => {
      v.currentTime = (this.seek.value / 1000) * this.duration();
      this.seeking = false;
      this.preview.hidden = true;
    });
    this.on(this.seek, "pointermove", (event) => {
      const rect = this.seek.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
      this.showPreview(fraction * this.duration(), fraction);
    });
    this.on(this.seek, "pointerleave", () => {
      if (!this.seeking) this.preview.hidden = true;
    });
    this.on(this.seek, "blur", () => (this.preview.hidden = true));
    this.on(this.qualityButton, "click", () => this.toggleQualityMenu());
    if (this.nextButton) this.on(this.nextButton, "click", () => this.playNext());
    this.on(this.fullButton, "click", () => this.toggleFullscreen());
    this.on(this.shell, "pointermove", () => this.wake());
    this.on(document, "keydown", (event) => this.onKey(event));
    this.on(window, "pagehide", () => stopSession(this.started.session_id, this.video.currentTime, this.measuredBandwidth()));
    this.on(this.qualityMenu, "keydown", (event) => {
      const items = [...this.qualityMenu.querySelectorAll("button")];
      const index = items.indexOf(document.activeElement);
      if (event.key === "ArrowDown") items[(index + 1) % items.length]?.focus();
      else if (event.key === "ArrowUp") items[(index - 1 + items.length) % items.length]?.focus();
      else return;
      event.preventDefault();
    });
  }

  // ----- playback ------------------------------------------------------------------------
  start() {
    this.build();
    this.wire();
    this.shell.dataset.state = "loading";
    this.shell.dataset.edge = String(this.edgeIndex);
    const resume = Number(this.started.resume_position_s) || 0;
    this.beacons = new PlayBeacons({
      sessionId: this.started.session_id,
      video: this.video,
      pressedAt: this.pressedAt ?? performance.now(),
      currentEdge: () => this.edges[this.edgeIndex],
    });
    this.beacons.start();
    const Hls = window.Hls;
    this.startPosition = resume > 0 ? resume : -1;
    if (Hls && Hls.isSupported()) {
      this.hls = new Hls({
        ...startConfig(this.started),
        startPosition: this.startPosition,
        capLevelToPlayerSize: false,
        // the playlists and init segment that came with the session, and the first segment
        // already on its way, are not asked for again
        loader: loaderWithStartFiles(Hls.DefaultConfig.loader, this.files),
        xhrSetup: (xhr, url) => xhr.open("GET", this.onCurrentEdge(url), true),
        fragLoadPolicy: {
          default: {
            maxTimeToFirstByteMs: 4000,
            maxLoadTimeMs: 20000,
            timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
            errorRetry: { maxNumRetry: 6, retryDelayMs: 300, maxRetryDelayMs: 2000 },
          },
        },
      });
      this.wireHls(Hls);
      this.trackMenu = new TrackMenu({ hls: this.hls, Hls });
      this.qualityButton.parentElement.before(this.trackMenu.element);
      this.beacons.watchHls(this.hls, Hls);
      this.hls.loadSource(this.started.manifest_url);
      this.hls.attachMedia(this.video);
    } else if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = this.started.manifest_url;
      this.on(this.video, "loadedmetadata", () => {
        if (resume > 0) this.video.currentTime = resume;
        this.autoplay();
      }, { once: true });
      this.rendition.textContent = "Auto";
    } else {
      this.fail("This browser can't play cinemesh videos.");
      return;
    }
    // scrub previews once the picture is up: nothing shares the link with the first segment
    this.on(this.video, "playing", () => this.thumbs.length || this.loadThumbnails(), { once: true });
    const leaseBeat = Number(this.started.heartbeat_interval_s) * 1000;
    this.timers.push(setInterval(() => this.heartbeat(), leaseBeat > 0 ? Math.min(HEARTBEAT_MS, leaseBeat) : HEARTBEAT_MS));
    this.wake();
    this.shell.focus({ preventScroll: true });
  }

  wireHls(Hls) {
    const E = Hls.Events;
    this.hls.on(E.MANIFEST_PARSED, () => {
      if (!this.hls.config.autoStartLoad) {
        this.hls.startLevel = startLevelFor(this.hls.levels, startBandwidth(this.started));
        this.hls.startLoad(this.startPosition);
      }
      this.buildQualityMenu();
      this.autoplay();
    });
    this.hls.on(E.LEVEL_SWITCHED, (_event, data) => this.onLevelSwitched(data.level));
    this.hls.on(E.FRAG_LOADED, () => (this.fragsLoaded = (this.fragsLoaded || 0) + 1));
    this.hls.on(E.ERROR, (_event, data) => this.onHlsError(Hls, data));
  }

  onCurrentEdge(url) {
    const parsed = new URL(url, location.href);
    if (!this.edges.includes(parsed.origin)) return url;
    const edge = this.edges[this.edgeIndex];
    return edge + parsed.pathname + parsed.search;
  }

  failover(reason) {
    if (this.edges.length < 2) return false;
    this.edgeIndex = (this.edgeIndex + 1) % this.edges.length;
    this.failovers += 1;
    this.shell.dataset.edge = String(this.edgeIndex);
    this.shell.dataset.failovers = String(this.failovers);
    console.info(`cinemesh: ${reason}; switching to edge ${this.edges[this.edgeIndex]}`);
    return true;
  }

  onHlsError(Hls, data) {
    const network = data.type === Hls.ErrorTypes.NETWORK_ERROR;
    if (network && data.frag && data.details !== Hls.ErrorDetails.FRAG_PARSING_ERROR) {
      // the next retry of this segment goes to another edge
      if (this.failover(`segment ${data.frag.sn} failed (${data.details})`) && !data.fatal) {
        this.flashNotice("Switched to another server");
      }
    } else if (network && !data.fatal) {
      this.failover(`${data.details}`);
    }
    if (!data.fatal) return;
    if (network && this.failover(`fatal ${data.details}`)) {
      this.flashNotice("Switched to another server");
      this.hls.startLoad(this.video.currentTime || -1);
      return;
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !this.recoveredMedia) {
      this.recoveredMedia = true;
      this.hls.recoverMediaError();
      return;
    }
    if (network && !this.retriedFatal) {
      this.retriedFatal = true;
      this.hls.startLoad(this.video.currentTime || -1);
      return;
    }
    this.fail("The video stopped loading. Check your connection and try again.");
  }

  async autoplay() {
    this.shell.dataset.state = "ready";
    try {
      await this.video.play();
    } catch (error) {
      if (error.name !== "NotAllowedError") return;
      this.video.muted = true; // the browser blocks sound until the viewer interacts
      try {
        await this.video.play();
        this.flashNotice("Playing muted: press M or the speaker button for sound", 6000);
      } catch {
        this.paintPlaying();
      }
    }
  }

  toggle() {
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
  }

  skip(seconds) {
    this.video.currentTime = Math.min(this.duration(), Math.max(0, this.video.currentTime + seconds));
    this.wake();
  }

  duration() {
    const d = this.video.duration;
    return Number.isFinite(d) && d > 0 ? d : Number(this.started.duration_s) || 0;
  }

  async heartbeat() {
    if (!this.started || this.destroyed || !this.video) return;
    const position = this.video.currentTime || 0;
    try {
      const body = beatBody(position, this.measuredBandwidth());
      await api.post(`/playback/sessions/${enc(this.started.session_id)}/heartbeat`, body);
      this.lastBeat = position;
      this.shell.dataset.heartbeats = String(Number(this.shell.dataset.heartbeats || 0) + 1);
    } catch (error) {
      if (error instanceof ApiError && error.code === "SESSION_ENDED") {
        this.video.pause();
        this.fail("This playback session ended. Press Try again to keep watching.");
      }
      // anything else: the next beat tries again; playback never stops for a missed beat
    }
  }

  // hls.js's estimate of the link once it has measured a few segments itself (before that it
  // only echoes the start estimate it was given)
  measuredBandwidth() {
    if (!this.hls || (this.fragsLoaded || 0) < 3) return null;
    return this.hls.bandwidthEstimate;
  }

  // ----- quality -------------------------------------------------------------------------
  buildQualityMenu() {
    const levels = this.hls.levels.map((level, index) => ({ index, height: level.height, bitrate: level.bitrate }));
    levels.sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
    const item = (label, index) =>
      h("button", { type: "button", role: "menuitemradio", "aria-checked": "false", dataset: { level: index }, onclick: () => this.chooseLevel(index) }, label);
    this.qualityMenu.replaceChildren(
      h("div", { class: "menu-heading" }, "Quality"),
      item("Auto", -1),
      ...levels.map((l) => item(`${l.height}p${l.bitrate ? ` · ${(l.bitrate / 1e6).toFixed(1)} Mb/s` : ""}`, l.index)),
    );
    this.shell.dataset.levels = String(levels.length);
    this.paintQualityMenu();
  }

  chooseLevel(index) {
    this.manualLevel = index;
    this.hls.currentLevel = index; // -1 hands it back to ABR; a level switches now
    this.paintQualityMenu();
    this.toggleQualityMenu(false);
    this.paintRendition();
  }

  paintQualityMenu() {
    const chosen = this.hls?.autoLevelEnabled ? -1 : this.manualLevel ?? -1;
    for (const button of this.qualityMenu.querySelectorAll("button")) {
      button.setAttribute("aria-checked", String(Number(button.dataset.level) === chosen));
    }
  }

  toggleQualityMenu(open = this.qualityMenu.hidden) {
    this.qualityMenu.hidden = !open;
    this.qualityButton.setAttribute("aria-expanded", String(open));
    if (open) (this.qualityMenu.querySelector('[aria-checked="true"]') || this.qualityMenu.querySelector("button"))?.focus();
  }

  onLevelSwitched(index) {
    const level = this.hls.levels[index];
    if (!level) return;
    const previous = this.switches[this.switches.length - 1];
    if (previous !== level.height) this.switches.push(level.height);
    this.shell.dataset.level = String(level.height);
    this.shell.dataset.switches = String(Math.max(0, this.switches.length - 1));
    this.paintRendition();
  }

  paintRendition() {
    const level = this.hls?.levels?.[this.hls.currentLevel];
    const height = level?.height || Number(this.shell.dataset.level) || 0;
    const auto = this.hls ? this.hls.autoLevelEnabled : true;
    this.rendition.textContent = height ? `${height}p${auto ? " · Auto" : ""}` : "Auto";
    this.qualityButton.setAttribute("aria-label", `Quality: ${this.rendition.textContent}`);
  }

  // ----- scrub previews ------------------------------------------------------------------
  async loadThumbnails() {
    const vttUrl = this.started.thumbnails_vtt || this.started.manifest_url.replace(/[^/]*$/, "thumbs.vtt");
    try {
      const response = await fetch(this.onCurrentEdge(vttUrl));
      if (!response.ok) return;
      this.thumbs = parseThumbnailVtt(await response.text(), this.onCurrentEdge(vttUrl));
      this.shell.dataset.thumbnails = String(this.thumbs.length);
    } catch {
      this.thumbs = [];
    }
  }

  showPreview(time, fraction) {
    const cue = this.thumbs.find((c) => time >= c.start && time < c.end) || this.thumbs[this.thumbs.length - 1];
    const image = this.preview.querySelector(".scrub-image");
    if (cue) {
      Object.assign(image.style, {
        width: `${cue.w}px`,
        height: `${cue.h}px`,
        backgroundImage: `url("${cue.url}")`,
        backgroundPosition: `-${cue.x}px -${cue.y}px`,
      });
      image.hidden = false;
    } else {
      image.hidden = true;
    }
    this.preview.querySelector(".scrub-time").textContent = formatTime(time);
    this.preview.style.left = `${fraction * 100}%`;
    this.preview.hidden = false;
  }

  // ----- next episode --------------------------------------------------------------------
  onEnded() {
    this.ended = true;
    this.heartbeat();
    if (!this.nextEpisode || this.nextCancelled) {
      this.shell.dataset.state = "ended";
      return;
    }
    if (!this.countdown) this.offerNext();
  }

  offerNext() {
    let left = NEXT_EPISODE_COUNTDOWN_S;
    const label = h("span", {}, this.autoplayNext ? `Next episode in ${left}` : "Up next");
    this.upNext.replaceChildren(
      h("p", { class: "up-next-name" }, nextLabel(this.nextEpisode, this.currentEpisode)),
      label,
      h("button", { class: "button button-play", type: "button", onclick: () => this.playNext() }, svgIcon("play", 20), "Play now"),
      h("button", { class: "button button-outline", type: "button", onclick: () => this.cancelNext() }, "Cancel"),
    );
    this.upNext.hidden = false;
    this.upNext.querySelector("button").focus();
    // Without autoplay the panel stays until the member chooses; the timer only marks it offered.
    this.countdown = setInterval(() => {
      if (!this.autoplayNext) return;
      left -= 1;
      label.textContent = `Next episode in ${left}`;
      if (left <= 0) this.playNext();
    }, 1000);
  }

  cancelNext() {
    clearInterval(this.countdown);
    this.countdown = null;
    this.nextCancelled = true;
    this.upNext.hidden = true;
  }

  // ----- intro and credits ---------------------------------------------------------------
  followMarkers() {
    const t = this.video.currentTime;
    const showSkip = inIntro(this.markers, t);
    if (this.skipIntroButton.hidden === showSkip) this.skipIntroButton.hidden = !showSkip;
    const from = this.nextEpisode ? countdownStartsAt(this.markers, this.duration(), NEXT_EPISODE_COUNTDOWN_S) : null;
    if (from === null || this.nextCancelled) return;
    if (t >= from && !this.countdown) this.offerNext();
    else if (t < from - 1 && this.countdown) this.withdrawNext(); // rewound out of the credits
  }

  skipIntro() {
    if (this.markers.introEnd === null) return;
    this.video.currentTime = this.markers.introEnd;
    this.skipIntroButton.hidden = true;
    this.shell.focus({ preventScroll: true });
  }

  withdrawNext() {
    clearInterval(this.countdown);
    this.countdown = null;
    this.upNext.hidden = true;
  }

  playNext() {
    if (!this.nextEpisode) return;
    clearInterval(this.countdown);
    this.navigate(watchHref(this.titleId, this.nextEpisode.id), { replace: true });
  }

  // ----- chrome --------------------------------------------------------------------------
  paintPlaying() {
    const paused = this.video.paused;
    this.playButton.replaceChildren(svgIcon(paused ? "play" : "pause", 28));
    this.playButton.setAttribute("aria-label", paused ? "Play" : "Pause");
    this.shell.dataset.state = paused ? "paused" : "playing";
    this.shell.classList.toggle("paused", paused);
  }

  paintTime() {
    const t = this.video.currentTime || 0;
    const d = this.duration();
    this.durationLabel.textContent = formatTime(d);
    if (this.seeking) return;
    this.timeLabel.textContent = formatTime(t);
    this.seek.value = d ? String(Math.round((t / d) * 1000)) : "0";
    this.seek.setAttribute("aria-valuetext", `${formatTime(t)} of ${formatTime(d)}`);
  }

  wake() {
    this.shell.classList.remove("idle");
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (!this.video.paused && this.qualityMenu.hidden) this.shell.classList.add("idle");
    }, HIDE_CONTROLS_MS);
  }

  flashNotice(message, ms = 3000) {
    this.notice.textContent = message;
    this.notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice.hidden = true), ms);
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else this.shell.requestFullscreen?.().catch(() => {});
  }

  onKey(event) {
    if (event.target.closest?.(".quality-menu") && event.key !== "Escape") return;
    const onSeek = event.target === this.seek;
    const onButton = event.target.closest?.("button");
    this.wake();
    switch (event.key) {
      case " ":
      case "k":
        if (onButton && event.key === " ") return;
        event.preventDefault();
        this.toggle();
        break;
      case "ArrowLeft":
      case "ArrowRight":
        if (onSeek) return;
        event.preventDefault();
        this.skip(event.key === "ArrowLeft" ? -10 : 10);
        break;
      case "f":
        this.toggleFullscreen();
        break;
      case "m":
        this.video.muted = !this.video.muted;
        break;
      case "Escape":
        if (!this.qualityMenu.hidden) {
          this.toggleQualityMenu(false);
          this.qualityButton.focus();
        } else if (!document.fullscreenElement) this.back();
        break;
      default:
    }
  }

  fail(message) {
    this.shell.dataset.state = "error";
    const box = h(
      "div",
      { class: "player-message overlay", role: "alert" },
      h("h1", {}, "Playback stopped"),
      h("p", {}, message),
      h(
        "div",
        { class: "form-actions" },
        h("button", { class: "button button-primary", type: "button", onclick: () => this.navigate(location.pathname + location.search, { replace: true }) }, "Try again"),
        h("button", { class: "button button-outline", type: "button", onclick: () => this.back() }, "Back"),
      ),
    );
    this.shell.append(box);
    box.querySelector("button").focus();
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    const position = this.video?.currentTime || 0;
    for (const timer of this.timers) clearInterval(timer);
    clearInterval(this.countdown);
    clearTimeout(this.idleTimer);
    clearTimeout(this.noticeTimer);
    for (const off of this.listeners) off();
    this.beacons?.close();
    stopSession(this.started.session_id, position, this.measuredBandwidth());
    this.hls?.destroy();
    if (this.video) {
      this.video.removeAttribute("src");
      this.video.load();
    }
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (window.cinemeshPlayer === this) window.cinemeshPlayer = null;
    if (position > 5) toast(`Saved your place at ${formatTime(position)}`);
  }
}

// WebVTT cues pointing into a sprite: "thumbs.jpg#xywh=x,y,w,h", relative to the VTT's URL.
export function parseThumbnailVtt(text, baseUrl) {
  const cues = [];
  const blocks = text.replace(/\r/g, "").split(/\n\n+/);
  for (const block of blocks) {
    const lines = block.trim().split("\n");
    const timing = lines.findIndex((l) => l.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [from, to] = lines[timing].split("-->").map((s) => vttSeconds(s.trim().split(/\s+/)[0]));
    const target = lines[timing + 1].trim();
    const match = /#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(target);
    if (!match) continue;
    const [x, y, w, hgt] = match.slice(1).map(Number);
    cues.push({ start: from, end: to, url: new URL(target.replace(/#.*$/, ""), baseUrl).href, x, y, w, h: hgt });
  }
  return cues;
}

function vttSeconds(stamp) {
  const parts = stamp.split(":").map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}
