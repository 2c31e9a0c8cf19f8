// The leads workspace: the lead list (search, status chips, sort) and the conversation view
// (timeline, composer, AI controls, lead details). Views draw what app.js hands them and report
// the user's actions back; only the conversation talks to the API for its own actions.

import { api } from "./api.js";
import { appointmentSection } from "./calendar.js";
import {
  h, s, replace, toast, titleCase, formatPhone, formatTime, formatFull, ago, randomKey, formValues,
  showFieldErrors, CHASE_STATUSES, FUNDING, SENTIMENTS,
} from "./dom.js";

// ---------- shared bits ----------

// fillReply fills a canned reply's {firstName} and {vehicle} from the lead.
export function fillReply(body, lead) {
  const first = ((lead && lead.customerName) || "").trim().split(/\s+/)[0];
  const named = first && !/^[+(\d]/.test(first) ? first : "there"; // a name, not a phone shown as one
  return body.replaceAll("{firstName}", named).replaceAll("{vehicle}", (lead && lead.vehiclePreference) || "the vehicle you asked about");
}

export function leadName(lead) {
  return (lead.customerName || "").trim() || formatPhone(lead.phoneNumber) || "Unknown customer";
}

export function aiPaused(lead) {
  return !!lead.aiPausedUntil && new Date(lead.aiPausedUntil) > new Date();
}

// noActivity: nobody has talked to the lead yet and its import had no date (the server's
// jack.NoActivity, the start of Unix time).
export function noActivity(lead) {
  return (Date.parse(lead.lastActivity) || 0) <= 0;
}

function statusChip(status) {
  return h("span", { class: "chip chip-" + status }, titleCase(status));
}

// scoreChip shows the lead quality score (0–100), tinted hot, warm or cold; none until scored.
export function scoreChip(lead) {
  const score = lead.leadQualityScore;
  if (score === null || score === undefined) return null;
  const tier = score >= 70 ? "hot" : score >= 40 ? "warm" : "cold";
  return h("span", { class: "chip chip-score chip-score-" + tier, title: "Lead quality score (0–100): engagement, recency, qualification and calls" }, "Score " + Math.round(score));
}

function flagChips(lead) {
  return [
    lead.optedOutAt ? h("span", { class: "chip chip-danger" }, "Opted out") : null,
    aiPaused(lead) ? h("span", { class: "chip chip-warn" }, "AI paused") : null,
  ];
}

const ICONS = {
  clock: "M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13ZM8 4v4.3l2.8 1.7",
  tick: "M3 8.5l3 3 7-7",
  ticks: "M1 8.5l3 3 7-7M7.5 11.5l7-7",
  alert: "M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13ZM8 4.5v4M8 11v.5",
  phone: "M5 2h2l1 3-1.5 1a8 8 0 0 0 3.5 3.5L11 8l3 1v2a2 2 0 0 1-2 2A10 10 0 0 1 3 4a2 2 0 0 1 2-2Z",
  sms: "M2.5 3h11v8h-6l-3 2.5V11h-2Z",
  back: "M10 3L5 8l5 5",
  clip: "M10.5 4.5l-5 5a1.8 1.8 0 0 0 2.5 2.5l5.5-5.5a3 3 0 0 0-4.2-4.2L3.6 7.9a4.2 4.2 0 0 0 6 6l4-4",
  link: "M6.5 9.5l3-3M7 4.5l1.2-1.2a2.8 2.8 0 0 1 4 4L11 8.5M9 11.5l-1.2 1.2a2.8 2.8 0 0 1-4-4L5 7.5",
};

export function icon(name, label) {
  return s("svg", { class: "icon icon-" + name, viewBox: "0 0 16 16", width: 16, height: 16, "aria-hidden": label ? null : "true", role: label ? "img" : null, "aria-label": label || null, focusable: "false" },
    label ? s("title", {}, label) : null,
    s("path", { d: ICONS[name], fill: "none", stroke: "currentColor", "stroke-width": 1.6, "stroke-linecap": "round", "stroke-linejoin": "round" }));
}

// ---------- lead list ----------

// createLeadList returns {el, render(model)}. users: Map id → user (for the assignee filter).
// Callbacks: onSearch(q), onStatus(status), onSort(sort), onFilter({assignee|source|needsHuman}),
// onMore().
export function createLeadList({ users, onSearch, onStatus, onSort, onFilter, onMore, onCreate }) {
  let searchTimer = null;
  const search = h("input", {
    id: "lead-search", type: "search", placeholder: "Search", title: "Name, phone, email, or words in their messages", autocomplete: "off",
    oninput: (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => onSearch(e.target.value.trim()), 250);
    },
  });
  const sort = h("select", { id: "lead-sort", onchange: (e) => onSort(e.target.value) },
    h("option", { value: "activity" }, "Recent activity"),
    h("option", { value: "created" }, "Newest leads"),
    h("option", { value: "score" }, "Best first"));
  const chips = h("div", { class: "filter-chips", role: "group", "aria-label": "Filter by status" });
  const assignee = h("select", { id: "lead-assignee", onchange: (e) => onFilter({ assignee: e.target.value }) });
  const source = h("select", { id: "lead-source", onchange: (e) => onFilter({ source: e.target.value }) },
    h("option", { value: "" }, "All sources"), h("option", { value: "none" }, "Texted or called in"), h("option", { value: "csv" }, "CSV imports"));
  const human = h("button", { type: "button", class: "filter-chip chip-human", id: "needs-human", "aria-pressed": "false",
    onclick: () => onFilter({ needsHuman: human.getAttribute("aria-pressed") !== "true" }) }, "Needs a human");
  const filters = h("div", { class: "list-filters" },
    h("label", { class: "sr-only", for: "lead-assignee" }, "Assigned to"), assignee,
    h("label", { class: "sr-only", for: "lead-source" }, "Source"), source, human);
  const count = h("span", { class: "muted count" });
  const items = h("ul", { class: "lead-items", id: "lead-items" });
  const more = h("div", { class: "list-more" });
  const el = h("section", { class: "pane list-pane", "aria-label": "Leads" },
    h("div", { class: "list-head" },
      h("div", { class: "list-title" }, h("h1", {}, "Leads"), count,
        h("button", { type: "button", class: "btn btn-small new-lead", id: "new-lead", onclick: () => newLeadDialog(onCreate) }, "New lead")),
      h("div", { class: "list-tools" },
        h("label", { class: "sr-only", for: "lead-search" }, "Search leads"), search,
        h("label", { class: "sr-only", for: "lead-sort" }, "Sort leads"), sort),
      filters, chips),
    h("div", { class: "list-scroll" }, items, more));

  function render(m) {
    sort.value = m.filters.sort;
    const inbox = m.filters.sort === "activity"; // source and the queue are the inbox's
    replace(assignee, [["", "Everyone's"], ["mine", "Mine"], ["unassigned", "Unassigned"],
      ...[...users.values()].map((u) => [u.id, u.fullName || u.email])].map(([v, label]) =>
      h("option", { value: v, selected: v === m.filters.assignee }, label)));
    source.value = m.filters.source;
    source.disabled = !inbox;
    human.disabled = !inbox;
    human.setAttribute("aria-pressed", String(inbox && m.filters.needsHuman));
    if (document.activeElement !== search) search.value = m.filters.q;
    replace(chips, [["", "All"], ...CHASE_STATUSES.map((st) => [st, titleCase(st)])].map(([value, label]) =>
      h("button", { type: "button", class: "filter-chip", "aria-pressed": String(m.filters.status === value), onclick: () => onStatus(value) }, label)));
    count.textContent = m.order.length + (m.nextCursor ? "+" : "");

    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.leadId : null;
    replace(items, m.order.map((id) => leadItem(m.leads.get(id), id === m.openId, m.unread.get(id) || 0, m.previews.get(id), m.needsHuman.has(id))));
    if (!m.order.length) {
      const filtered = m.filters.q || m.filters.status || m.filters.assignee || m.filters.source || m.filters.needsHuman;
      items.append(h("li", { class: "empty" }, m.loading ? "Loading leads…" : filtered ? "No leads match." : "No leads yet. They appear here when a customer texts or calls your number."));
    }
    if (focused) {
      const again = items.querySelector(`[data-lead-id="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
    replace(more, m.nextCursor ? h("button", { type: "button", class: "btn btn-ghost", onclick: onMore }, "Load more") : null);
  }

  return { el, render };
}

// newLeadDialog asks for a name and a phone and creates the lead; onCreate(lead) opens it.
function newLeadDialog(onCreate) {
  const status = h("p", { class: "form-status", role: "status" });
  const form = h("form", { class: "new-lead-form", id: "new-lead-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(form);
    try {
      const lead = await api.createLead({ customerName: v.customerName, phoneNumber: v.phoneNumber });
      dialog.close();
      onCreate(lead);
    } catch (err) {
      if (err.status !== 401) status.textContent = showFieldErrors(form, err);
    }
  } },
  h("h2", { id: "new-lead-title" }, "New lead"),
  h("div", { class: "field" }, h("label", { for: "new-lead-name" }, "Name"), h("input", { id: "new-lead-name", name: "customerName", required: true, maxlength: 255, autocomplete: "off" })),
  h("div", { class: "field" }, h("label", { for: "new-lead-phone" }, "Mobile phone"), h("input", { id: "new-lead-phone", name: "phoneNumber", type: "tel", required: true, autocomplete: "off" })),
  h("div", { class: "form-actions" },
    h("button", { type: "submit", class: "btn btn-primary", id: "new-lead-save" }, "Create lead"),
    h("button", { type: "button", class: "btn btn-ghost", onclick: () => dialog.close() }, "Cancel")),
  status);
  const dialog = h("dialog", { class: "modal", "aria-labelledby": "new-lead-title" }, form);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  form.querySelector("input").focus();
}

function leadItem(lead, active, unread, preview, needsHuman) {
  const sub = [formatPhone(lead.phoneNumber), lead.vehiclePreference].filter(Boolean).join(" · ");
  const said = preview && (preview.content || "").trim();
  return h("li", {},
    h("a", { class: "lead-item", href: "#/leads/" + encodeURIComponent(lead.id), "aria-current": active ? "page" : null, dataset: { leadId: lead.id } },
      h("div", { class: "lead-top" },
        h("span", { class: "lead-name" }, leadName(lead)),
        noActivity(lead) ? h("span", { class: "lead-time muted" }, "No activity")
          : h("time", { class: "lead-time", datetime: lead.lastActivity, title: formatFull(lead.lastActivity) }, ago(lead.lastActivity))),
      h("div", { class: "lead-sub" }, sub),
      said ? h("div", { class: "lead-preview" + (unread ? " lead-preview-unread" : "") }, preview.sentBy === "user" ? "" : h("span", { class: "muted" }, "Sent: "), said) : null,
      h("div", { class: "lead-chips" }, statusChip(lead.chaseStatus), scoreChip(lead), flagChips(lead),
        needsHuman ? h("span", { class: "chip chip-human-flag" }, "Needs a human") : null,
        unread ? h("span", { class: "unread", "aria-label": unread + " unread" }, String(unread)) : null)));
}

// ---------- conversation ----------

const OUT_PENDING = new Set(["pending", "accepted", "scheduled", "queued", "sending"]);
const OUT_FAILED = new Set(["failed", "undelivered", "canceled"]);

function deliveryMark(status) {
  if (OUT_PENDING.has(status)) return h("span", { class: "ticks ticks-pending" }, icon("clock", "Sending"));
  if (status === "sent") return h("span", { class: "ticks" }, icon("tick", "Sent"));
  if (status === "delivered" || status === "partially_delivered") return h("span", { class: "ticks" }, icon("ticks", "Delivered"));
  if (status === "read") return h("span", { class: "ticks ticks-read" }, icon("ticks", "Read"));
  if (OUT_FAILED.has(status)) return h("span", { class: "ticks ticks-failed" }, icon("alert", "Not delivered"));
  // A crash left the send unrecorded and Twilio does not show it: it may not have gone out, and
  // it is never sent again, so staff decide.
  if (status === "unknown") return h("span", { class: "ticks ticks-failed", title: "Unknown: this text may not have been sent" }, icon("alert", "Unknown: may not have been sent"));
  return null;
}

// ---------- MMS attachments ----------

// An attachment of a customer's MMS lives at the provider behind the account's credentials, so
// the page fetches it through the server with the bearer token (an <img> cannot send one). The
// page's policy shows images only from itself or data: URLs, so a thumbnail is the fetched
// blob as a data: URL; downloads use a blob: URL. Fetches are cached (the timeline redraws
// often) and a failed one is retried on the next draw.
const mediaCache = new Map(); // "messageId/n" → Promise<{blob, src}>
const MEDIA_CACHE_MAX = 60;

function loadMedia(messageId, n, isImage) {
  const key = messageId + "/" + n;
  let p = mediaCache.get(key);
  if (!p) {
    p = api.media(messageId, n).then(async (blob) => ({ blob, src: isImage ? await dataURL(blob) : "" }));
    p.catch(() => mediaCache.delete(key));
    mediaCache.set(key, p);
    if (mediaCache.size > MEDIA_CACHE_MAX) mediaCache.delete(mediaCache.keys().next().value);
  }
  return p;
}

function dataURL(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

function mediaKind(contentType) {
  const t = (contentType || "").toLowerCase();
  if (t.startsWith("image/")) return "Photo";
  if (t.startsWith("video/")) return "Video";
  if (t.startsWith("audio/")) return "Audio";
  if (t === "application/pdf") return "PDF";
  if (t === "text/vcard" || t === "text/x-vcard") return "Contact card";
  return "File";
}

function mediaBlock(m) {
  const media = m.media || [];
  if (!media.length) return null;
  return h("div", { class: "msg-media" }, media.map((a, n) => attachment(m, a, n, media.length)));
}

function attachment(m, a, n, count) {
  const kind = mediaKind(a.contentType);
  const label = count > 1 ? `${kind} ${n + 1} of ${count}` : kind;
  if (m.sentBy !== "user") {
    // What the dealership sent: public URLs Twilio fetched, opened as they are.
    if (!/^https:\/\//i.test(a.url || "")) return h("span", { class: "media-chip" }, icon("clip"), label);
    return h("a", { class: "media-chip", href: a.url, target: "_blank", rel: "noopener noreferrer" }, icon("link"), label);
  }
  if (kind !== "Photo") {
    return h("button", { type: "button", class: "media-chip", title: "Download " + kind.toLowerCase(), onclick: () => downloadMedia(m.id, n, kind) }, icon("clip"), label);
  }
  const img = h("img", { class: "media-img", alt: label, decoding: "async" });
  const thumb = h("button", { type: "button", class: "media-thumb loading", title: "Open " + label.toLowerCase(), "aria-label": "Open " + label.toLowerCase() }, img);
  loadMedia(m.id, n, true).then(({ blob, src }) => {
    img.src = src;
    thumb.classList.remove("loading");
    thumb.addEventListener("click", () => openLightbox(blob, src, label));
  }).catch((err) => {
    thumb.replaceWith(h("span", { class: "media-chip media-missing", title: err.message }, icon("alert"), label + " unavailable"));
  });
  return thumb;
}

async function downloadMedia(messageId, n, kind) {
  try {
    const { blob } = await loadMedia(messageId, n, false);
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: fileName(kind.toLowerCase().replace(/\s+/g, "-") + "-" + (n + 1), blob) });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    if (err.status !== 401) toast(err.unavailable ? "Attachments are not available on this server." : err.message, "error");
  }
}

// fileName names a download after its type ("photo.jpeg", "pdf-2.pdf").
function fileName(base, blob) {
  const sub = ((blob.type || "").split(";")[0].split("/")[1] || "").replace(/^x-/, "");
  return /^[a-z0-9.+-]{1,10}$/i.test(sub) ? base + "." + sub : base;
}

function openLightbox(blob, src, label) {
  const url = URL.createObjectURL(blob);
  const dialog = h("dialog", { class: "lightbox", "aria-label": label },
    h("img", { src, alt: label }),
    h("div", { class: "lightbox-actions" },
      h("a", { class: "btn", href: url, download: fileName("photo", blob) }, "Download"),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => dialog.close() }, "Close")));
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => { dialog.remove(); URL.revokeObjectURL(url); });
  document.body.append(dialog);
  dialog.showModal();
}

// createConversation returns the view of one lead. ctx: {users: Map id→user, onBack(),
// onLead(lead)} — onLead is told of every newer lead it learns from its own actions.
export function createConversation(leadId, ctx) {
  let lead = null;
  let nextCursor = "";
  let formDirty = false;
  let formBase = null; // the lead as the details form was drawn: what a save diffs against
  // A send's idempotency key belongs to its text: a retry of the same text keeps it (the server
  // answers the first result), an edited text is a new message with a new key.
  let sendKey = randomKey();
  let keyText = null;
  let loadTries = 0;
  let retryTimer = null;
  const messages = new Map(); // id → message
  const nodes = new Map(); // id → element

  const title = h("h2", { id: "conv-title" }, "Loading…");
  const subline = h("div", { class: "conv-sub" });
  const aiBtn = h("button", { type: "button", class: "btn", id: "ai-toggle", onclick: toggleAI }, "Pause AI");
  const callBtn = h("button", { type: "button", class: "btn", id: "start-call", onclick: startCall }, icon("phone"), " Start AI call");
  const detailsBtn = h("button", { type: "button", class: "btn details-toggle", "aria-expanded": "false", "aria-controls": "lead-details", onclick: () => toggleDetails() }, "Details");
  const banners = h("div", { class: "banners" });
  const older = h("div", { class: "older" });
  const timeline = h("ol", { class: "timeline", id: "timeline", "aria-live": "polite", "aria-relevant": "additions" });
  const scroller = h("div", { class: "timeline-scroll", tabindex: "0", "aria-label": "Conversation" }, older, timeline);
  const jump = h("button", { type: "button", class: "jump", hidden: true, onclick: scrollToEnd }, "New messages ↓");

  const text = h("textarea", { id: "composer-text", name: "message", rows: 2, maxlength: 1600, placeholder: "Write a text to the customer…", onkeydown: composerKey, oninput: () => { counter.textContent = text.value.length + "/1600"; } });
  const counter = h("span", { class: "muted counter" }, "0/1600");
  const sendBtn = h("button", { type: "submit", class: "btn btn-primary", id: "composer-send" }, "Send");
  const composerNote = h("p", { class: "composer-note", id: "composer-note" }, "Sending a text pauses the AI for this conversation.");
  const canned = h("select", { id: "canned-reply", class: "canned", "aria-label": "Insert a saved reply", onchange: insertCanned });
  const composer = h("form", { class: "composer", onsubmit: send, "aria-label": "Reply by SMS" },
    h("label", { for: "composer-text", class: "sr-only" }, "Text message"),
    text,
    h("div", { class: "composer-side" }, sendBtn, counter),
    h("div", { class: "composer-tools" }, canned,
      h("button", { type: "button", class: "btn btn-ghost btn-small", id: "composer-note-add", title: "Keep the text as an internal note: shown to the team, never sent", onclick: addNote }, "Save as note"),
      composerNote));

  // A note is the team's: it goes in the timeline, never to the customer.
  async function addNote() {
    const body = text.value.trim();
    if (!body || !lead) return;
    try {
      const n = await api.addNote(leadId, body);
      if (text.value.trim() === body) {
        text.value = "";
        counter.textContent = "0/1600";
      }
      upsertMessage(noteItem(n), { follow: true });
      text.focus();
    } catch (err) {
      if (err.status !== 401) toast(err.unavailable ? "Notes are not available on this server." : err.message, "error");
    }
  }

  // Saved replies: picking one puts it in the composer with the lead's name and vehicle.
  function renderCanned() {
    const replies = (ctx.cannedReplies && ctx.cannedReplies()) || [];
    canned.hidden = !replies.length;
    replace(canned, h("option", { value: "" }, "Saved replies…"), replies.map((r, i) => h("option", { value: String(i) }, r.title)));
  }

  function insertCanned() {
    const r = ((ctx.cannedReplies && ctx.cannedReplies()) || [])[Number(canned.value)];
    canned.value = "";
    if (!r || text.disabled) return;
    text.value = fillReply(r.body, lead);
    counter.textContent = text.value.length + "/1600";
    text.focus();
  }

  const details = h("aside", { class: "conv-aside", id: "lead-details", "aria-label": "Lead details" });

  const el = h("section", { class: "pane detail-pane conv", "aria-labelledby": "conv-title" },
    h("header", { class: "conv-head" },
      h("a", { class: "btn btn-ghost back", href: "#/leads", onclick: (e) => { e.preventDefault(); ctx.onBack(); } }, icon("back"), h("span", {}, "Leads")),
      h("div", { class: "conv-who" }, title, subline),
      h("div", { class: "conv-actions" }, callBtn, aiBtn, detailsBtn)),
    banners,
    h("div", { class: "conv-body" },
      h("div", { class: "conv-main" }, appointmentSection(leadId).el, scroller, jump, composer),
      details));

  // Follow the newest message while the reader is at the end. Only the reader's own scrolling
  // (wheel, touch, keys, scrollbar) stops following; scrolls that layout causes (a rotated
  // phone, the keyboard opening, a banner appearing) are undone while following.
  let following = true;
  let gestureAt = 0;
  for (const type of ["wheel", "touchmove", "keydown", "pointerdown"]) {
    scroller.addEventListener(type, () => { gestureAt = Date.now(); }, { passive: true });
  }
  scroller.addEventListener("scroll", () => {
    if (nearBottom()) {
      following = true;
      jump.hidden = true;
    } else if (Date.now() - gestureAt < 1000) {
      following = false;
    } else if (following) {
      scroller.scrollTop = scroller.scrollHeight;
    }
  });
  new ResizeObserver(() => {
    if (following) scroller.scrollTop = scroller.scrollHeight;
  }).observe(scroller);

  // ----- data -----

  // load reads the lead and its latest messages. A failure other than "not found" retries by
  // itself, waiting longer each time (1 s, 2 s, 4 s … 30 s), and offers to retry at once.
  async function load() {
    clearTimeout(retryTimer);
    retryTimer = null;
    try {
      const [l, page, notes] = await Promise.all([api.lead(leadId), api.messages(leadId),
        api.notes(leadId).catch((err) => { if (err.unavailable) return { notes: [] }; throw err; })]);
      for (const n of notes.notes) messages.set("note:" + n.id, noteItem(n));
      if (!el.isConnected && loadTries > 0) return; // closed meanwhile
      loadTries = 0;
      composer.hidden = false;
      setLead(l);
      nextCursor = page.nextCursor || "";
      for (const m of page.messages) messages.set(m.id, m);
      renderTimeline();
      scrollToEnd();
    } catch (err) {
      if (err.status === 401) return;
      composer.hidden = true;
      if (err.status === 404) {
        replace(title, "Lead not found");
        replace(subline, err.message);
        return;
      }
      const wait = Math.min(30, 2 ** loadTries++);
      replace(title, "Could not load this lead");
      replace(subline, h("span", { class: "load-error", role: "status" }, `${err.message} Retrying in ${wait} s. `),
        h("button", { type: "button", class: "link", id: "conv-retry", onclick: load }, "Retry now"));
      retryTimer = setTimeout(() => { if (el.isConnected) load(); }, wait * 1000);
    }
  }

  async function loadOlder() {
    const before = scroller.scrollHeight - scroller.scrollTop;
    try {
      const page = await api.messages(leadId, nextCursor);
      nextCursor = page.nextCursor || "";
      for (const m of page.messages) messages.set(m.id, m);
      renderTimeline();
      scroller.scrollTop = scroller.scrollHeight - before; // keep the reader's place
    } catch (err) {
      if (err.status !== 401) toast(err.message, "error");
    }
  }

  function setLead(l) {
    if (lead && l.version < lead.version) return; // an older copy arriving late
    lead = l;
    replace(title, leadName(l));
    replace(subline,
      h("a", { href: "tel:" + l.phoneNumber, class: "phone" }, formatPhone(l.phoneNumber)),
      statusChip(l.chaseStatus), scoreChip(l), flagChips(l));
    const paused = aiPaused(l);
    aiBtn.textContent = paused ? "Resume AI" : "Pause AI";
    aiBtn.setAttribute("aria-pressed", String(paused));
    callBtn.disabled = !!l.optedOutAt;
    renderBanners();
    renderComposerState();
    if (!formDirty) renderDetails();
  }

  function renderBanners() {
    const list = [];
    if (lead.optedOutAt) {
      list.push(h("div", { class: "banner banner-danger", role: "status" },
        h("strong", {}, "Opted out. "),
        `The customer asked not to be texted (${formatFull(lead.optedOutAt)}). Texts and AI replies stay off until they text START.`));
    }
    if (aiPaused(lead) && !lead.optedOutAt) { // opted out says more: no texts at all
      list.push(h("div", { class: "banner banner-warn", role: "status" },
        h("strong", {}, "AI paused. "),
        `Staff has taken over; the assistant stays quiet until ${formatTime(lead.aiPausedUntil)}. `,
        h("button", { type: "button", class: "link", onclick: toggleAI }, "Resume AI now")));
    }
    replace(banners, list);
  }

  function renderComposerState() {
    const opted = !!lead.optedOutAt;
    text.disabled = opted;
    sendBtn.disabled = opted;
    text.placeholder = opted ? "Texting is off: the customer opted out." : "Write a text to the customer…";
    composerNote.textContent = opted
      ? "Sending is off: the customer opted out of texts."
      : aiPaused(lead) ? "The AI is paused; your texts go out as staff." : "Sending a text pauses the AI for this conversation.";
    composerNote.classList.toggle("composer-note-danger", opted);
  }

  // ----- timeline -----

  function sorted() {
    return [...messages.values()].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : 1));
  }

  function authorOf(m) {
    if (m.sentBy === "user") return "Customer";
    if (m.authorUserId) {
      const u = ctx.users.get(m.authorUserId);
      return "Staff · " + (u ? u.fullName || u.email : "team member");
    }
    return "AI assistant";
  }

  function bubble(m) {
    if (m.isNote) {
      const u = m.authorUserId && ctx.users.get(m.authorUserId);
      return h("li", { class: "msg msg-note", dataset: { noteId: m.noteId } },
        h("div", { class: "msg-meta" }, h("span", { class: "author" }, "Internal note · " + (u ? u.fullName || u.email : "team member"))),
        h("div", { class: "msg-body" }, m.content),
        h("div", { class: "msg-foot" }, h("time", { datetime: m.timestamp, title: formatFull(m.timestamp) }, formatTime(m.timestamp)), " · never sent"));
    }
    const out = m.sentBy !== "user";
    const failed = OUT_FAILED.has(m.status);
    const cls = ["msg", out ? "msg-out" : "msg-in", out ? (m.authorUserId ? "msg-staff" : "msg-ai") : "", failed ? "msg-failed" : "", "msg-" + m.type].filter(Boolean).join(" ");
    return h("li", { class: cls, dataset: { messageId: m.id, status: m.status || "" } },
      h("div", { class: "msg-meta" },
        h("span", { class: "channel channel-" + m.type }, icon(m.type === "voice" ? "phone" : "sms"), m.type === "voice" ? "Voice" : "SMS"),
        h("span", { class: "author" }, authorOf(m))),
      m.content ? h("div", { class: "msg-body" }, m.content) : null,
      mediaBlock(m),
      h("div", { class: "msg-foot" },
        h("time", { datetime: m.timestamp, title: formatFull(m.timestamp) }, formatTime(m.timestamp)),
        out && m.type === "sms" ? deliveryMark(m.status) : null),
      failed ? h("div", { class: "msg-error", role: "note" }, m.errorMessage || "Not delivered.", m.errorCode ? ` (code ${m.errorCode})` : "") : null);
  }

  function renderTimeline() {
    nodes.clear();
    const items = sorted().map((m) => {
      const node = bubble(m);
      nodes.set(m.id, node);
      return node;
    });
    if (!items.length) items.push(h("li", { class: "empty" }, "No messages yet. Send the first text below or start an AI call."));
    replace(timeline, items);
    replace(older, nextCursor ? h("button", { type: "button", class: "btn btn-ghost", onclick: loadOlder }, "Load older messages") : null);
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function scrollToEnd() {
    following = true;
    scroller.scrollTop = scroller.scrollHeight;
    jump.hidden = true;
  }

  // upsertMessage adds a new message or replaces an existing one (a status change) in place.
  function upsertMessage(m, { follow = false } = {}) {
    if (!m || m.leadId !== leadId) return;

    const known = messages.get(m.id);
    if (known && m.status && known.status && known.status !== m.status && rank(m.status) < rank(known.status)) {
      m = { ...m, status: known.status }; // a late status never moves a message back
    }
    messages.set(m.id, { ...(known || {}), ...m });
    const node = nodes.get(m.id);
    if (node) {
      const fresh = bubble(messages.get(m.id));
      nodes.set(m.id, fresh);
      node.replaceWith(fresh);
      return;
    }
    renderTimeline();
    if (following || follow) scrollToEnd();
    else jump.hidden = false;
  }

  function callNote(event) {
    const label = event.type === "call_started" ? "AI call started" : "Call ended";
    toast(`${label} · ${leadName(lead || {})}`);
    if (event.type === "call_ended") refreshLatest(); // the transcript's turns are stored by now
  }

  async function refreshLatest() {
    try {
      const page = await api.messages(leadId);
      for (const m of page.messages) upsertMessage(m);
    } catch {
      // the next event or a reload catches up
    }
  }

  // ----- actions -----

  function composerKey(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  }

  async function send(e) {
    e.preventDefault();
    const body = text.value.trim();
    if (!body || !lead || sendBtn.disabled) return;
    if (body !== keyText) {
      sendKey = randomKey(); // an edited text is another message, never the failed one again
      keyText = body;
    }
    sendBtn.disabled = true;
    text.focus();
    try {
      const d = await api.sendSMS(leadId, body, sendKey);
      sendKey = randomKey();
      keyText = null;
      if (text.value.trim() === body) { // what was typed during the send stays
        text.value = "";
        counter.textContent = "0/1600";
      }
      if (d.lead) {
        setLead(d.lead);
        ctx.onLead(d.lead);
      }
      upsertMessage(d.message, { follow: true });
    } catch (err) {
      if (err.status === 401) return;
      refreshLead(); // opted out, or a refused text that paused nothing: show the lead as it is
      if (err.code !== "quiet_hours") refreshLatest(); // a refused text shows red in the timeline
      toast(err.message, "error");
    } finally {
      sendBtn.disabled = !!(lead && lead.optedOutAt);
      if (!text.disabled && (document.activeElement === document.body || document.activeElement === sendBtn || !document.activeElement)) text.focus();
    }
  }

  async function refreshLead() {
    try {
      const l = await api.lead(leadId);
      setLead(l);
      ctx.onLead(l);
    } catch {
      // keep what we show
    }
  }

  async function toggleAI() {
    if (!lead) return;
    aiBtn.disabled = true;
    try {
      const l = await api.setAI(leadId, !aiPaused(lead));
      setLead(l);
      ctx.onLead(l);
      toast(aiPaused(l) ? "AI paused: you have the conversation." : "AI resumed.");
    } catch (err) {
      if (err.status !== 401) toast(err.message, "error");
    } finally {
      aiBtn.disabled = false;
    }
  }

  async function startCall() {
    if (!lead) return;
    callBtn.disabled = true;
    try {
      await api.startCall(leadId);
      toast("Calling " + leadName(lead) + "… the AI assistant is on the line.");
    } catch (err) {
      if (err.status === 401) return;
      toast(err.unavailable ? "AI calls are not set up on this server yet." : err.message, "error");
    } finally {
      callBtn.disabled = !!lead.optedOutAt;
    }
  }

  function toggleDetails(force) {
    const open = force === undefined ? !el.classList.contains("details-open") : force;
    el.classList.toggle("details-open", open);
    detailsBtn.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = details.querySelector("input, select, button");
      if (first) first.focus();
    }
  }

  // ----- lead details form -----

  function field(label, name, control) {
    return h("div", { class: "field" }, h("label", { for: "lead-" + name }, label), control);
  }

  function input(name, value, attrs = {}) {
    return h("input", { id: "lead-" + name, name, value: value || "", autocomplete: "off", ...attrs });
  }

  function select(name, value, options) {
    return h("select", { id: "lead-" + name, name },
      options.map(([v, label]) => h("option", { value: v, selected: v === (value || "") }, label)));
  }

  // The lead's scheduled follow-ups (the nurture cadence's next text), with cancel and snooze.
  const followUps = h("ul", { class: "follow-ups", id: "follow-ups" });
  async function loadFollowUps() {
    try {
      const { reminders } = await api.reminders(leadId);
      const pending = reminders.filter((r) => r.status === "pending");
      replace(followUps, pending.length ? pending.map(followUp) : h("li", { class: "muted" }, "None scheduled."));
    } catch (err) {
      if (err.status !== 401) replace(followUps, h("li", { class: "muted" }, err.unavailable ? "Follow-ups are not available on this server." : err.message));
    }
  }
  function followUp(r) {
    const act = (fn, done) => async () => {
      try {
        await fn();
        toast(done);
      } catch (err) {
        if (err.status !== 401) toast(err.message, "error");
      }
      loadFollowUps();
    };
    const tomorrow = () => new Date(Math.max(Date.now(), Date.parse(r.dueAt)) + 86400000).toISOString();
    return h("li", { class: "follow-up", dataset: { reminderId: r.id } },
      h("span", {}, "Follow-up " + (r.step + 1) + " · ", h("time", { datetime: r.dueAt, title: formatFull(r.dueAt) }, formatFull(r.dueAt))),
      h("span", { class: "follow-up-actions" },
        h("button", { type: "button", class: "btn btn-ghost btn-small follow-up-snooze", onclick: act(() => api.snoozeReminder(r.id, tomorrow()), "Follow-up moved a day later.") }, "Snooze 1 day"),
        h("button", { type: "button", class: "btn btn-ghost btn-small follow-up-cancel", onclick: act(() => api.cancelReminder(r.id), "Follow-up canceled.") }, "Cancel")));
  }

  function renderDetails() {
    const l = lead;
    formBase = l;
    loadFollowUps();
    const users = [...ctx.users.values()];
    const form = h("form", { class: "lead-form", id: "lead-form", novalidate: true, oninput: () => markDirty(true), onchange: () => markDirty(true), onsubmit: save },
      field("Customer name", "customerName", input("customerName", l.customerName, { maxlength: 255 })),
      field("Email", "email", input("email", l.email, { type: "email", maxlength: 255 })),
      field("Status", "chaseStatus", select("chaseStatus", l.chaseStatus, CHASE_STATUSES.map((v) => [v, titleCase(v)]))),
      field("Funding readiness", "fundingReadiness", select("fundingReadiness", l.fundingReadiness, FUNDING.map((v) => [v, titleCase(v)]))),
      field("Sentiment", "sentiment", select("sentiment", l.sentiment, SENTIMENTS.map((v) => [v, titleCase(v)]))),
      field("Vehicle of interest", "vehiclePreference", input("vehiclePreference", l.vehiclePreference, { maxlength: 255 })),
      field("Budget", "budgetRange", input("budgetRange", l.budgetRange, { maxlength: 100 })),
      field("Credit score range", "creditScoreRange", input("creditScoreRange", l.creditScoreRange, { maxlength: 50 })),
      field("Assigned to", "assignedTo", select("assignedTo", l.assignedTo, [["", "Unassigned"], ...users.map((u) => [u.id, u.fullName || u.email])])),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary", id: "lead-save", disabled: true }, "Save changes"),
        h("button", { type: "button", class: "btn btn-ghost", id: "lead-reset", disabled: true, onclick: () => { markDirty(false); renderDetails(); } }, "Discard")),
      h("div", { class: "form-conflict", id: "lead-conflict", role: "alert", hidden: true }),
      h("p", { class: "form-status", role: "status" }));

    const progress = l.scriptProgress || { currentStep: "", completedSteps: [] };
    const steps = ["contacted", "vehicle_interest", "budget", "credit", "appointment"];
    replace(details,
      h("div", { class: "aside-head" }, h("h3", {}, "Lead details"),
        h("button", { type: "button", class: "btn btn-ghost close-details", onclick: () => toggleDetails(false) }, "Close")),
      form,
      h("h3", {}, "Follow-ups"),
      followUps,
      h("h3", {}, "Script progress"),
      h("ol", { class: "steps" }, steps.map((st) => h("li", {
        class: (progress.completedSteps || []).includes(st) ? "done" : st === progress.currentStep ? "current" : "",
      }, titleCase(st)))),
      h("dl", { class: "facts" },
        fact("Phone", formatPhone(l.phoneNumber)),
        fact("Funding note", l.fundingReadinessReason),
        fact("Credit issues", (l.creditKnownIssues || []).join(", ")),
        fact("Conversations", String(l.totalConversations ?? 0)),
        fact("Last activity", noActivity(l) ? "None yet" : formatFull(l.lastActivity)),
        fact("Created", formatFull(l.createdAt))));
  }

  function fact(label, value) {
    return value ? [h("dt", {}, label), h("dd", {}, value)] : null;
  }

  function markDirty(dirty) {
    formDirty = dirty;
    for (const id of ["lead-save", "lead-reset"]) {
      const b = details.querySelector("#" + id);
      if (b) b.disabled = !dirty;
    }
  }

  // save sends only the fields the user changed since the form was drawn, conditional on the
  // version it was drawn from. On 409 it reads the lead again: when nobody else touched those
  // fields (the conversation moves the version on every text) it saves again on the new
  // version; otherwise it keeps the user's edits, shows what the other person changed, and
  // the next Save is on the version now shown.
  async function save(e) {
    e.preventDefault();
    const form = e.target;
    const body = changedFields(formValues(form), formBase);
    const status = form.querySelector(".form-status");
    const conflict = form.querySelector("#lead-conflict");
    status.textContent = "";
    if (!Object.keys(body).length) {
      markDirty(false);
      return;
    }
    try {
      let l;
      try {
        l = await api.patchLead(leadId, formBase.version, body);
      } catch (err) {
        if (err.status !== 409) throw err;
        const latest = await api.lead(leadId);
        const theirs = Object.keys(body).filter((k) => (latest[k] || "") !== (formBase[k] || ""));
        if (theirs.length) {
          formBase = latest;
          setLead(latest);
          ctx.onLead(latest);
          replace(conflict, h("strong", {}, "Not saved: someone else changed this lead. "),
            "Their version: ", theirs.map((k, i) => [i ? ", " : "", h("span", { class: "conflict-field" }, FIELD_LABELS[k] + " “" + shown(k, latest[k]) + "”")]),
            ". Your edits are kept below: Save to replace theirs, or Discard to keep them.");
          conflict.hidden = false;
          return;
        }
        l = await api.patchLead(leadId, latest.version, body);
      }
      conflict.hidden = true;
      markDirty(false);
      setLead(l);
      ctx.onLead(l);
      renderDetails();
      toast("Lead saved.");
    } catch (err) {
      if (err.status === 401) return;
      status.textContent = err.status === 409 ? "Someone else is changing this lead right now; try Save again." : showFieldErrors(form, err);
    }
  }

  function shown(k, v) {
    if (k === "assignedTo") {
      const u = v && ctx.users.get(v);
      return v ? (u ? u.fullName || u.email : "a team member") : "Unassigned";
    }
    return v || "(empty)";
  }

  renderCanned();
  load();

  return {
    el,
    leadId,
    // onEvent applies a stream event about this lead.
    onEvent(event) {
      if (event.leadId !== leadId) return;
      switch (event.type) {
        case "sms_received":
        case "sms_sent":
        case "sms_status":
          upsertMessage(event.data);
          break;
        case "lead_updated":
          if (event.data) setLead(event.data);
          break;
        case "call_started":
        case "call_ended":
          callNote(event);
          break;
      }
    },
    setUsers() {
      if (lead && !formDirty) renderDetails();
      renderTimeline();
    },
  };
}

// noteItem is a note as the timeline holds it, beside the messages.
function noteItem(n) {
  return { id: "note:" + n.id, noteId: n.id, isNote: true, leadId: n.leadId, content: n.body, timestamp: n.createdAt, authorUserId: n.authorUserId };
}

const FIELD_LABELS = {
  customerName: "Customer name", email: "Email", chaseStatus: "Status", fundingReadiness: "Funding readiness",
  sentiment: "Sentiment", vehiclePreference: "Vehicle of interest", budgetRange: "Budget", creditScoreRange: "Credit score range",
  assignedTo: "Assigned to",
};

// changedFields is the PATCH body of a lead form: the values v that differ from the lead base
// the form was drawn from ("assignedTo": null unassigns).
export function changedFields(v, base) {
  const body = {};
  for (const k of Object.keys(FIELD_LABELS)) {
    if ((v[k] || "") !== (base[k] || "")) body[k] = k === "assignedTo" ? v[k] || null : v[k];
  }
  return body;
}

const RANK = { pending: 0, unknown: 1, accepted: 1, scheduled: 1, queued: 2, sending: 3, receiving: 3, sent: 4, received: 5, partially_delivered: 5, delivered: 6, undelivered: 6, failed: 6, canceled: 6, read: 7 };

function rank(status) {
  return RANK[status] ?? 0;
}
