// The JSON API client: the access token lives in sessionStorage (gone when the tab closes), every
// failure becomes an ApiError carrying the server's {code, message, fields}, and a 401 on a
// signed-in call sends the user back to the login page.

const TOKEN_KEY = "jack.token";

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message || "Request failed.");
    this.status = status;
    this.code = code || "";
    this.fields = fields || null;
  }

  // unavailable: the route does not exist on this server yet (404 on the route itself, 501,
  // 503), so a page shows a note instead of an error.
  get unavailable() {
    return this.status === 501 || this.status === 503 || (this.status === 404 && this.message === "No such route.");
  }
}

let onUnauthorized = () => {};

// setUnauthorizedHandler sets what happens when a signed-in request answers 401.
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// request sends method path with an optional JSON body and answers {data, headers}.
export async function request(method, path, { body, query, headers } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const qs = q.toString();
    if (qs) url += "?" + qs;
  }
  const h = { Accept: "application/json", ...(headers || {}) };
  if (body !== undefined) h["Content-Type"] = "application/json";
  const t = token();
  if (t) h.Authorization = "Bearer " + t;

  let resp;
  try {
    resp = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection.");
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(resp.status, e.code, e.message || resp.statusText, e.fields);
    if (resp.status === 401 && t) onUnauthorized(err);
    throw err;
  }
  return { data, headers: resp.headers };
}

// blob fetches a binary resource with the bearer token (an <img> or a link cannot send it) and
// answers the Blob; failures are ApiErrors like request's.
export async function blob(path) {
  const t = token();
  let resp;
  try {
    resp = await fetch(path, { headers: t ? { Authorization: "Bearer " + t } : {}, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection.");
  }
  if (!resp.ok) {
    let e = {};
    try {
      e = (await resp.json()).error || {};
    } catch {
      // not a JSON error body
    }
    const err = new ApiError(resp.status, e.code, e.message || resp.statusText, e.fields);
    if (resp.status === 401 && t) onUnauthorized(err);
    throw err;
  }
  return resp.blob();
}

// upload POSTs file as the raw body (its own Content-Type) through XMLHttpRequest, the one
// browser API that reports upload progress: onProgress(fraction) as the bytes go. It answers
// the JSON reply; failures are ApiErrors like request's.
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    const t = token();
    if (t) xhr.setRequestHeader("Authorization", "Bearer " + t);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && e.total) onProgress(e.loaded / e.total); };
    xhr.upload.onload = () => onProgress(1);
    xhr.onerror = () => reject(new ApiError(0, "network", "Cannot reach the server. Check your connection."));
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      const e = (data && data.error) || {};
      const err = new ApiError(xhr.status, e.code, e.message || xhr.statusText, e.fields);
      if (xhr.status === 401 && t) onUnauthorized(err);
      reject(err);
    };
    xhr.send(file);
  });
}

export const get = (path, query) => request("GET", path, { query }).then((r) => r.data);
export const post = (path, body) => request("POST", path, { body: body || {} }).then((r) => r.data);

// The routes the dashboard uses, in one place.
export const api = {
  register: (b) => post("/api/auth/register", b),
  login: (b) => post("/api/auth/login", b),
  logout: () => post("/api/auth/logout"),
  me: () => get("/api/me"),
  users: () => get("/api/users"),
  createUser: (b) => post("/api/users", b),
  patchUser: (id, b) => request("PATCH", "/api/users/" + encodeURIComponent(id), { body: b }).then((r) => r.data),
  leads: (q) => get("/api/leads", q),
  inbox: (q) => get("/api/inbox", q),
  unread: () => get("/api/inbox/unread"),
  markRead: (id) => post("/api/leads/" + encodeURIComponent(id) + "/read"),
  lead: (id) => get("/api/leads/" + encodeURIComponent(id)),
  createLead: (b) => post("/api/leads", b),
  patchOrganization: (b) => request("PATCH", "/api/organization", { body: b }).then((r) => r.data),
  // patchLead is conditional on the version the form was built from: 409 if it changed since.
  patchLead: (id, version, b) =>
    request("PATCH", "/api/leads/" + encodeURIComponent(id), { body: b, headers: { "If-Match": `"${version}"` } }).then((r) => r.data),
  reminders: (id) => get("/api/leads/" + encodeURIComponent(id) + "/reminders"),
  cancelReminder: (id) => post("/api/reminders/" + encodeURIComponent(id) + "/cancel"),
  snoozeReminder: (id, until) => post("/api/reminders/" + encodeURIComponent(id) + "/snooze", { until }),
  notes: (id) => get("/api/leads/" + encodeURIComponent(id) + "/notes"),
  addNote: (id, body) => post("/api/leads/" + encodeURIComponent(id) + "/notes", { body }),
  messages: (id, cursor) => get("/api/leads/" + encodeURIComponent(id) + "/messages", { cursor }),
  sendSMS: (leadId, message, idempotencyKey, mediaUrls) =>
    post("/api/twilio/send-sms", { leadId, message, idempotencyKey, mediaUrls: mediaUrls && mediaUrls.length ? mediaUrls : undefined }),
  // media is attachment n of a message, fetched through the server (the provider's URL needs
  // the account's credentials).
  media: (messageId, n) => blob("/api/messages/" + encodeURIComponent(messageId) + "/media/" + n),
  setAI: (id, paused) => post("/api/leads/" + encodeURIComponent(id) + "/ai", { paused }),
  startCall: (leadId) => post("/api/elevenlabs/outbound-call", { leadId }),
  phoneNumbers: (orgId) => get("/api/organizations/" + encodeURIComponent(orgId) + "/phone-numbers"),
  importNumber: (orgId, b) => post("/api/organizations/" + encodeURIComponent(orgId) + "/phone-numbers", b),
  activateNumber: (phone, elevenLabsPhoneId) => post("/api/admin/phone-numbers/" + encodeURIComponent(phone) + "/activate", { elevenLabsPhoneId }),
  deactivateNumber: (phone) => post("/api/admin/phone-numbers/" + encodeURIComponent(phone) + "/deactivate"),
  purchaseNumber: (orgId, b) => post("/api/admin/organizations/" + encodeURIComponent(orgId) + "/phone-numbers/purchase", b),
  importLeads: (file, onProgress) => upload("/api/leads/import", file, onProgress),
  analytics: (from, to) => get("/api/analytics/summary", { from, to }),
  streamToken: () => post("/api/stream/token"),
  integrations: () => get("/api/integrations"),
  createIntegration: (b) => post("/api/integrations", b),
  patchIntegration: (id, b) => request("PATCH", "/api/integrations/" + encodeURIComponent(id), { body: b }).then((r) => r.data),
  deleteIntegration: (id) => request("DELETE", "/api/integrations/" + encodeURIComponent(id)).then((r) => r.data),
  testIntegration: (id) => post("/api/integrations/" + encodeURIComponent(id) + "/test"),
  deliveries: (id) => get("/api/integrations/" + encodeURIComponent(id) + "/deliveries"),
  redeliver: (id, deliveryId) => post("/api/integrations/" + encodeURIComponent(id) + "/deliveries/" + encodeURIComponent(deliveryId) + "/redeliver"),
};
