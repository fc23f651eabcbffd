// Every call to the server: the key as "Authorization: Bearer", a 401 asks for a key and
// tries again, errors become ApiError with the server's message (OpenAI's error shape).
import { askForKey, currentKey } from "./key.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body?.error?.message || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

// fetch with the key. `askOn401: false` leaves a 401 to the caller (the metrics read).
export async function call(path, init = {}, { askOn401 = true } = {}) {
  for (;;) {
    const headers = new Headers(init.headers || {});
    const key = currentKey();
    if (key) headers.set("authorization", `Bearer ${key}`);
    const response = await fetch(path, { ...init, headers, cache: "no-store" });
    if (response.status === 401 && askOn401) {
      const message = await errorMessage(response);
      await askForKey(key ? `The server refused this key: ${message}` : "This server needs an API key.");
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    return response;
  }
}

export async function getJson(path) {
  return (await call(path)).json();
}

export async function postJson(path, body, init = {}) {
  return call(path, {
    ...init,
    method: "POST",
    headers: { "content-type": "application/json", ...(init.headers || {}) },
    body: JSON.stringify(body),
  });
}

// The `data:` payloads of a server-sent event stream, one string per event.
export async function* sseData(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.search(/\r?\n\r?\n/); end >= 0; end = buffer.search(/\r?\n\r?\n/)) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) yield data;
    }
  }
}

// A request id the server accepts (X-Request-Id: [A-Za-z0-9._:-]{1,128}); the page uses it
// to follow its own request in GET /v1/queue/{id} while it waits.
export function newRequestId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
