// The live event stream. Each (re)connect fetches a fresh stream token and opens a
// new EventSource at /api/stream?token=…&lastEventId=…: the browser's own Last-Event-ID only
// follows its automatic reconnects to the same URL, and ours changes with every token, so the
// last seen id is passed explicitly. Replays can repeat events, so ids already seen are dropped.

import { api } from "./api.js";

export const EVENT_TYPES = ["sms_received", "sms_sent", "sms_status", "call_started", "call_ended", "lead_updated",
  "appointment_booked", "appointment_updated"];

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;
const SEEN_LIMIT = 5000;

// createStream returns {start, stop}. onEvent(event) gets each new event (data parsed);
// onState(state) gets "connecting", "live", "reconnecting" or "unavailable".
export function createStream({ onEvent, onState }) {
  let source = null;
  let timer = null;
  let stopped = true;
  let delay = MIN_DELAY;
  let lastEventId = "";
  const seen = new Set();

  function remember(id) {
    seen.add(id);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value); // oldest first
  }

  function handle(e) {
    if (e.lastEventId) {
      if (seen.has(e.lastEventId)) return;
      remember(e.lastEventId);
      lastEventId = e.lastEventId;
    }
    let event;
    try {
      event = JSON.parse(e.data);
    } catch {
      return;
    }
    if (!event.type) event.type = e.type;
    onEvent(event);
  }

  function schedule(state) {
    if (stopped) return;
    onState(state);
    // Jitter keeps a room full of dashboards from reconnecting in step after a restart.
    const wait = delay / 2 + Math.random() * (delay / 2);
    delay = Math.min(delay * 2, MAX_DELAY);
    timer = setTimeout(connect, wait);
  }

  async function connect() {
    timer = null;
    if (stopped) return;
    let tok;
    try {
      tok = await api.streamToken();
    } catch (err) {
      if (err.status === 401) return; // the API client already sent the user to the login page
      if (err.unavailable) delay = MAX_DELAY; // this server has no stream (yet): check back rarely
      schedule(err.unavailable ? "unavailable" : "reconnecting");
      return;
    }
    if (stopped) return;
    const q = new URLSearchParams({ token: tok.token });
    if (lastEventId) q.set("lastEventId", lastEventId);
    const es = new EventSource("/api/stream?" + q.toString());
    source = es;
    es.onopen = () => {
      delay = MIN_DELAY;
      onState("live");
    };
    es.onmessage = handle; // frames without an event name
    for (const t of EVENT_TYPES) es.addEventListener(t, handle);
    es.onerror = () => {
      // Reconnect ourselves, with a new token: the browser's retry would reuse the expired one.
      if (source !== es) return;
      es.close();
      source = null;
      schedule("reconnecting");
    };
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      delay = MIN_DELAY;
      onState("connecting");
      connect();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = null;
      if (source) source.close();
      source = null;
    },
  };
}
