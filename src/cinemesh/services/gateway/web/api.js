// The gateway's public API (/api/v1), the signed-in session and the chosen profile.

const TOKENS_KEY = "cinemesh.tokens";
const PROFILE_KEY = "cinemesh.profile";

export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message || code || `request failed (${status})`);
    this.status = status;
    this.code = code || "";
    this.body = body;
  }
}

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

export const session = {
  get tokens() {
    return readJson(TOKENS_KEY);
  },
  set tokens(value) {
    if (value) localStorage.setItem(TOKENS_KEY, JSON.stringify(value));
    else localStorage.removeItem(TOKENS_KEY);
  },
  get signedIn() {
    return Boolean(this.tokens?.access_token);
  },
  get profile() {
    return readJson(PROFILE_KEY);
  },
  set profile(value) {
    if (value) localStorage.setItem(PROFILE_KEY, JSON.stringify(value));
    else localStorage.removeItem(PROFILE_KEY);
    document.dispatchEvent(new CustomEvent("profilechange"));
  },
};

let refreshing = null;

async function refreshTokens() {
  const refreshToken = session.tokens?.refresh_token;
  if (!refreshToken) return false;
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  })
    .then(async (response) => {
      if (!response.ok) return false;
      session.tokens = await response.json();
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function request(method, path, { body, query, auth = true, retry = true, signal, keepalive } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && session.tokens?.access_token) headers.Authorization = `Bearer ${session.tokens.access_token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      keepalive,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", "cinemesh can't be reached; check your connection");
  }
  if (response.status === 401 && auth && retry && (await refreshTokens())) {
    return request(method, path, { body, query, auth, retry: false, signal, keepalive });
  }
  if (response.status === 401 && auth) {
    session.tokens = null;
    document.dispatchEvent(new CustomEvent("signedout"));
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error || {};
    throw new ApiError(response.status, error.code, error.message || response.statusText, data);
  }
  return data;
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options) => request("POST", path, { ...options, body }),
  put: (path, body, options) => request("PUT", path, { ...options, body }),
  patch: (path, body, options) => request("PATCH", path, { ...options, body }),
  del: (path, options) => request("DELETE", path, options),
};

export async function signUp({ email, password, plan }) {
  await request("POST", "/auth/signup", { body: { email, password, plan }, auth: false });
  return signIn({ email, password });
}

export async function signIn({ email, password }) {
  session.tokens = await request("POST", "/auth/login", { body: { email, password }, auth: false });
  session.profile = null;
  return session.tokens;
}

export async function signOut() {
  const refreshToken = session.tokens?.refresh_token;
  session.tokens = null;
  session.profile = null;
  if (refreshToken) {
    await request("POST", "/auth/logout", { body: { refresh_token: refreshToken }, auth: false }).catch(() => {});
  }
}

export function listItems(body) {
  if (Array.isArray(body)) return body;
  for (const key of ["items", "profiles", "titles", "hits", "genres"]) {
    if (Array.isArray(body?.[key])) return body[key];
  }
  return [];
}

export const enc = encodeURIComponent;
