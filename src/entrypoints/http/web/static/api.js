// The public API, as any client uses it: JSON requests with a bearer key, errors as {detail, field},
// and Server-Sent Events read from a fetch body (EventSource cannot POST).

export class ApiError extends Error {
  constructor(status, detail, field) {
    super(detail);
    this.status = status;
    this.field = field;
  }
}

export async function request(path, { method = "GET", key, body, headers = {}, signal } = {}) {
  const all = { Accept: "application/json", ...headers };
  if (key) all.Authorization = `Bearer ${key}`;
  if (body !== undefined) all["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers: all,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function json(path, options) {
  const response = await request(path, options);
  return { data: await response.json(), response };
}

async function errorOf(response) {
  let detail = `HTTP ${response.status}`;
  let field;
  try {
    const body = await response.json();
    detail = body.detail ?? body.error?.message ?? detail;
    field = body.field ?? body.error?.param ?? undefined;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, detail, field);
}

// Yields {id, event, data} for every event of a text/event-stream body; ends when the body ends.
export async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseBlock(block);
        if (event) yield event;
      }
    }
  } finally {
    reader.cancel().catch(() => {}); // closes the connection when the reader stops early
  }
}

function parseBlock(block) {
  let id = null;
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "id") id = value;
    else if (name === "event") event = value;
    else if (name === "data") data.push(value);
  }
  return data.length ? { id, event, data: data.join("\n") } : null;
}

// "<session_id>:<index>" -> index (the session id may itself contain colons).
export function eventIndex(id) {
  if (!id) return null;
  const index = Number(id.slice(id.lastIndexOf(":") + 1));
  return Number.isInteger(index) ? index : null;
}
