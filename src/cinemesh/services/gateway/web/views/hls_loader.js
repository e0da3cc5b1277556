// hls.js, loaded once for the whole app. The shell names it by its content hash and has the
// browser fetch it ahead (prefetch at idle, preload on a watch deep link); a title page also
// runs it at idle, so that pressing Play waits neither for its bytes nor for its parsing.
const HLS_SRC = "/static/vendor/hls.min.js";

let hlsLoading = null;

function hlsSrc() {
  return document.getElementById("hls-src")?.getAttribute("href") || HLS_SRC;
}

export function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  hlsLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = hlsSrc();
    script.onload = () => resolve(window.Hls);
    script.onerror = () => {
      hlsLoading = null;
      reject(new Error("the video player could not load"));
    };
    document.head.append(script);
  });
  return hlsLoading;
}

// The member is one press away from playing: have the player ready when the page is idle.
export function warmPlayer() {
  const warm = () => loadHls().catch(() => {});
  if (window.requestIdleCallback) requestIdleCallback(warm, { timeout: 3000 });
  else setTimeout(warm, 500);
}
