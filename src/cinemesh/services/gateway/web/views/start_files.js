// The files a play needs before its first segment, as the session answer carries them
// (playback's start_files: the master playlist, the start rendition's playlist and its init
// segment, by URI relative to the manifest), handed to hls.js from memory: the first request
// over the member's link is for video, and it is made the moment the session answers
// (fetchFirstSegment), while the page builds the player. Anything else, or everything with an
// older playback, goes over the network as before.

// A map from each file's URL path (the edge's host does not matter: any edge serves it) to its
// text, or to its bytes for an init segment.
export function startFiles(started) {
  const files = new Map();
  const base = started?.manifest_url;
  if (!base) return files;
  for (const [uri, body] of Object.entries(started.start_files || {})) {
    const path = new URL(uri, base).pathname;
    if (typeof body?.text === "string") files.set(path, body.text);
    else if (typeof body?.base64 === "string") files.set(path, bytesOf(body.base64));
  }
  return files;
}

// The start rendition's segment at `position` (its playlist came with the session), asked for
// now: a path to add to the start files and the promise of its bytes, or null. An edge that
// has not answered within `firstByteMs` (the player's own limit for a segment) is left to
// hls.js, whose retries move to another edge.
export function fetchFirstSegment(started, files, { position = 0, firstByteMs = 4000, fetchImpl = fetch } = {}) {
  const found = firstSegmentUrl(started, files, position);
  if (!found) return null;
  const askedAt = performance.now();
  const abort = new AbortController();
  const giveUp = setTimeout(() => abort.abort(), firstByteMs);
  const loading = fetchImpl(found.href, { credentials: "omit", signal: abort.signal })
    .then(async (response) => {
      clearTimeout(giveUp);
      if (!response.ok) return null;
      const first = performance.now();
      return { data: await response.arrayBuffer(), timing: { start: askedAt, first, end: performance.now() } };
    })
    .catch(() => null); // hls.js then asks the network itself
  return { path: found.pathname, loading };
}

// The URL of the segment covering `position` in the one media playlist among the start files.
export function firstSegmentUrl(started, files, position = 0) {
  for (const [path, body] of files) {
    if (typeof body !== "string" || !body.includes("#EXTINF")) continue;
    const uri = segmentAt(body, position);
    return uri ? new URL(uri, new URL(path, started.manifest_url)) : null;
  }
  return null;
}

function segmentAt(playlist, position) {
  let end = 0;
  let duration = null;
  for (const raw of playlist.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#EXTINF:")) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith("#") && duration !== null) {
      end += duration;
      if (position < end) return line;
      duration = null;
    }
  }
  return null;
}

function bytesOf(base64) {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes.buffer;
}

// hls.js's loader, answering from `files` what it holds (as the network would, a moment later)
// and passing everything else to `Base`. A file still on its way (a promise of `{data, timing}`)
// is answered when it arrives, with the timing of its real load, which ABR measures; if it
// failed, hls.js's request goes over the network after all.
export function loaderWithStartFiles(Base, files) {
  return class StartFilesLoader extends Base {
    load(context, config, callbacks) {
      const path = new URL(context.url, location.href).pathname;
      const body = files.get(path);
      if (body === undefined) return super.load(context, config, callbacks);
      Object.assign(this, { context, config, callbacks });
      if (typeof body?.then !== "function") return this.answer(body);
      body.then((loaded) => {
        if (this.stats.aborted || !this.callbacks) return;
        if (loaded) this.answer(loaded.data, loaded.timing);
        else super.load(context, config, callbacks);
      });
    }

    answer(body, timing) {
      const data = typeof body === "string" ? body : body.slice(0); // hls.js may transfer it
      const now = performance.now();
      const stats = this.stats;
      stats.loading.start = timing?.start ?? now;
      stats.loading.first = timing?.first ?? now;
      stats.loading.end = timing?.end ?? now;
      stats.loaded = stats.total = typeof data === "string" ? data.length : data.byteLength;
      const { context } = this;
      Promise.resolve().then(() => this.callbacks?.onSuccess({ url: context.url, data, code: 200 }, stats, context, null));
    }
  };
}
