// The dashboard's entry point: the session (who is signed in, staff list, live stream), the
// page shell and the hash router (#/leads, #/leads/<id>, #/numbers, #/import, #/analytics, #/settings, #/login). It
// owns the lead list's model and feeds every stream event to the list and the open conversation.

import { api, token, setToken, setUnauthorizedHandler } from "./api.js";
import { createStream } from "./stream.js";
import { createLeadList, createConversation } from "./views.js";
import { authPage, phoneNumbersPage, analyticsPage, logo } from "./pages.js";
import { settingsPage } from "./settings.js";
import { calendarPage, calendarEvent } from "./calendar.js";
import { importPage } from "./import.js";
import { startNotifier, stopNotifier, notifyEvent, notifyControls } from "./notify.js";
import { h, replace, toast } from "./dom.js";

const root = document.getElementById("app");
const baseTitle = document.title;

let session = null; // {me, users: Map, stream, shell}
let workspace = null; // {el, list, conv, detail}
let authNotice = "";

const model = {
  leads: new Map(),
  order: [],
  nextCursor: "",
  filters: { q: "", status: "", sort: "activity", assignee: "", source: "", needsHuman: false },
  openId: null,
  unread: new Map(), // lead id → unread customer messages, as the server keeps them for this user
  previews: new Map(), // lead id → its last message {content, sentBy, timestamp}
  needsHuman: new Set(), // lead ids the server says need a human
  loading: false,
};

function resetModel() {
  model.leads.clear();
  model.order = [];
  model.nextCursor = "";
  model.openId = null;
  model.unread.clear();
  model.previews.clear();
  model.needsHuman.clear();
}

// ---------- session ----------

async function startSession(me) {
  if (!me) me = await api.me();
  session = { me, users: new Map(), stream: null, shell: null };
  loadUsers();
  startNotifier(me.user.id, wantsNotice);
  session.stream = createStream({ onEvent: handleEvent, onState: showLive });
  session.stream.start();
}

async function loadUsers() {
  const sess = session;
  try {
    const { users } = await api.users();
    // Filled in place: open conversations hold this map.
    sess.users.clear();
    for (const u of users) sess.users.set(u.id, u);
    if (workspace && workspace.conv) workspace.conv.setUsers();
  } catch {
    sess.users.set(sess.me.user.id, sess.me.user);
  }
}

function endSession(notice) {
  if (session && session.stream) session.stream.stop();
  stopNotifier();
  session = null;
  workspace = null;
  resetModel();
  setToken("");
  authNotice = notice || "";
  document.title = baseTitle;
  if (location.hash !== "#/login") location.hash = "#/login";
  else route();
}

// signOut also asks the server to clear its session cookie; the page forgets the token either way.
function signOut() {
  api.logout().catch(() => {});
  endSession("You signed out.");
}

setUnauthorizedHandler(() => {
  if (session) endSession("Your session ended. Please sign in again.");
});

// ---------- shell ----------

const NAV = [["leads", "Leads"], ["calendar", "Calendar"], ["numbers", "Phone numbers"], ["import", "Import"], ["analytics", "Analytics"], ["settings", "Settings"]];

function buildShell() {
  const live = h("span", { class: "live", id: "live", role: "status", title: "Live updates" }, h("span", { class: "dot" }), h("span", { class: "live-text" }, "Connecting…"));
  const nav = h("nav", { class: "nav", "aria-label": "Main" },
    NAV.map(([key, label]) => h("a", { href: "#/" + key, dataset: { page: key } }, label)));
  const u = session.me.user;
  const header = h("header", { class: "topbar" },
    h("a", { class: "brand", href: "#/leads" }, logo(), h("span", {}, "Jack")),
    h("span", { class: "org", title: "Dealership" }, session.me.organization.name),
    nav,
    h("div", { class: "topbar-end" }, live, notifyControls(),
      h("span", { class: "who", title: u.email }, u.fullName || u.email),
      h("button", { type: "button", class: "btn btn-ghost btn-small", id: "sign-out", onclick: signOut }, "Sign out")));
  const slot = h("div", { class: "slot" });
  session.shell = { el: h("div", { class: "shell" }, header, slot), nav, slot, live };
}

function showLive(state) {
  if (!session || !session.shell) return;
  const text = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", unavailable: "Live updates off" }[state] || state;
  session.shell.live.dataset.state = state;
  session.shell.live.querySelector(".live-text").textContent = text;
}

function mountShell(page) {
  if (!session.shell) buildShell();
  if (root.firstChild !== session.shell.el) replace(root, session.shell.el);
  for (const a of session.shell.nav.querySelectorAll("a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  root.removeAttribute("aria-busy");
}

// ---------- leads workspace ----------

function matches(lead) {
  const f = model.filters;
  if (f.status && lead.chaseStatus !== f.status) return false;
  if (f.assignee === "mine" && lead.assignedTo !== session.me.user.id) return false;
  if (f.assignee === "unassigned" && lead.assignedTo) return false;
  if (f.assignee && f.assignee !== "mine" && f.assignee !== "unassigned" && lead.assignedTo !== f.assignee) return false;
  if (!f.q) return true;
  const q = f.q.toLowerCase();
  return [lead.customerName, lead.phoneNumber, lead.email].some((v) => (v || "").toLowerCase().includes(q)) ||
    (lead.phoneNumber || "").replace(/\D/g, "").includes(q.replace(/\D/g, "") || "\u0000");
}

// upsertLead puts a newer copy of a lead into the list where its sort puts it: by its last
// activity when the list is sorted so (an imported lead with an old date goes down the list,
// or stays on a later page), first when it is new to a list of newest leads, and a list
// sorted by score stays so.
function upsertLead(lead) {
  const known = model.leads.get(lead.id);
  if (known && known.version > lead.version) return;
  if (!matches(lead)) {
    if (known) forgetLead(lead.id);
    return;
  }
  model.leads.set(lead.id, lead);
  if (model.filters.sort === "activity") {
    const rest = model.order.filter((id) => id !== lead.id);
    const when = (l) => Date.parse(l.lastActivity) || 0;
    const at = rest.findIndex((id) => when(model.leads.get(id)) < when(lead));
    if (at < 0 && model.nextCursor) forgetLead(lead.id); // it belongs to a page not loaded yet
    else model.order = at < 0 ? [...rest, lead.id] : [...rest.slice(0, at), lead.id, ...rest.slice(at)];
    return;
  }
  if (!known) model.order.unshift(lead.id);
  if (model.filters.sort === "score") sortByScore();
}

function forgetLead(id) {
  model.leads.delete(id);
  model.order = model.order.filter((x) => x !== id);
}

// sortByScore keeps a "Best first" list in order as scores change: best first, unscored last,
// ties as they were.
function sortByScore() {
  const score = (id) => model.leads.get(id)?.leadQualityScore ?? -1;
  model.order.sort((a, b) => score(b) - score(a));
}

function renderList() {
  if (workspace) workspace.list.render(model);
  const unread = [...model.unread.values()].reduce((a, b) => a + b, 0);
  document.title = (unread ? `(${unread}) ` : "") + baseTitle;
}

let loadSeq = 0;
async function loadLeads(more) {
  const seq = ++loadSeq;
  model.loading = true;
  if (!more) {
    model.leads.clear();
    model.order = [];
    model.nextCursor = "";
  }
  renderList();
  try {
    const f = model.filters;
    const cursor = more ? model.nextCursor : "";
    let leads;
    let nextCursor;
    if (f.sort === "activity") {
      // The inbox: previews, this user's unread counts and the needs-a-human flag.
      const page = await api.inbox({ q: f.q, status: f.status, assignee: f.assignee, source: f.source, needsHuman: f.needsHuman ? "true" : "", cursor, limit: 50 });
      if (seq !== loadSeq) return; // a newer search replaced this one
      leads = page.items.map((it) => it.lead);
      for (const it of page.items) {
        if (it.lastMessage) model.previews.set(it.lead.id, it.lastMessage);
        if (it.unread && it.lead.id !== model.openId) model.unread.set(it.lead.id, it.unread);
        else model.unread.delete(it.lead.id);
        if (it.needsHuman) model.needsHuman.add(it.lead.id);
        else model.needsHuman.delete(it.lead.id);
      }
      nextCursor = page.nextCursor;
    } else {
      const assignedTo = f.assignee === "mine" ? session.me.user.id : f.assignee === "unassigned" ? "" : f.assignee;
      const page = await api.leads({ q: f.q, status: f.status, sort: f.sort, assignedTo, cursor, limit: 50 });
      if (seq !== loadSeq) return;
      leads = page.leads;
      nextCursor = page.nextCursor;
    }
    for (const l of leads) {
      if (!model.leads.has(l.id)) model.order.push(l.id);
      model.leads.set(l.id, l);
    }
    model.nextCursor = nextCursor || "";
  } catch (err) {
    if (err.status !== 401) toast(err.message, "error");
  } finally {
    if (seq === loadSeq) {
      model.loading = false;
      renderList();
    }
  }
}

function buildWorkspace() {
  const list = createLeadList({
    users: session.users,
    onSearch: (q) => { model.filters.q = q; loadLeads(false); },
    onStatus: (st) => { model.filters.status = st; loadLeads(false); },
    onSort: (sort) => { model.filters.sort = sort; loadLeads(false); },
    onFilter: (change) => { Object.assign(model.filters, change); loadLeads(false); },
    onCreate: (lead) => { upsertLead(lead); renderList(); location.hash = "#/leads/" + encodeURIComponent(lead.id); },
    onMore: () => loadLeads(true),
  });
  const detail = h("div", { class: "detail-slot" });
  const el = h("main", { class: "workspace", id: "main" }, list.el, detail);
  workspace = { el, list, detail, conv: null };
  loadLeads(false);
}

function emptyDetail() {
  return h("section", { class: "pane detail-pane placeholder" },
    h("div", {}, h("h2", {}, "Pick a lead"), h("p", { class: "muted" }, "Their texts and calls show here as they happen. New leads appear at the top of the list.")));
}

function showLeads(id) {
  if (!workspace) buildWorkspace();
  replace(session.shell.slot, workspace.el);
  model.openId = id || null;
  workspace.el.classList.toggle("has-detail", !!id);
  if (!id) {
    workspace.conv = null;
    replace(workspace.detail, emptyDetail());
  } else if (!workspace.conv || workspace.conv.leadId !== id) {
    workspace.conv = createConversation(id, {
      users: session.users,
      cannedReplies: () => (session && session.me.organization.settings && session.me.organization.settings.cannedReplies) || [],
      onBack: () => { location.hash = "#/leads"; },
      onLead: (l) => { upsertLead(l); renderList(); },
    });
    replace(workspace.detail, workspace.conv.el);
  }
  if (id) markRead(id);
  renderList();
}

// markRead tells the server this user read the lead (every tab and device then agrees) and
// the other tabs of this browser at once.
function markRead(id) {
  const had = model.unread.delete(id);
  if (had || !readSent.has(id)) {
    readSent.add(id);
    api.markRead(id).catch(() => {});
    if (tabs) tabs.postMessage({ type: "read", leadId: id });
  }
}
const readSent = new Set(); // leads marked read since their last unread text

// tabs carries read marks between this browser's tabs of the dashboard.
const tabs = typeof BroadcastChannel === "function" ? new BroadcastChannel("jack-dashboard") : null;
if (tabs) {
  tabs.onmessage = (e) => {
    const m = e.data || {};
    if (m.type === "read" && model.unread.delete(m.leadId)) renderList();
  };
}

// syncUnread reads this user's unread counts from the server: another device may have read
// (or this one missed) some.
async function syncUnread() {
  if (!session || model.filters.sort !== "activity") return;
  try {
    const { leads } = await api.unread();
    model.unread.clear();
    for (const [id, n] of Object.entries(leads || {})) if (id !== model.openId || document.hidden) model.unread.set(id, n);
    renderList();
  } catch {
    // the next sync catches up
  }
}
window.addEventListener("focus", syncUnread);

// ---------- events ----------

const ACTIVITY = new Set(["sms_received", "sms_sent", "call_started", "call_ended"]);

async function handleEvent(ev) {
  calendarEvent(ev);
  notifyEvent(ev);
  if (!ev || !ev.leadId) return;
  if (workspace && workspace.conv) workspace.conv.onEvent(ev);

  const known = model.leads.get(ev.leadId);
  if (ev.type === "lead_updated" && ev.data && ev.data.id) {
    upsertLead(ev.data);
  } else if (known && ACTIVITY.has(ev.type)) {
    upsertLead({ ...known, lastActivity: ev.timestamp || known.lastActivity });
  } else if (!known && ACTIVITY.has(ev.type)) {
    try {
      upsertLead(await api.lead(ev.leadId)); // a lead this list has not seen: a new customer
    } catch {
      return;
    }
  }
  if ((ev.type === "sms_received" || ev.type === "sms_sent") && ev.data && ev.data.content !== undefined) {
    model.previews.set(ev.leadId, { content: ev.data.content, sentBy: ev.data.sentBy, timestamp: ev.data.timestamp });
    if (ev.type === "sms_sent") model.needsHuman.delete(ev.leadId);
  }
  if (ev.type === "sms_received") {
    readSent.delete(ev.leadId);
    if (ev.leadId !== model.openId || document.hidden) model.unread.set(ev.leadId, (model.unread.get(ev.leadId) || 0) + 1);
    else markRead(ev.leadId);
    const f = model.filters;
    if (f.needsHuman || f.source) reloadSoon(); // the server decides those
  }
  renderList();
}

// wantsNotice answers the notification for a customer's text (an sms_received event) when its
// conversation is assigned to this user or needs a human (the server decides that), else null.
async function wantsNotice(ev) {
  if (!session) return null;
  const lead = model.leads.get(ev.leadId) || await api.lead(ev.leadId);
  const body = (ev.data && ev.data.content) || ev.message || "New text";
  const title = "Text from " + ((lead.customerName || "").trim() || "a customer");
  if (lead.assignedTo && lead.assignedTo === session.me.user.id) return { title, body };
  const page = await api.inbox({ q: lead.phoneNumberNormalized || lead.phoneNumber, needsHuman: "true", limit: 10 });
  const item = page.items.find((it) => it.lead.id === ev.leadId);
  return item ? { title: title + " (needs a human)", body } : null;
}

let reloadTimer = null;
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadLeads(false), 300);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  if (model.openId && model.unread.has(model.openId)) {
    markRead(model.openId);
    renderList();
  }
  syncUnread();
});

// ---------- keyboard ----------

// j/k open the next/previous conversation of the list, / searches, Esc leaves a field or
// closes the conversation; Enter sends from the composer (views.js).
document.addEventListener("keydown", (e) => {
  if (!session || !workspace || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  if (session.shell.page !== "leads" || document.querySelector("dialog[open]")) return;
  const t = e.target;
  const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  if (e.key === "Escape") {
    if (typing) t.blur();
    else if (model.openId) location.hash = "#/leads";
    return;
  }
  if (typing) return;
  if (e.key === "/") {
    e.preventDefault();
    const search = document.getElementById("lead-search");
    if (search) search.focus();
  } else if (e.key === "j" || e.key === "k") {
    const at = model.order.indexOf(model.openId);
    const next = model.order[e.key === "j" ? at + 1 : at < 0 ? 0 : at - 1];
    if (next) location.hash = "#/leads/" + encodeURIComponent(next);
  }
});

// ---------- router ----------

async function route() {
  const [page = "leads", id] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);

  if (page === "login" || page === "register") {
    if (token() && session) {
      location.hash = "#/leads";
      return;
    }
    const notice = authNotice;
    authNotice = "";
    replace(root, authPage(page, {
      notice,
      onSignedIn: async (answer) => {
        await startSession({ user: answer.user, organization: answer.organization });
        location.hash = "#/leads";
      },
    }));
    root.removeAttribute("aria-busy");
    const first = root.querySelector("input");
    if (first) first.focus();
    return;
  }

  if (!token()) {
    location.hash = "#/login";
    return;
  }
  if (!session) {
    try {
      await startSession();
    } catch (err) {
      if (err.status !== 401) endSession(err.message);
      return;
    }
  }

  if (session.shell && session.shell.page !== page) session.shell.slot.scrollTop = 0; // a new page starts at its top
  mountShell(page);
  session.shell.page = page;
  switch (page) {
    case "numbers":
      replace(session.shell.slot, phoneNumbersPage(session.me));
      break;
    case "import":
      replace(session.shell.slot, importPage(session.me));
      break;
    case "analytics":
      replace(session.shell.slot, analyticsPage());
      break;
    case "calendar":
      replace(session.shell.slot, calendarPage());
      break;
    case "settings":
      replace(session.shell.slot, settingsPage(session.me));
      break;
    case "leads":
      showLeads(id);
      break;
    default:
      location.hash = "#/leads";
  }
}

window.addEventListener("hashchange", route);
route();
