// The page's only way to the server: POST /api/<action> with JSON; the server computes, the page draws.

export class ApiError extends Error {
  constructor(message, status, expired) { super(message); this.status = status; this.expired = expired; }
}

export const stats = { bytes: 0 };  // the size of the last JSON answer, shown in the footer

export async function post(action, body) {
  const response = await fetch(`/api/${action}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (action === "export" && response.ok) return await response.blob();
  const text = await response.text();
  stats.bytes = text.length;
  let data;
  try { data = JSON.parse(text); } catch { throw new ApiError(`the server answered ${response.status}`, response.status); }
  if (!response.ok) throw new ApiError(data.error || `error ${response.status}`, response.status, !!data.expired);
  return data;
}
