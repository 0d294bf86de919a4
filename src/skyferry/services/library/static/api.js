// What both pages share: the API's address, the optional API key, and reading errors.
//
// Every URL is built relative to the page (body[data-root]), never from "/", so the pages keep
// working when the app is served under a path prefix.

const KEY_STORAGE = "skyferry.apiKey";

/** The absolute URL of an API path such as "upload" or "data/<uuid>". */
export function apiUrl(path) {
  return new URL(path, new URL(document.body.dataset.root, window.location.href)).href;
}

function apiKey() {
  try {
    return window.localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled (private mode, strict settings): no key, as without one
  }
}

/** An error a person can act on, carrying the HTTP status when there was an answer. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// problem+json has "detail"; FastAPI's validation errors have "detail" as a list of errors
function describe(body, response) {
  const detail = body && body.detail;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((e) => (e && e.msg) || String(e)).join("; ");
  }
  if (body && typeof body.title === "string") return body.title;
  if (response.status === 401) return "This server needs an API key";
  return `The server answered ${response.status} ${response.statusText}`.trim();
}

/** fetch() with the API key; answers {status, body} or throws ApiError for 4xx/5xx. */
export async function request(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Accept", "application/json");
  const key = apiKey();
  if (key) headers.set("X-API-Key", key);
  let response;
  try {
    response = await fetch(apiUrl(path), { ...options, headers });
  } catch {
    throw new ApiError("The server cannot be reached; check your connection.", 0);
  }
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    let message = describe(body, response);
    if (response.status === 401) {
      openKeyPanel();
      message = `${message.replace(/\.$/, "")}. Enter a key under "API key" below.`;
    }
    throw new ApiError(message, response.status);
  }
  return { status: response.status, body };
}

function openKeyPanel() {
  const panel = document.getElementById("api-key-panel");
  if (panel) panel.open = true;
}

/** Wire the API key form: saves (or, when emptied, forgets) the key in localStorage. */
export function setUpKeyForm(onSaved) {
  const form = document.getElementById("api-key-form");
  const input = document.getElementById("api-key");
  input.value = apiKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      const value = input.value.trim();
      if (value) window.localStorage.setItem(KEY_STORAGE, value);
      else window.localStorage.removeItem(KEY_STORAGE);
    } catch {
      // storage disabled: nothing to keep it in
    }
    document.getElementById("api-key-panel").open = false;
    if (onSaved) onSaved();
  });
}

/** Show a message in the page's error box (or hide it with null). */
export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}
