// Appointments: the day/week calendar page (#/calendar) with the appointment numbers and their
// chart, and the appointment section of a lead's panel (book, reschedule, cancel). Times show in
// the dealership's time zone, which the availability answer names. Live appointment events
// refresh whatever is on screen (calendarEvent).

import { request } from "./api.js";
import { h, s, replace, toast } from "./dom.js";

const get = (path, query) => request("GET", path, { query }).then((r) => r.data);
const send = (method, path, body) => request(method, path, { body }).then((r) => r.data);

const KINDS = [["test_drive", "Test drive"], ["sales", "Sales visit"], ["service", "Service"], ["delivery", "Delivery"]];
const kindLabel = (k) => (KINDS.find(([v]) => v === k) || [k, k])[1];
const STATUS_LABEL = { confirmed: "Confirmed", cancelled: "Cancelled", completed: "Shown", no_show: "No-show" };
const SOURCE_LABEL = { staff: "Staff", ai_sms: "AI (SMS)", ai_voice: "AI (call)" };

const mounted = new Set(); // {el, refresh} of what was drawn; dropped once off the page

// calendarEvent refreshes the calendar and lead sections on an appointment event.
export function calendarEvent(ev) {
  if (!ev || !String(ev.type).startsWith("appointment_")) return;
  for (const m of [...mounted]) {
    if (m.el.isConnected) m.refresh(ev);
    else mounted.delete(m);
  }
}

function track(el, refresh) {
  mounted.add({ el, refresh });
}

// The dealership's zone, from an availability answer; the browser's until then.
let zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

function fmt(iso, opts) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, ...opts }).format(new Date(iso));
}
const timeOf = (iso) => fmt(iso, { hour: "numeric", minute: "2-digit" });
const dayOf = (iso) => fmt(iso, { weekday: "short", month: "short", day: "numeric" });

// ymd is the dealership-calendar date (YYYY-MM-DD) of an instant.
function ymd(date) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

function addDays(day, n) {
  const d = new Date(day + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function weekStart(day) {
  const d = new Date(day + "T12:00:00Z");
  return addDays(day, -((d.getUTCDay() + 6) % 7)); // Monday
}

// freeSlots answers the free slots of one day (and learns the zone).
async function freeSlots(day) {
  const a = await get("/api/appointments/availability", { from: day, days: 1 });
  zone = a.timeZone || zone;
  return a.slots || [];
}

// actions are the buttons that change an appointment: reschedule, shown, no-show, cancel.
function actions(a, after) {
  if (a.status !== "confirmed") return null;
  const patch = async (body, done) => {
    try {
      await send("PATCH", "/api/appointments/" + encodeURIComponent(a.id), { ...body, version: a.version });
      toast(done);
      after();
    } catch (err) {
      toast(err.code === "version_conflict" ? "Someone changed this appointment; reloaded." : err.message, "error");
      after();
    }
  };
  const box = h("div", { class: "appt-actions" });
  const reschedule = h("button", { type: "button", class: "btn btn-small", onclick: () => openReschedule() }, "Reschedule");
  function openReschedule() {
    const day = h("input", { type: "date", class: "input", value: ymd(new Date(a.startsAt)), "aria-label": "New day" });
    const slot = h("select", { class: "input", "aria-label": "New time" });
    let seq = 0;
    const load = async () => {
      const my = ++seq;
      const slots = await freeSlots(day.value).catch(() => []);
      if (my !== seq) return;
      replace(slot, slots.length ? slots.map((x) => h("option", { value: x.startsAt }, timeOf(x.startsAt))) : h("option", { value: "" }, "No free time"));
    };
    day.addEventListener("change", load);
    load();
    replace(box, day, slot,
      h("button", { type: "button", class: "btn btn-small btn-primary", onclick: () => slot.value && patch({ startsAt: slot.value }, "Rescheduled.") }, "Move"),
      h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: after }, "Back"));
  }
  box.append(reschedule,
    h("button", { type: "button", class: "btn btn-small", onclick: () => patch({ status: "completed" }, "Marked as shown.") }, "Shown"),
    h("button", { type: "button", class: "btn btn-small", onclick: () => patch({ status: "no_show" }, "Marked as no-show.") }, "No-show"),
    h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => confirm("Cancel this appointment?") && patch({ status: "cancelled" }, "Cancelled.") }, "Cancel"));
  return box;
}

function card(a, after, withName) {
  return h("li", { class: "appt appt-" + a.status, dataset: { id: a.id } },
    h("div", { class: "appt-time" }, withName ? timeOf(a.startsAt) : dayOf(a.startsAt) + " " + timeOf(a.startsAt)),
    h("div", { class: "appt-body" },
      withName ? h("a", { href: "#/leads/" + encodeURIComponent(a.leadId), class: "appt-who" }, a.customerName || a.phoneNumber) : null,
      h("span", { class: "appt-kind" }, kindLabel(a.kind) + (a.vehicle ? " · " + a.vehicle : "")),
      h("span", { class: "appt-meta muted" }, STATUS_LABEL[a.status] + " · " + (SOURCE_LABEL[a.source] || a.source)),
      actions(a, after)));
}

// ---------- the calendar page ----------

export function calendarPage() {
  let view = matchMedia("(max-width: 600px)").matches ? "day" : "week";
  let anchor = ymd(new Date());
  const title = h("h2", { id: "cal-title" }, "Calendar");
  const grid = h("div", { class: "cal-grid", id: "cal-grid", "aria-live": "polite" });
  const stats = h("section", { class: "cal-stats", "aria-labelledby": "cal-stats-title" });
  const viewBtn = (v, label) => h("button", { type: "button", class: "btn btn-small", "aria-pressed": String(view === v), dataset: { view: v },
    onclick: () => { view = v; load(); } }, label);
  const dayBtn = viewBtn("day", "Day");
  const weekBtn = viewBtn("week", "Week");
  const step = (n) => { anchor = addDays(anchor, n * (view === "week" ? 7 : 1)); load(); };
  const el = h("main", { class: "page calendar-page", id: "main" },
    h("header", { class: "cal-head" }, title,
      h("div", { class: "cal-tools" },
        h("button", { type: "button", class: "btn btn-small", "aria-label": "Previous", onclick: () => step(-1) }, "‹"),
        h("button", { type: "button", class: "btn btn-small", onclick: () => { anchor = ymd(new Date()); load(); } }, "Today"),
        h("button", { type: "button", class: "btn btn-small", "aria-label": "Next", onclick: () => step(1) }, "›"),
        dayBtn, weekBtn)),
    grid, stats);

  let seq = 0;
  async function load() {
    const my = ++seq;
    dayBtn.setAttribute("aria-pressed", String(view === "day"));
    weekBtn.setAttribute("aria-pressed", String(view === "week"));
    const first = view === "week" ? weekStart(anchor) : anchor;
    const days = view === "week" ? 7 : 1;
    try {
      const avail = await get("/api/appointments/availability", { from: first, days });
      zone = avail.timeZone || zone;
      const { appointments } = await get("/api/appointments", { from: first, to: addDays(first, days) });
      if (my !== seq) return;
      const byDay = new Map();
      for (let i = 0; i < days; i++) byDay.set(addDays(first, i), []);
      for (const a of appointments) {
        const d = ymd(new Date(a.startsAt));
        if (byDay.has(d)) byDay.get(d).push(a);
      }
      const free = new Map();
      for (const sl of avail.slots || []) {
        const d = ymd(new Date(sl.startsAt));
        free.set(d, (free.get(d) || 0) + 1);
      }
      title.textContent = view === "week" ? "Week of " + dayOf(first + "T12:00:00Z") : dayOf(first + "T12:00:00Z");
      replace(grid, [...byDay].map(([d, list]) => h("section", { class: "cal-day" + (d === ymd(new Date()) ? " today" : ""), dataset: { day: d } },
        h("h3", {}, dayOf(d + "T12:00:00Z"), h("span", { class: "muted cal-free" }, (free.get(d) || 0) + " free")),
        list.length ? h("ul", { class: "appt-list" }, list.map((a) => card(a, load, true))) : h("p", { class: "muted cal-empty" }, "No appointments"))));
      grid.classList.toggle("cal-week", view === "week");
    } catch (err) {
      if (my === seq) replace(grid, h("p", { class: "muted" }, err.message));
    }
    loadStats();
  }

  async function loadStats() {
    try {
      const day = 86400000;
      const a = (await get("/api/analytics/summary", { from: new Date(Date.now() - 30 * day).toISOString(), to: new Date(Date.now() + 30 * day).toISOString() })).appointments || {};
      const bars = [["Set", a.set], ["Shown", a.shown], ["No-show", a.noShow], ["By AI", a.byAI], ["By staff", a.byStaff]];
      replace(stats, h("h3", { id: "cal-stats-title" }, "Appointments, 30 days either side of today"),
        h("p", { class: "muted" }, a.noShowRate == null ? "No outcomes yet." : "No-show rate " + Math.round(a.noShowRate * 100) + "%"),
        barChart(bars));
    } catch {
      replace(stats);
    }
  }

  load();
  track(el, () => load());
  return el;
}

// barChart draws labelled horizontal bars (an accessible SVG with a title per bar).
function barChart(bars) {
  const max = Math.max(1, ...bars.map(([, v]) => v || 0));
  const rowH = 26;
  return s("svg", { class: "cal-chart", id: "appt-chart", viewBox: `0 0 320 ${bars.length * rowH}`, role: "img", "aria-label": bars.map(([l, v]) => `${l}: ${v || 0}`).join(", ") },
    bars.map(([label, v], i) => s("g", { transform: `translate(0 ${i * rowH})` },
      s("title", {}, `${label}: ${v || 0}`),
      s("text", { x: 0, y: 17, class: "cal-chart-label" }, label),
      s("rect", { x: 80, y: 4, height: 16, width: Math.max(2, ((v || 0) / max) * 200), rx: 3, class: "cal-chart-bar" }),
      s("text", { x: 86 + ((v || 0) / max) * 200, y: 17, class: "cal-chart-value" }, String(v || 0)))));
}

// ---------- the lead panel's section ----------

// appointmentSection lists the lead's upcoming appointments with their actions and books a new one.
export function appointmentSection(leadId) {
  const list = h("ul", { class: "appt-list" });
  const day = h("input", { type: "date", class: "input", id: "appt-day", value: ymd(new Date()), "aria-label": "Day" });
  const slot = h("select", { class: "input", id: "appt-slot", "aria-label": "Time" });
  const kind = h("select", { class: "input", id: "appt-kind", "aria-label": "Kind" }, KINDS.map(([v, l]) => h("option", { value: v }, l)));
  const form = h("form", { class: "appt-book", onsubmit: book, hidden: true },
    day, slot, kind,
    h("button", { type: "submit", class: "btn btn-small btn-primary", id: "appt-submit" }, "Book"));
  const toggle = h("button", { type: "button", class: "btn btn-small", id: "appt-new", "aria-expanded": "false",
    onclick: () => { form.hidden = !form.hidden; toggle.setAttribute("aria-expanded", String(!form.hidden)); if (!form.hidden) loadSlots(); } }, "Book appointment");
  const el = h("section", { class: "appt-section", id: "appt-section", "aria-label": "Appointments" },
    h("div", { class: "appt-section-head" }, h("h3", {}, "Appointments"), toggle), list, form);
  day.addEventListener("change", loadSlots);

  let slotSeq = 0;
  async function loadSlots() {
    const my = ++slotSeq;
    const slots = await freeSlots(day.value).catch(() => []);
    if (my !== slotSeq) return; // an answer for a day no longer picked
    replace(slot, slots.length ? slots.map((x) => h("option", { value: x.startsAt }, timeOf(x.startsAt))) : h("option", { value: "" }, "No free time"));
  }

  async function book(e) {
    e.preventDefault();
    if (!slot.value) return;
    try {
      await send("POST", "/api/leads/" + encodeURIComponent(leadId) + "/appointments", { startsAt: slot.value, kind: kind.value });
      toast("Appointment booked.");
      form.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      load();
    } catch (err) {
      toast(err.message, "error");
      loadSlots();
    }
  }

  async function load() {
    try {
      const { appointments } = await get("/api/appointments", { leadId, from: new Date(Date.now() - 86400000).toISOString() });
      if (appointments.length) await freeSlots(ymd(new Date())).catch(() => {}); // learn the zone first
      replace(list, appointments.length
        ? appointments.map((a) => card(a, load, false))
        : h("li", { class: "muted" }, "None booked."));
    } catch (err) {
      replace(list, h("li", { class: "muted" }, err.unavailable ? "Appointments are not available." : err.message));
    }
  }

  load();
  track(el, (ev) => { if (!ev || ev.leadId === leadId) load(); });
  return { el };
}
