// The files a play needs before its first segment, as the session answer carries them
// (playback's start_files: the master playlist, the start rendition's playlist and its init
// segment, by URI relative to the manifest), handed to hls.js from memory: the first request
// over the member's link is for video. Anything else, or everything with an older playback,
// goes over the network as before.

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

function bytesOf(base64) {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes.buffer;
}

// hls.js's loader, answering from `files` what it holds (as the network would, a moment later)
// and passing everything else to `Base`.
export function loaderWithStartFiles(Base, files) {
  return class StartFilesLoader extends Base {
    load(context, config, callbacks) {
      const path = new URL(context.url, location.href).pathname;
      const body = files.get(path);
      if (body === undefined) return super.load(context, config, callbacks);
      const data = typeof body === "string" ? body : body.slice(0); // hls.js may transfer it
      Object.assign(this, { context, config, callbacks });
      const now = performance.now();
      const stats = this.stats;
      stats.loading.start = now;
      stats.loading.first = now;
      stats.loading.end = now;
      stats.loaded = stats.total = typeof data === "string" ? data.length : data.byteLength;
      Promise.resolve().then(() => this.callbacks?.onSuccess({ url: context.url, data, code: 200 }, stats, context, null));
    }
  };
}
