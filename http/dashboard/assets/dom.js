// Small DOM helpers. Every string from the server reaches the page as a text node or an
// attribute value set through the DOM, never as markup, so a customer's text cannot inject HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

// h builds an element: h("button", {class: "btn", onclick: fn}, "Send").
// Attributes whose value is null, undefined or false are left out; true sets an empty attribute.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s builds an SVG element the same way.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (k === "value" && "value" in el) {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace swaps all of el's children for children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// toast shows a short notice in the polite live region; kind "error" reads as an alert.
export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  const t = h("div", { class: "toast toast-" + kind, role: kind === "error" ? "alert" : null }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// Labels shown for the API's values.
export const CHASE_STATUSES = ["new", "contacted", "engaged", "qualified", "appointment", "won", "lost", "nurture"];
export const FUNDING = ["unknown", "pre-approved", "needs-work", "ready", "not-ready"];
export const SENTIMENTS = ["positive", "neutral", "negative"];

export function titleCase(v) {
  return String(v || "").replace(/[-_]/g, " ").replace(/\b\w/g, (c) => c.toUpperCase());
}

// formatPhone shows a North American E.164 number as +1 (604) 555-0123 and others unchanged.
export function formatPhone(e164) {
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164 || "");
  return m ? `+1 (${m[1]}) ${m[2]}-${m[3]}` : e164 || "";
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const today = new Date().toDateString() === d.toDateString();
  return today ? timeFmt.format(d) : dayFmt.format(d) + ", " + timeFmt.format(d);
}

export function formatFull(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : fullFmt.format(d);
}

// ago is a short relative time: "now", "5m", "3h", "2d", or the date.
export function ago(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (s < 60) return "now";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  if (s < 7 * 86400) return Math.floor(s / 86400) + "d";
  return dayFmt.format(d);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

// randomKey is an idempotency key. crypto.randomUUID needs a secure context, which a dashboard
// reached over plain http on a LAN address is not; getRandomValues works everywhere.
export function randomKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// formValues reads a form's named controls into an object of strings.
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) out[k] = String(v);
  return out;
}

// showFieldErrors marks inputs named in an API error's fields and returns a summary line.
export function showFieldErrors(form, err) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  const fields = (err && err.fields) || {};
  for (const [name, problem] of Object.entries(fields)) {
    const input = form.elements.namedItem(name);
    if (!input || !input.parentElement) continue;
    input.setAttribute("aria-invalid", "true");
    input.parentElement.append(h("span", { class: "field-error" }, problem));
  }
  return err ? err.message : "";
}
