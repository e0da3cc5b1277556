// Play telemetry: how this play goes for the viewer, as compact beacons for the telemetry
// service. Each beacon is one stretch of about ten seconds (what happened in it, not running
// totals): time to first frame (once), time played, stalls and time rebuffering, the mean
// bitrate and the rendition switches, dropped frames, hls.js errors, and the edge that served
// the stretch's segments. Beacons go out every FLUSH_MS with the access token in Authorization
// (api.js); when the page is hidden or the player closes, what is left goes with
// navigator.sendBeacon, which cannot set a header, so the same access token rides in the body.
// Beacons telemetry could not take yet (it has not heard of the session, it was away, or the
// account is over its rate) are kept, a bounded few, and sent again with the next stretch;
// losing them never touches playback.
import { api, session } from "./api.js";

const ENDPOINT = "/api/v1/telemetry/play";
const FLUSH_MS = 10_000;
const MAX_BATCH = 50; // the gateway's limit per request
const MAX_KEPT = 50;
const MAX_STRETCH_MS = 600_000;
const MAX_TTFF_MS = 120_000;
const MAX_ERRORS = 20;
const MAX_SWITCHES = 50;
const HLS_DETAILS = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const HLS_TYPES = new Set(["networkError", "mediaError", "keySystemError", "muxError", "otherError"]);
const SEND_AGAIN = new Set([0, 404, 429, 502, 503, 504]); // offline, not heard of yet, slow down, away

export class PlayBeacons {
  constructor({ sessionId, video, pressedAt, currentEdge }) {
    Object.assign(this, { sessionId, video, pressedAt, currentEdge });
    this.seq = 0;
    this.kept = [];
    this.listeners = [];
    this.state = "starting"; // starting, playing, stalled, idle
    this.markedAt = performance.now();
    this.level = null;
    this.edge = null;
    this.ttff = null;
    this.ttffSent = false;
    this.frames = this.quality();
    this.stretch = this.freshStretch();
  }

  freshStretch() {
    return { played: 0, rebuffer: 0, stalls: 0, bitrateMs: 0, timed: 0, switches: [], errors: [] };
  }

  start() {
    const v = this.video;
    this.on(v, "playing", () => this.onPlaying());
    this.on(v, "waiting", () => this.onWaiting());
    for (const type of ["pause", "ended", "seeking", "emptied"]) this.on(v, type, () => this.enter("idle"));
    this.on(document, "visibilitychange", () => {
      if (document.visibilityState === "hidden") this.flush({ leaving: true });
    });
    this.on(window, "pagehide", () => this.flush({ leaving: true }));
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
  }

  // hls.js: the rendition played, the edge that served each segment, errors with their codes
  watchHls(hls, Hls) {
    const E = Hls.Events;
    hls.on(E.LEVEL_SWITCHED, (_event, data) => this.onLevel(hls.levels[data.level]));
    hls.on(E.FRAG_BUFFERED, () => {
      this.edge = this.currentEdge();
    });
    hls.on(E.ERROR, (_event, data) => this.onError(data));
  }

  on(target, type, fn) {
    target.addEventListener(type, fn);
    this.listeners.push(() => target.removeEventListener(type, fn));
  }

  // ----- what the video does ---------------------------------------------------------------
  mark() {
    const now = performance.now();
    const spent = Math.max(0, now - this.markedAt);
    this.markedAt = now;
    if (this.state === "playing") {
      this.stretch.played += spent;
      if (this.level?.bitrate) {
        this.stretch.bitrateMs += (this.level.bitrate / 1000) * spent;
        this.stretch.timed += spent;
      }
    } else if (this.state === "stalled") {
      this.stretch.rebuffer += spent;
    }
  }

  enter(state) {
    this.mark();
    this.state = state;
  }

  onPlaying() {
    if (this.ttff === null) this.ttff = Math.round(performance.now() - this.pressedAt);
    this.enter("playing");
  }

  onWaiting() {
    // a stall is the picture stopping for want of data while playing, not a seek or the start
    if (this.state !== "playing" || this.video.seeking) return;
    this.enter("stalled");
    this.stretch.stalls += 1;
  }

  onLevel(level) {
    if (!level) return;
    this.mark();
    this.level = level;
    if (level.bitrate && level.height && this.stretch.switches.length < MAX_SWITCHES) {
      this.stretch.switches.push({ bitrate_kbps: Math.min(200_000, level.bitrate / 1000), height: Math.min(4320, level.height) });
    }
  }

  onError(data) {
    if (this.stretch.errors.length >= MAX_ERRORS) return;
    const details = String(data?.details || "");
    const type = HLS_TYPES.has(data?.type) ? data.type : "otherError";
    if (!HLS_DETAILS.test(details)) return;
    this.stretch.errors.push({ type, details, fatal: Boolean(data.fatal) });
  }

  quality() {
    const q = this.video.getVideoPlaybackQuality?.();
    return { dropped: q?.droppedVideoFrames || 0, total: q?.totalVideoFrames || 0 };
  }

  // ----- beacons ---------------------------------------------------------------------------
  // The stretch since the last beacon, or null when nothing happened (paused all along).
  take() {
    this.mark();
    const s = this.stretch;
    const now = this.quality();
    const fresh = now.total >= this.frames.total && now.dropped >= this.frames.dropped; // a new media element starts again from 0
    const dropped = fresh ? now.dropped - this.frames.dropped : now.dropped;
    const decoded = fresh ? now.total - this.frames.total : now.total;
    this.frames = now;
    const ttff = this.ttff !== null && !this.ttffSent && this.ttff <= MAX_TTFF_MS ? this.ttff : null;
    const happened = ttff !== null || s.played >= 1 || s.rebuffer >= 1 || s.stalls || s.errors.length || s.switches.length;
    if (!happened) return null;
    this.ttffSent ||= ttff !== null;
    this.stretch = this.freshStretch();
    const clamp = (ms) => Math.min(MAX_STRETCH_MS, Math.round(ms));
    const beacon = {
      session_id: this.sessionId,
      seq: this.seq++,
      played_ms: clamp(s.played),
      stalls: Math.min(1000, s.stalls),
      rebuffer_ms: clamp(s.rebuffer),
      switches: s.switches,
      dropped_frames: Math.min(dropped, 144_000),
      decoded_frames: Math.min(decoded, 144_000),
      errors: s.errors,
    };
    if (this.edge) beacon.edge = this.edge;
    if (ttff !== null) beacon.ttff_ms = ttff;
    if (s.timed > 0) beacon.bitrate_kbps = Math.min(200_000, Math.round((s.bitrateMs / s.timed) * 10) / 10);
    if (this.level?.height) beacon.height = Math.min(4320, this.level.height);
    return beacon;
  }

  keep(batch) {
    this.kept = [...batch, ...this.kept].slice(-MAX_KEPT);
  }

  flush({ leaving = false } = {}) {
    const beacon = this.take();
    if (beacon) this.kept.push(beacon);
    if (!this.kept.length) return;
    const batch = this.kept.splice(0, MAX_BATCH);
    if (leaving) {
      sendOnLeaving(batch);
      return;
    }
    if (this.sending) {
      this.keep(batch);
      return;
    }
    this.sending = true;
    api
      .post("/telemetry/play", { beacons: batch })
      .then((answer) => {
        if (answer?.dropped) this.keep(batch); // telemetry was away: they go again next time
        this.sentBatches = (this.sentBatches || 0) + 1;
      })
      .catch((error) => {
        // 401, 403, 422: these can never be taken, so they go; the rest wait for next time
        if (SEND_AGAIN.has(error.status)) this.keep(batch);
      })
      .finally(() => {
        this.sending = false;
      });
  }

  close() {
    clearInterval(this.timer);
    this.flush({ leaving: true });
    for (const off of this.listeners) off();
    this.listeners = [];
  }
}

// The page is going: sendBeacon outlives it, carrying the access token in a typeless body.
function sendOnLeaving(beacons) {
  const token = session.tokens?.access_token;
  if (!token) return;
  const body = JSON.stringify({ access_token: token, beacons });
  if (navigator.sendBeacon?.(ENDPOINT, new Blob([body]))) return;
  fetch(ENDPOINT, { method: "POST", body: new Blob([body]), keepalive: true }).catch(() => {});
}
