// Every call to the desk's API from the pages. `/board` and `/board/{n}` are both pages and API routes on the same
// host: the gateway sends a request whose Accept names text/html to the page, so every call here says it wants
// JSON, and only JSON.

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message || code);
    this.status = status;
    this.code = code;
    Object.assign(this, extra);
  }
}

/** fetch, JSON both ways; resolves to the parsed body, rejects with an ApiError carrying the desk's error code. */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "network error");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(response.status, e.code || `http_${response.status}`, e.message, { state: e.state });
  }
  return data;
}

let configPromise = null;

/** The city and the stack's settings (`/config.json`): districts, categories, agencies, the staff pool. */
export function config() {
  configPromise ||= api("/config.json").catch((e) => {
    configPromise = null;
    throw e;
  });
  return configPromise;
}

/** A fresh random UUID (crypto.randomUUID where the page is a secure context, else from getRandomValues). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
