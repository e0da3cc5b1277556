// A small History API router: patterns like "/title/:id", same-origin links with data-link,
// and a view's cleanup (stop the player, stop polling) when the route changes.

const routes = [];
let current = { cleanup: null, token: 0 };
let guard = null;

export function route(pattern, view, options = {}) {
  const names = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (part.startsWith(":")) {
        names.push(part.slice(1));
        return "([^/]+)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  routes.push({ regex: new RegExp(`^${source}/?$`), names, view, options });
}

export function setGuard(fn) {
  guard = fn;
}

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) {
    if (!replace) return render();
  }
  history[replace ? "replaceState" : "pushState"]({}, "", path);
  return render();
}

export function start() {
  window.addEventListener("popstate", () => render());
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[data-link]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  return render();
}

function match(pathname) {
  for (const candidate of routes) {
    const found = candidate.regex.exec(pathname);
    if (found) {
      const params = {};
      candidate.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1]);
      });
      return { ...candidate, params };
    }
  }
  return null;
}

export async function render() {
  const token = ++current.token;
  if (typeof current.cleanup === "function") {
    try {
      current.cleanup();
    } catch (error) {
      console.error(error);
    }
  }
  current.cleanup = null;
  const found = match(location.pathname) || match("/404");
  const redirect = guard ? guard(found?.options || {}) : null;
  if (redirect && redirect !== location.pathname) {
    history.replaceState({}, "", redirect);
    return render();
  }
  const main = document.getElementById("main");
  const query = Object.fromEntries(new URLSearchParams(location.search));
  document.dispatchEvent(new CustomEvent("routechange", { detail: { path: location.pathname, options: found.options } }));
  const cleanup = await found.view({
    main,
    params: found.params,
    query,
    navigate,
    isCurrent: () => token === current.token,
  });
  if (token === current.token) current.cleanup = cleanup;
  else if (typeof cleanup === "function") cleanup();
}
