// Where a play starts. The platform says what it knows of this link (the session's
// start_bandwidth_bps: a margin under what this profile's player measured on this device, or a
// low default for a first play). The first segment must arrive quickly whatever the link
// sustains, so the start rendition is the highest whose first segment loads within
// FIRST_SEGMENT_S at that rate; hls.js takes the same figure as its first estimate (and does
// not spend a segment measuring the link), so ABR climbs to what the link sustains from the
// second segment on. Playback guesses the same rung to send its playlist with the session
// (services/playback/start_files.py: keep the two rules alike).
export const FIRST_SEGMENT_S = 0.5;
// the length of a rendition's first segment: the encoder opens every rendition with 1, 1 and
// 2 s segments before its 4 s ones (encoder/ladder.py); the master playlist does not say
export const START_SEGMENT_S = 1;

export function startBandwidth(started) {
  const bps = Number(started?.start_bandwidth_bps);
  return Number.isFinite(bps) && bps > 0 ? bps : null;
}

// hls.js's start, whatever the session says. The first segment is asked for once its playlist is
// at hand, not on hls.js's next 100 ms tick after the media element opens; no interstitials
// controller (the encoder makes none, and it restarts loading when the media element opens,
// dropping that segment for another tick); and segments are parsed on the page, since the
// parsing worker takes ~0.1 s to start on every play for a few ms of reading fMP4 boxes.
export const START_TUNING = { startFragPrefetch: true, interstitialsController: null, enableWorker: false };

// hls.js's configuration for the start: loading waits for the start level to be chosen.
export function startConfig(started) {
  const bps = startBandwidth(started);
  if (!bps) return { ...START_TUNING };
  return { ...START_TUNING, abrEwmaDefaultEstimate: bps, testBandwidth: false, autoStartLoad: false };
}

// The index of the level to start at: the highest bit rate whose first segment fits the budget,
// else the lowest.
export function startLevelFor(levels, bps) {
  let chosen = -1;
  let lowest = -1;
  levels.forEach((level, index) => {
    const rate = Number(level.bitrate) || 0;
    if (lowest < 0 || rate < Number(levels[lowest].bitrate)) lowest = index;
    if (rate * START_SEGMENT_S <= bps * FIRST_SEGMENT_S && (chosen < 0 || rate > Number(levels[chosen].bitrate))) chosen = index;
  });
  return chosen >= 0 ? chosen : lowest;
}
