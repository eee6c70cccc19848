// The gateway's API as the page uses it: same origin, the key in the Authorization header
// only (never in a URL), problem+json answers turned into ApiError.

const KEY = "training-gateway.api-key";
const ADMIN_KEY = "training-gateway.admin-key";

/** The keys, kept in this tab's session storage: closing the tab forgets them. */
export const keys = {
  get api() { return sessionStorage.getItem(KEY) || ""; },
  get admin() { return sessionStorage.getItem(ADMIN_KEY) || ""; },
  set(api, admin) {
    sessionStorage.setItem(KEY, api);
    if (admin) sessionStorage.setItem(ADMIN_KEY, admin);
    else sessionStorage.removeItem(ADMIN_KEY);
  },
  forget() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ADMIN_KEY);
  },
};

/** A refusal or failure of the API, from its RFC 9457 problem document when it sent one. */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem.detail || problem.title || `HTTP ${status}`;
    const where = problem.field ? ` (${problem.field})` : problem.provider ? ` (${problem.provider})` : "";
    super(`${problem.title || "Error"}: ${detail}${where}`);
    this.status = status;
    this.problem = problem;
  }
}

function url(path, params) {
  const target = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) target.searchParams.append(name, one);
  }
  return target;
}

async function call(method, path, { params, body, key } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${key ?? keys.api}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ApiError(response.status, typeof payload === "object" ? payload : { detail: payload });
  }
  return payload;
}

export const api = {
  get: (path, params, key) => call("GET", path, { params, key }),
  post: (path, body, params) => call("POST", path, { body, params }),
  delete: (path) => call("DELETE", path),
};
