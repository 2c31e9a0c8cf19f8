// Notifications: when a customer texts a conversation that needs a human or is assigned to the
// signed-in user, a browser notification and a short beep (the unread count in the tab title is
// app.js's). Permission is asked for only from a click on "Turn on notifications"; the sound can
// be muted, remembered in localStorage (so for every tab).
//
// One notification per event even with several tabs open: the tabs of one user elect a leader
// with a Web Lock held for the tab's life (the next tab takes over when the leader closes), and
// only the leader notifies. Followers tell the leader over a BroadcastChannel which events they
// have seen, so an event the leader's own stream has not delivered yet is not lost, and the
// leader keeps the ids it has notified so a repeated event is notified once. Without Web Locks
// every tab notifies, with the event id as the notification's tag, which the browser shows once.

import { h } from "./dom.js";

const MUTE_KEY = "jack.notify.muted";
const SEEN_LIMIT = 500;

let userId = "";
let leader = false;
let releaseLock = null;
const notified = new Set(); // event ids this tab has notified (as the leader)
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("jack-notify") : null;
let decide = null; // (event) → Promise<{title, body}|null>: whether and what to notify
const controls = new Set(); // the toolbar controls, redrawn when permission or mute changes

// startNotifier makes this tab a candidate leader for user's notifications. wanted(event)
// answers the notification's {title, body} or null when event needs none.
export function startNotifier(user, wanted) {
  stopNotifier();
  userId = user;
  decide = wanted;
  if (!navigator.locks) {
    leader = true;
    return;
  }
  const held = new Promise((resolve) => { releaseLock = resolve; });
  navigator.locks.request("jack-notify-leader-" + user, () => {
    if (userId !== user) return null; // signed out while waiting
    leader = true;
    return held;
  }).catch(() => {});
}

// stopNotifier gives up leadership (on sign-out).
export function stopNotifier() {
  leader = false;
  userId = "";
  controls.clear();
  if (releaseLock) releaseLock();
  releaseLock = null;
}

// notifyEvent handles one stream event of this tab.
export function notifyEvent(ev) {
  if (!ev || ev.type !== "sms_received" || !ev.id || !userId) return;
  if (!leader) {
    if (channel) channel.postMessage({ type: "seen", userId, event: ev });
    return;
  }
  handle(ev);
}

if (channel) {
  channel.onmessage = (e) => {
    const m = e.data || {};
    if (m.type === "seen" && leader && m.userId === userId && m.event) handle(m.event);
  };
}

let handled = 0; // events this tab decided on, shown as data-handled on the controls

async function handle(ev) {
  if (notified.has(ev.id)) return;
  notified.add(ev.id);
  if (notified.size > SEEN_LIMIT) notified.delete(notified.values().next().value);
  let note = null;
  try {
    note = decide ? await decide(ev) : null;
  } catch {
    note = null;
  }
  if (note) {
    show(ev, note);
    beep();
  }
  handled++;
  redraw();
}

function show(ev, note) {
  const N = window.Notification;
  if (typeof N !== "function" || N.permission !== "granted") return;
  try {
    const n = new N(note.title, { body: note.body, tag: "jack-" + ev.id });
    n.onclick = () => {
      window.focus();
      location.hash = "#/leads/" + encodeURIComponent(ev.leadId);
      if (typeof n.close === "function") n.close();
    };
  } catch {
    // a browser that only notifies from a service worker: the title count and the sound remain
  }
}

// muted answers whether the sound is off (for every tab of this browser).
export function muted() {
  try {
    return localStorage.getItem(MUTE_KEY) === "1";
  } catch {
    return false;
  }
}

function setMuted(on) {
  try {
    if (on) localStorage.setItem(MUTE_KEY, "1");
    else localStorage.removeItem(MUTE_KEY);
  } catch {
    // private mode without storage: the toggle lasts until the reload
  }
  redraw();
}

let audio = null;

// beep plays a short two-tone chime through WebAudio unless muted.
function beep() {
  if (muted()) return;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (typeof Ctx !== "function") return;
  try {
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended" && audio.resume) audio.resume().catch(() => {});
    const t = audio.currentTime;
    for (const [i, freq] of [880, 1320].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.15, t + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.001, t + i * 0.12 + 0.11);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t + i * 0.12);
      osc.stop(t + i * 0.12 + 0.12);
    }
  } catch {
    // no sound device: the notification and the title count remain
  }
}

// notifyControls answers the toolbar's "Turn on notifications" button (while the browser has
// not been asked yet) and the sound toggle.
export function notifyControls() {
  const ask = h("button", { type: "button", class: "btn btn-ghost btn-small notify-ask", id: "notify-ask", onclick: askPermission },
    h("span", { class: "notify-long" }, "Turn on notifications"), h("span", { class: "notify-short", "aria-hidden": "true" }, "Notify"));
  const sound = h("button", { type: "button", class: "btn btn-ghost btn-small notify-sound", id: "notify-sound", onclick: () => setMuted(!muted()) });
  const el = h("span", { class: "notify" }, ask, sound);
  controls.add({ el, ask, sound });
  redraw();
  return el;
}

async function askPermission() {
  const N = window.Notification;
  if (typeof N !== "function") return;
  // The click's user activation also lets the sound start (browsers keep audio off until one).
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!audio && typeof Ctx === "function") {
    try {
      audio = new Ctx();
    } catch {
      audio = null;
    }
  }
  try {
    await N.requestPermission();
  } catch {
    // an old callback-only API or a refusal: the button stays
  }
  redraw();
}

function redraw() {
  const N = window.Notification;
  const askable = typeof N === "function" && N.permission === "default";
  const off = muted();
  for (const c of controls) {
    c.el.dataset.handled = String(handled);
    c.ask.hidden = !askable;
    c.sound.textContent = off ? "🔇" : "🔔";
    c.sound.setAttribute("aria-pressed", String(off));
    c.sound.setAttribute("aria-label", off ? "Sound off: turn the notification sound on" : "Sound on: mute the notification sound");
    c.sound.title = off ? "Notification sound off" : "Notification sound on";
  }
}

window.addEventListener("storage", (e) => {
  if (e.key === MUTE_KEY) redraw();
});
