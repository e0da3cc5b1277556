// Audio and subtitle tracks: which of the tracks hls.js reports matches a profile's preferred
// language, and the language a chosen track saves to the profile. No DOM here (tested by
// tests/web/markers.test.mjs).

// ISO 639-2 codes (what ffmpeg tags streams with) for the ISO 639-1 codes profiles mostly keep.
const TWO_LETTER = {
  ara: "ar", chi: "zh", zho: "zh", dan: "da", dut: "nl", nld: "nl", eng: "en", fin: "fi", fra: "fr", fre: "fr",
  ger: "de", deu: "de", hin: "hi", ita: "it", jpn: "ja", kor: "ko", nor: "no", pol: "pl", por: "pt", rus: "ru",
  spa: "es", swe: "sv", tur: "tr",
};
const PROFILE_LANGUAGE = /^[a-z]{2,3}(-[A-Z]{2})?$/;

// "en", "eng", "en-US" and "EN" all name English.
export function primaryLanguage(tag) {
  const primary = String(tag || "").trim().toLowerCase().split(/[-_]/)[0];
  return TWO_LETTER[primary] || primary;
}

// The index of the track in `language`, preferring an exact tag ("pt-BR" over "pt"); -1 when
// there is no preference or no such track.
export function preferredTrack(tracks, language) {
  if (!language || !tracks?.length) return -1;
  const exact = tracks.findIndex((t) => String(t.lang || "").toLowerCase() === language.toLowerCase());
  if (exact >= 0) return exact;
  return tracks.findIndex((t) => t.lang && primaryLanguage(t.lang) === primaryLanguage(language));
}

// What a chosen track saves to the profile ("en", "pt-BR"), or null when its tag says nothing.
export function profileLanguage(tag) {
  const [primary, region] = String(tag || "").trim().split(/[-_]/);
  const normal = primaryLanguage(primary) + (region ? `-${region.toUpperCase()}` : "");
  return PROFILE_LANGUAGE.test(normal) && normal !== "und" ? normal : null;
}

export function trackLabel(track, index) {
  return track.name || track.lang || `Track ${index + 1}`;
}

// How captions are drawn: a size and a background, kept per profile on this device.
export const CAPTION_SIZES = { small: "Small", medium: "Medium", large: "Large" };
export const CAPTION_BACKGROUNDS = { none: "No background", dim: "Dim background", solid: "Solid background" };
export const DEFAULT_CAPTION_STYLE = { size: "medium", background: "dim" };

export function captionStyleKey(profileId) {
  return `cinemesh.captions.${profileId || "default"}`;
}

// A stored style read back, anything unknown or unreadable falling back to the defaults.
export function captionStyle(stored) {
  let parsed = {};
  try {
    parsed = JSON.parse(stored || "{}") || {};
  } catch {
    parsed = {};
  }
  return {
    size: Object.hasOwn(CAPTION_SIZES, parsed.size) ? parsed.size : DEFAULT_CAPTION_STYLE.size,
    background: Object.hasOwn(CAPTION_BACKGROUNDS, parsed.background) ? parsed.background : DEFAULT_CAPTION_STYLE.background,
  };
}
