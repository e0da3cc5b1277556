// The player's audio and subtitle menu: lists whatever tracks hls.js reports, starts a title in
// the profile's preferred languages when it has them, and saves a choice to the profile so
// the next title starts in it too. Caption size and background are kept per profile in this
// browser (localStorage) and drawn with `video::cue` rules in styles.css.
import { api, enc, session } from "../api.js";
import { h } from "../ui.js";
import {
  CAPTION_BACKGROUNDS,
  CAPTION_SIZES,
  captionStyle,
  captionStyleKey,
  preferredTrack,
  profileLanguage,
  trackLabel,
} from "./tracks.js";

export class TrackMenu {
  constructor({ hls, Hls }) {
    Object.assign(this, { hls, Hls });
    this.menu = h("div", { class: "quality-menu tracks-menu", role: "menu", "aria-label": "Audio and subtitles", hidden: true });
    this.button = h(
      "button",
      { class: "control control-text", type: "button", "aria-haspopup": "true", "aria-expanded": "false", "data-control": "tracks", hidden: true, onclick: () => this.toggle() },
      "Audio & subtitles",
    );
    this.element = h("div", { class: "quality" }, this.button, this.menu);
    this.menu.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.stopPropagation(); // Escape closes the menu, not the player
      this.close();
      this.button.focus();
    });
    const E = Hls.Events;
    hls.on(E.AUDIO_TRACKS_UPDATED, () => this.applyPreferred("audio"));
    hls.on(E.SUBTITLE_TRACKS_UPDATED, () => this.applyPreferred("subtitles"));
    hls.on(E.AUDIO_TRACK_SWITCHED, () => this.paint());
    hls.on(E.SUBTITLE_TRACK_SWITCH, () => this.paint());
    if (E.MEDIA_ATTACHED) hls.on(E.MEDIA_ATTACHED, () => this.drawCaptions());
    this.captions = captionStyle(readStored(this.styleKey()));
    this.drawCaptions();
  }

  styleKey() {
    return captionStyleKey(session.profile?.id);
  }

  // the style as attributes of the video element, which styles.css's ::cue rules read
  drawCaptions() {
    const video = this.hls.media;
    if (!video?.setAttribute) return;
    video.setAttribute("data-caption-size", this.captions.size);
    video.setAttribute("data-caption-background", this.captions.background);
  }

  setCaptionStyle(change) {
    this.captions = { ...this.captions, ...change };
    try {
      localStorage.setItem(this.styleKey(), JSON.stringify(this.captions));
    } catch {
      // private browsing or a full store: the style holds for this title only
    }
    this.drawCaptions();
    this.paint();
  }

  applyPreferred(kind) {
    const profile = session.profile || {};
    if (kind === "audio") {
      const index = preferredTrack(this.hls.audioTracks, profile.audio_language);
      if (index >= 0 && index !== this.hls.audioTrack) this.hls.audioTrack = index;
    } else {
      const index = preferredTrack(this.hls.subtitleTracks, profile.subtitle_language);
      if (index >= 0) this.showSubtitles(index);
    }
    this.paint();
  }

  showSubtitles(index) {
    this.hls.subtitleDisplay = index >= 0;
    this.hls.subtitleTrack = index;
  }

  paint() {
    const audio = this.hls.audioTracks || [];
    const subtitles = this.hls.subtitleTracks || [];
    this.button.hidden = audio.length < 2 && subtitles.length === 0;
    const item = (label, checked, choose) =>
      h("button", { type: "button", role: "menuitemradio", "aria-checked": String(checked), onclick: () => choose() }, label);
    const subtitleOn = this.hls.subtitleDisplay ? this.hls.subtitleTrack : -1;
    this.menu.replaceChildren(
      ...(audio.length > 1 ? [h("div", { class: "menu-heading" }, "Audio")] : []),
      ...(audio.length > 1 ? audio.map((t, i) => item(trackLabel(t, i), i === this.hls.audioTrack, () => this.choose("audio", i))) : []),
      h("div", { class: "menu-heading" }, "Subtitles"),
      item("Off", subtitleOn < 0, () => this.choose("subtitles", -1)),
      ...subtitles.map((t, i) => item(trackLabel(t, i), i === subtitleOn, () => this.choose("subtitles", i))),
      ...(subtitles.length ? this.styleItems(item) : []),
    );
  }

  styleItems(item) {
    const choice = (options, key) =>
      Object.entries(options).map(([value, label]) =>
        item(label, this.captions[key] === value, () => this.setCaptionStyle({ [key]: value })),
      );
    return [
      h("div", { class: "menu-heading" }, "Caption size"),
      ...choice(CAPTION_SIZES, "size"),
      h("div", { class: "menu-heading" }, "Caption background"),
      ...choice(CAPTION_BACKGROUNDS, "background"),
    ];
  }

  choose(kind, index) {
    if (kind === "audio") this.hls.audioTrack = index;
    else this.showSubtitles(index);
    const track = kind === "audio" ? this.hls.audioTracks[index] : this.hls.subtitleTracks[index];
    const language = track ? profileLanguage(track.lang) : null;
    if (track && !language) return this.close(); // a track with no language says nothing to keep
    this.save(kind === "audio" ? { audio_language: language } : { subtitle_language: language });
    this.close();
  }

  async save(change) {
    const profile = session.profile;
    if (!profile?.id) return;
    try {
      session.profile = await api.patch(`/profiles/${enc(profile.id)}`, change);
    } catch {
      // the choice still holds for this title; the next one starts in the old languages
    }
  }

  toggle(open = this.menu.hidden) {
    this.menu.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) (this.menu.querySelector('[aria-checked="true"]') || this.menu.querySelector("button"))?.focus();
  }

  close() {
    this.toggle(false);
  }
}

function readStored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
