// When the player offers "Skip intro" and "Next episode": decisions from the catalog's intro
// and credits markers and its next_episode_id, kept apart from the DOM so they can be tested
// on their own (tests/web/markers.test.mjs).

// The markers of what is playing: the episode's in a series, else the title's (a movie).
export function markersFor(title, episode) {
  const source = episode || title || {};
  return {
    introStart: numberOrNull(source.intro_start_s),
    introEnd: numberOrNull(source.intro_end_s),
    creditsStart: numberOrNull(source.credits_start_s),
  };
}

// "Skip intro" shows from the intro's start until half a second before its end (a jump of
// less than that is not worth a button).
export function inIntro(markers, position) {
  const { introStart, introEnd } = markers;
  if (introStart === null || introEnd === null || !Number.isFinite(position)) return false;
  return position >= introStart && position < introEnd - 0.5;
}

// Where the next-episode countdown starts: at the credits, or `lastSeconds` before the end
// when the episode has no credits marker (null while the length is unknown).
export function countdownStartsAt(markers, duration, lastSeconds) {
  if (markers.creditsStart !== null && (!duration || markers.creditsStart < duration)) return markers.creditsStart;
  if (!Number.isFinite(duration) || duration <= 0) return null;
  return Math.max(0, duration - lastSeconds);
}

// Whether the next episode starts by itself when the credits' countdown runs out: a profile
// says so (`autoplay_next_episode`, on unless its grown-ups turned it off); an older profile
// answer without the field keeps the countdown.
export function autoplaysNext(profile) {
  return profile?.autoplay_next_episode !== false;
}

// The episode that plays after `current`: the catalog's next_episode_id (the next one with a
// video, across seasons); from an older catalog without it, the next playable in list order.
export function nextEpisodeOf(episodes, current) {
  if (!current) return null;
  if ("next_episode_id" in current) return episodes.find((e) => e.id === current.next_episode_id) || null;
  return episodes.slice(episodes.indexOf(current) + 1).find((e) => e.playable) || null;
}

// What the player calls the next episode: "Next: E2 “The Name”", with its season when that
// changes ("Next: S2:E1 …"), or just its name when the catalog gives no numbers.
export function nextLabel(next, current) {
  if (!next) return "";
  const name = next.name || next.title || "";
  if (!Number.isInteger(next.number)) return `Next: ${name}`;
  const season = current && next.season === current.season ? "" : `S${next.season}:`;
  return `Next: ${season}E${next.number}${name ? ` “${name}”` : ""}`;
}

function numberOrNull(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
