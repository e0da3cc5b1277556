// The player's decisions, without a browser: run by tests/web/test_player_rules.py with
// node's own test runner. The web app's modules are plain .js ES modules with no package.json
// saying so, hence the import through a data: URL.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

const WEB = new URL("../../src/cinemesh/services/gateway/web/", import.meta.url);

async function load(path) {
  const source = await readFile(new URL(path, WEB), "utf8");
  return import(`data:text/javascript,${encodeURIComponent(source)}`);
}

const { autoplaysNext, countdownStartsAt, inIntro, markersFor, nextEpisodeOf, nextLabel } = await load("views/markers.js");
const { captionStyle, captionStyleKey, preferredTrack, primaryLanguage, profileLanguage } = await load("views/tracks.js");
const { startConfig, startLevelFor } = await load("views/start_level.js");
const { fetchFirstSegment, firstSegmentUrl, loaderWithStartFiles, startFiles } = await load("views/start_files.js");

const intro = markersFor(null, { intro_start_s: 10, intro_end_s: 40, credits_start_s: 1200 });

test("skip intro shows from the intro's start to just before its end, and nowhere else", () => {
  assert.equal(inIntro(intro, 9.9), false);
  assert.equal(inIntro(intro, 10), true);
  assert.equal(inIntro(intro, 39.4), true);
  assert.equal(inIntro(intro, 39.6), false);
  assert.equal(inIntro(intro, 41), false);
  assert.equal(inIntro(intro, Number.NaN), false);
});

test("without an intro there is never a skip button", () => {
  const none = markersFor({ intro_start_s: null }, null);
  assert.equal(inIntro(none, 0), false);
  const halfMarked = markersFor(null, { intro_start_s: 5 });
  assert.equal(inIntro(halfMarked, 6), false);
});

test("an episode's markers win over the title's; a movie uses the title's", () => {
  const title = { intro_start_s: 1, intro_end_s: 2 };
  assert.equal(markersFor(title, { intro_start_s: 30, intro_end_s: 60 }).introStart, 30);
  assert.equal(markersFor(title, null).introEnd, 2);
});

test("the next-episode countdown starts at the credits, else in the last seconds", () => {
  assert.equal(countdownStartsAt(intro, 1300, 8), 1200);
  const unmarked = markersFor(null, {});
  assert.equal(countdownStartsAt(unmarked, 1300, 8), 1292);
  assert.equal(countdownStartsAt(unmarked, Number.NaN, 8), null);
  const creditsPastTheEnd = markersFor(null, { credits_start_s: 2000 });
  assert.equal(countdownStartsAt(creditsPastTheEnd, 1300, 8), 1292);
});

test("the next episode is the one the catalog names, across seasons", () => {
  const episodes = [
    { id: "s1e1", playable: true, next_episode_id: "s2e1" },
    { id: "s1e2", playable: false, next_episode_id: "s2e1" },
    { id: "s2e1", playable: true, next_episode_id: null },
  ];
  assert.equal(nextEpisodeOf(episodes, episodes[0]).id, "s2e1");
  assert.equal(nextEpisodeOf(episodes, episodes[2]), null);
  assert.equal(nextEpisodeOf(episodes, null), null);
});

test("an older catalog without next_episode_id still gets the next playable episode", () => {
  const episodes = [{ id: "a", playable: true }, { id: "b", playable: false }, { id: "c", playable: true }];
  assert.equal(nextEpisodeOf(episodes, episodes[0]).id, "c");
});

test("the next episode is labelled by its number and name, with its season when it changes", () => {
  const pilot = { id: "a", season: 1, number: 1, name: "Pilot" };
  assert.equal(nextLabel({ id: "b", season: 1, number: 2, name: "Chapter 2" }, pilot), "Next: E2 “Chapter 2”");
  assert.equal(nextLabel({ id: "c", season: 2, number: 1, name: "Return" }, pilot), "Next: S2:E1 “Return”");
  assert.equal(nextLabel({ id: "d", name: "Special" }, pilot), "Next: Special");
  assert.equal(nextLabel(null, pilot), "");
});

test("the preferred language picks its track, exact tags first, ISO 639-2 codes too", () => {
  const tracks = [{ lang: "en" }, { lang: "pt" }, { lang: "pt-BR" }, { lang: "jpn" }];
  assert.equal(preferredTrack(tracks, "pt-BR"), 2);
  assert.equal(preferredTrack(tracks, "pt"), 1);
  assert.equal(preferredTrack(tracks, "ja"), 3);
  assert.equal(preferredTrack(tracks, "de"), -1);
  assert.equal(preferredTrack(tracks, null), -1);
  assert.equal(preferredTrack([], "en"), -1);
  assert.equal(primaryLanguage("ENG"), "en");
});

test("a chosen track saves a language the profile accepts, or nothing", () => {
  assert.equal(profileLanguage("eng"), "en");
  assert.equal(profileLanguage("pt-br"), "pt-BR");
  assert.equal(profileLanguage("fr_CA"), "fr-CA");
  assert.equal(profileLanguage("und"), null);
  assert.equal(profileLanguage(""), null);
  assert.equal(profileLanguage("klingon"), null);
});

test("a caption style is kept per profile and read back safely", () => {
  assert.equal(captionStyleKey("p1"), "cinemesh.captions.p1");
  assert.deepEqual(captionStyle(JSON.stringify({ size: "large", background: "none" })), { size: "large", background: "none" });
  assert.deepEqual(captionStyle(null), { size: "medium", background: "dim" });
  assert.deepEqual(captionStyle("{not json"), { size: "medium", background: "dim" });
  assert.deepEqual(captionStyle(JSON.stringify({ size: "toString", background: "x" })), { size: "medium", background: "dim" });
});

test("a play starts on the highest rung whose first segment loads in half a second", () => {
  const levels = [{ bitrate: 2_396_000 }, { bitrate: 396_000 }, { bitrate: 796_000 }, { bitrate: 1_296_000 }];
  assert.equal(startLevelFor(levels, 500_000), 1); // a first play: nothing fits, the lowest
  assert.equal(startLevelFor(levels, 1_700_000), 2); // 796 kbit/s x 1 s within 0.5 s at 1.7 Mbit/s
  assert.equal(startLevelFor(levels, 3_000_000), 3);
  assert.equal(startLevelFor(levels, 5_000_000), 0);
  const tuning = { startFragPrefetch: true, interstitialsController: null, enableWorker: false };
  assert.deepEqual(startConfig({ start_bandwidth_bps: 5_000_000 }), { ...tuning, abrEwmaDefaultEstimate: 5_000_000, testBandwidth: false, autoStartLoad: false });
  assert.deepEqual(startConfig({}), tuning); // an older playback: hls.js's own start level
});

test("the files that came with the session are found by URL path, an init segment as bytes", () => {
  const started = {
    manifest_url: "http://edge:1/e/9/tok/a~1080/master.m3u8",
    start_files: { "master.m3u8": { text: "#EXTM3U" }, "240p/init.mp4": { base64: "AAEC" }, odd: {} },
  };
  const files = startFiles(started);
  assert.deepEqual([...files.keys()], ["/e/9/tok/a~1080/master.m3u8", "/e/9/tok/a~1080/240p/init.mp4"]);
  assert.equal(files.get("/e/9/tok/a~1080/master.m3u8"), "#EXTM3U");
  assert.deepEqual([...new Uint8Array(files.get("/e/9/tok/a~1080/240p/init.mp4"))], [0, 1, 2]);
  assert.equal(startFiles({ manifest_url: "http://edge:1/m.m3u8" }).size, 0); // an older playback
});

const START_PLAYLIST = "#EXTM3U\n#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:1.000,\nseg_000.m4s\n#EXTINF:1.000,\nseg_001.m4s\n#EXTINF:2.000,\nseg_002.m4s\n#EXTINF:4.000,\nseg_003.m4s\n#EXT-X-ENDLIST\n";
const SESSION = {
  manifest_url: "http://edge:1/e/9/tok/a~1080/master.m3u8",
  start_files: { "master.m3u8": { text: "#EXTM3U" }, "240p/index.m3u8": { text: START_PLAYLIST } },
};

test("the segment to ask for first is the start playlist's one at the start position", () => {
  const files = startFiles(SESSION);
  assert.equal(firstSegmentUrl(SESSION, files, 0).href, "http://edge:1/e/9/tok/a~1080/240p/seg_000.m4s");
  assert.equal(firstSegmentUrl(SESSION, files, 2.5).href, "http://edge:1/e/9/tok/a~1080/240p/seg_002.m4s");
  assert.equal(firstSegmentUrl(SESSION, files, 99), null); // past the end: hls.js decides
  assert.equal(firstSegmentUrl(SESSION, startFiles({ ...SESSION, start_files: { "master.m3u8": { text: "#EXTM3U" } } })), null);
});

// hls.js's loader as far as the start files need it: stats, and a network load to fall back on
class FakeNetworkLoader {
  constructor() {
    this.stats = { aborted: false, loaded: 0, total: 0, loading: { start: 0, first: 0, end: 0 } };
  }
  load(context, _config, callbacks) {
    this.networkLoads = (this.networkLoads || 0) + 1;
    callbacks.onSuccess({ url: context.url, data: new ArrayBuffer(7), code: 200 }, this.stats, context, null);
  }
}

function loadThrough(Loader, url) {
  globalThis.location ??= { href: "http://app:1/watch/t" }; // the page the player runs in
  const loader = new Loader();
  return new Promise((resolve) => loader.load({ url }, {}, { onSuccess: (response, stats) => resolve({ loader, response, stats }) }));
}

test("the first segment is asked for when the session answers and hls.js is answered with it", async () => {
  const asked = [];
  const fetchImpl = async (url) => {
    asked.push(url);
    return { ok: true, arrayBuffer: async () => new Uint8Array([1, 2, 3]).buffer };
  };
  const files = startFiles(SESSION);
  const segment = fetchFirstSegment(SESSION, files, { fetchImpl });
  assert.deepEqual(asked, ["http://edge:1/e/9/tok/a~1080/240p/seg_000.m4s"]); // at once, before hls.js asks
  files.set(segment.path, segment.loading);
  const Loader = loaderWithStartFiles(FakeNetworkLoader, files);
  const { loader, response, stats } = await loadThrough(Loader, "http://edge:2/e/9/tok/a~1080/240p/seg_000.m4s");
  assert.deepEqual([...new Uint8Array(response.data)], [1, 2, 3]);
  assert.equal(loader.networkLoads, undefined);
  assert.equal(stats.loaded, 3);
  assert.ok(stats.loading.start <= stats.loading.first && stats.loading.first <= stats.loading.end); // the real load, for ABR
});

test("a first segment that could not be fetched ahead is loaded by hls.js over the network", async () => {
  const files = startFiles(SESSION);
  const segment = fetchFirstSegment(SESSION, files, { fetchImpl: async () => ({ ok: false }) });
  files.set(segment.path, segment.loading);
  const Loader = loaderWithStartFiles(FakeNetworkLoader, files);
  const { loader, response } = await loadThrough(Loader, "http://edge:1/e/9/tok/a~1080/240p/seg_000.m4s");
  assert.equal(loader.networkLoads, 1);
  assert.equal(response.data.byteLength, 7);
});

test("an edge that does not answer the first segment in time leaves it to hls.js", async () => {
  const files = startFiles(SESSION);
  const silent = (_url, { signal }) => new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
  const segment = fetchFirstSegment(SESSION, files, { firstByteMs: 20, fetchImpl: silent });
  assert.equal(await segment.loading, null);
});

test("the next episode starts by itself unless the profile turned it off", () => {
  assert.equal(autoplaysNext({ id: "p", autoplay_next_episode: true }), true);
  assert.equal(autoplaysNext({ id: "kid", kids: true, autoplay_next_episode: false }), false);
  assert.equal(autoplaysNext({ id: "older answer without the field" }), true);
  assert.equal(autoplaysNext(null), true);
});
