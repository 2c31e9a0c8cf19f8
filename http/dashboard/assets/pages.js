// The other pages: sign in / register, phone numbers (list, import, activate, purchase) and
// analytics with small hand-drawn SVG charts.

import { api, setToken } from "./api.js";
import { h, s, replace, toast, titleCase, formatPhone, formatFull, formatDuration, formValues, showFieldErrors, CHASE_STATUSES } from "./dom.js";

function field(label, name, attrs = {}, hint) {
  const id = attrs.id || "f-" + name;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, ...attrs }),
    hint ? h("span", { class: "hint" }, hint) : null);
}

function unavailableNote(what) {
  return h("p", { class: "note" }, `${what} is not available on this server yet. It appears here once the server supports it.`);
}

// ---------- sign in / register ----------

// authPage renders the login or register form; onSignedIn(answer) gets {token, user, organization}.
export function authPage(mode, { onSignedIn, notice }) {
  const register = mode === "register";
  const status = h("p", { class: "form-status", role: "alert" }, notice || "");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: register ? "register-submit" : "login-submit" }, register ? "Create account" : "Sign in");
  const form = h("form", { class: "auth-form", novalidate: true, onsubmit: go },
    register ? field("Your name", "fullName", { autocomplete: "name", required: true }) : null,
    register ? field("Dealership", "organizationName", { autocomplete: "organization", required: true }) : null,
    field("Email", "email", { id: register ? "f-email" : "login-email", type: "email", autocomplete: "username", required: true }),
    field("Password", "password", { id: register ? "f-password" : "login-password", type: "password", autocomplete: register ? "new-password" : "current-password", required: true, minlength: register ? 8 : null },
      register ? "At least 8 characters." : null),
    submit,
    status);

  async function go(e) {
    e.preventDefault();
    submit.disabled = true;
    status.textContent = "";
    try {
      const v = formValues(form);
      const answer = register ? await api.register(v) : await api.login({ email: v.email, password: v.password });
      setToken(answer.token);
      onSignedIn(answer);
    } catch (err) {
      status.textContent = err.status === 401 ? "Wrong email or password." : showFieldErrors(form, err);
    } finally {
      submit.disabled = false;
    }
  }

  return h("main", { class: "auth", id: "main" },
    h("div", { class: "auth-card" },
      h("div", { class: "brand brand-large" }, logo(), h("span", {}, "Jack")),
      h("p", { class: "auth-tagline" }, "The AI assistant that texts and calls your dealership's leads, with your team one click away."),
      h("h1", {}, register ? "Create your dealership account" : "Sign in"),
      form,
      h("p", { class: "auth-switch" }, register
        ? ["Already have an account? ", h("a", { href: "#/login" }, "Sign in")]
        : ["New dealership? ", h("a", { href: "#/register" }, "Create an account")])));
}

export function logo() {
  return s("svg", { class: "logo", viewBox: "0 0 32 32", width: 28, height: 28, "aria-hidden": "true" },
    s("rect", { width: 32, height: 32, rx: 8, fill: "currentColor" }),
    s("path", { d: "M19 7v12.5a5.5 5.5 0 0 1-11 0", fill: "none", stroke: "#fff", "stroke-width": 3.2, "stroke-linecap": "round" }));
}

// ---------- phone numbers ----------

export function phoneNumbersPage(me) {
  const admin = me.user.role === "owner" || me.user.role === "admin";
  const orgId = me.organization.id;
  const list = h("ul", { class: "cards", id: "numbers" }, h("li", { class: "empty" }, "Loading numbers…"));

  async function refresh() {
    try {
      const { phoneNumbers } = await api.phoneNumbers(orgId);
      replace(list, phoneNumbers.length ? phoneNumbers.map(numberCard) : h("li", { class: "empty" }, "No numbers yet. Import the Twilio number your dealership texts from, or buy one below."));
    } catch (err) {
      if (err.status !== 401) replace(list, h("li", { class: "empty" }, err.message));
    }
  }

  // act runs one admin action on a number and redraws the list; the button waits meanwhile.
  async function act(button, run, done) {
    button.disabled = true;
    try {
      await run();
      toast(done);
      await refresh();
    } catch (err) {
      if (err.status !== 401) toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // numberCard shows a number with what an admin can do with it: activate an inactive one
  // (optionally linking its ElevenLabs phone), link the voice of an active one without it, and
  // deactivate an active one.
  function numberCard(n) {
    const phone = formatPhone(n.phoneNumber);
    let link = null;
    if (admin && (!n.isActive || !n.elevenLabsPhoneId)) {
      const id = "act-" + n.id;
      const submit = h("button", { type: "submit", class: "btn number-activate" }, n.isActive ? "Link voice" : "Activate");
      const input = h("input", { id, name: "elevenLabsPhoneId", value: n.elevenLabsPhoneId || "", required: n.isActive, placeholder: "phnum_…", autocomplete: "off" });
      link = h("form", { class: "inline-form", onsubmit: (e) => {
        e.preventDefault();
        act(submit, () => api.activateNumber(n.phoneNumber, input.value.trim() || undefined), (n.isActive ? "Linked " : "Activated ") + phone + ".");
      } },
      h("label", { for: id }, n.isActive ? "ElevenLabs phone ID" : "ElevenLabs phone ID (optional)"), input, submit);
    }
    let deactivate = null;
    if (admin && n.isActive) {
      deactivate = h("button", { type: "button", class: "btn btn-ghost btn-small number-deactivate", onclick: () =>
        act(deactivate, () => api.deactivateNumber(n.phoneNumber), "Deactivated " + phone + ". Texts and calls to it no longer reach you.") }, "Deactivate");
    }
    return h("li", { class: "card number" + (n.isActive ? "" : " number-inactive"), dataset: { phone: n.phoneNumber } },
      h("div", { class: "number-head" },
        h("strong", { class: "number-phone" }, phone),
        h("span", { class: "chip number-state " + (n.isActive ? "chip-ok" : "chip-muted") }, n.isActive ? "Active" : "Inactive"),
        n.elevenLabsPhoneId ? h("span", { class: "chip chip-ok" }, "Voice ready") : h("span", { class: "chip chip-warn" }, "Voice not linked")),
      h("dl", { class: "facts" },
        h("dt", {}, "Twilio SID"), h("dd", {}, n.twilioPhoneSid || "–"),
        h("dt", {}, "ElevenLabs ID"), h("dd", {}, n.elevenLabsPhoneId || "–"),
        h("dt", {}, "Added"), h("dd", {}, formatFull(n.createdAt))),
      link,
      deactivate ? h("div", { class: "card-foot" }, deactivate) : null);
  }

  const importForm = h("form", { class: "stack-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(importForm);
    if (!v.elevenLabsPhoneId) delete v.elevenLabsPhoneId;
    if (!v.twilioPhoneSid) delete v.twilioPhoneSid;
    const status = importForm.querySelector(".form-status");
    try {
      await api.importNumber(orgId, v);
      importForm.reset();
      status.textContent = "";
      showFieldErrors(importForm, null);
      toast("Number imported.");
      refresh();
    } catch (err) {
      if (err.status !== 401) status.textContent = showFieldErrors(importForm, err);
    }
  } },
  field("Phone number", "phoneNumber", { id: "import-phone", required: true, type: "tel", placeholder: "+1 604 555 0100", autocomplete: "off" }),
  field("Twilio phone SID (optional)", "twilioPhoneSid", { id: "import-sid", placeholder: "PN…", autocomplete: "off" }),
  field("ElevenLabs phone ID (optional)", "elevenLabsPhoneId", { id: "import-voice", placeholder: "phnum_…", autocomplete: "off" }),
  h("button", { type: "submit", class: "btn btn-primary", id: "import-number" }, "Import number"),
  h("p", { class: "form-status", role: "status" }));

  const purchaseResult = h("div", { class: "purchase-result", role: "status" });
  const purchaseForm = h("form", { class: "stack-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(purchaseForm);
    replace(purchaseResult, "Buying a number…");
    try {
      const r = await api.purchaseNumber(orgId, v);
      const bought = typeof r.phoneNumber === "string" ? r.phoneNumber : (r.phoneNumber || {}).phoneNumber || "";
      const steps = Array.isArray(r.nextSteps) ? r.nextSteps : [];
      replace(purchaseResult, steps.length
        ? [h("p", {}, "Bought ", h("strong", {}, formatPhone(bought)), ". Next:"), h("ol", { class: "next-steps" }, steps.map((st) => h("li", {}, String(st))))]
        : h("p", {}, "Bought ", h("strong", {}, formatPhone(bought)), ". It is active: texts and calls reach Jack."));
      purchaseForm.reset();
      refresh();
    } catch (err) {
      if (err.status === 401) return;
      replace(purchaseResult, err.unavailable ? unavailableNote("Buying numbers") : h("p", { class: "error" }, showFieldErrors(purchaseForm, err)));
    }
  } },
  field("Area code", "areaCode", { id: "buy-area", required: true, inputmode: "numeric", pattern: "[0-9]{3}", maxlength: 3, placeholder: "778" }),
  h("div", { class: "field" }, h("label", { for: "f-country" }, "Country"),
    h("select", { id: "f-country", name: "country" }, h("option", { value: "US" }, "United States"), h("option", { value: "CA" }, "Canada"))),
  h("button", { type: "submit", class: "btn", id: "buy-number" }, "Buy number"),
  purchaseResult);

  refresh();
  return h("main", { class: "page", id: "main" },
    h("h1", {}, "Phone numbers"),
    h("p", { class: "lede" }, "Customers text and call these numbers; each belongs to your dealership only. A number is ready for AI calls once it is linked to its ElevenLabs phone."),
    h("ol", { class: "workflow" },
      h("li", {}, "Buy or import the Twilio number"),
      h("li", {}, "Import it into ElevenLabs"),
      h("li", {}, "Activate it here with the ElevenLabs phone ID"),
      h("li", {}, "Ready: texts and calls reach Jack")),
    list,
    admin
      ? h("div", { class: "grid-2" },
        h("section", { class: "card" }, h("h2", {}, "Import a number you own"), importForm),
        h("section", { class: "card" }, h("h2", {}, "Buy a new number"), purchaseForm))
      : h("p", { class: "note" }, "Only owners and admins can add or activate numbers."));
}

// ---------- analytics ----------

const DAY = 86400000;

function isoDay(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

export function analyticsPage() {
  const today = new Date();
  const body = h("div", { class: "analytics", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  const from = h("input", { id: "a-from", type: "date", name: "from", value: isoDay(new Date(today.getTime() - 29 * DAY)) });
  const to = h("input", { id: "a-to", type: "date", name: "to", value: isoDay(today) });
  const presets = [7, 30, 90].map((n) => h("button", { type: "button", class: "btn btn-ghost", onclick: () => {
    from.value = isoDay(new Date(Date.now() - (n - 1) * DAY));
    to.value = isoDay(new Date());
    load();
  } }, n + " days"));
  const range = h("form", { class: "range", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("div", { class: "field" }, h("label", { for: "a-from" }, "From"), from),
    h("div", { class: "field" }, h("label", { for: "a-to" }, "To"), to),
    h("button", { type: "submit", class: "btn btn-primary" }, "Show"),
    h("div", { class: "presets" }, presets));

  async function load() {
    replace(body, h("p", { class: "muted" }, "Loading…"));
    // The range covers whole local days: from the start of "from" to the end of "to".
    const start = new Date(from.value + "T00:00:00");
    const end = new Date(new Date(to.value + "T00:00:00").getTime() + DAY);
    try {
      let data;
      try {
        data = await api.analytics(start.toISOString(), end.toISOString());
      } catch (err) {
        if (err.status !== 400) throw err;
        data = await api.analytics(from.value, to.value); // a server that reads plain dates
      }
      replace(body, summary(data));
    } catch (err) {
      if (err.status === 401) return;
      replace(body, err.unavailable ? unavailableNote("Analytics") : h("p", { class: "error" }, err.message));
    }
  }

  load();
  return h("main", { class: "page", id: "main" }, h("h1", {}, "Analytics"), range, body);
}

function stat(label, value, sub) {
  return h("div", { class: "stat card" }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub" }, sub) : null);
}

function summary(a) {
  const msgs = a.messages || { total: 0, byChannel: {}, byDay: [] };
  const calls = a.calls || { total: 0, outcomes: {} };
  const leads = a.leads || { total: 0, optedOut: 0 };
  return [
    h("div", { class: "stats" },
      stat("Messages", String(msgs.total || 0), `${msgs.byChannel?.sms || 0} SMS · ${msgs.byChannel?.voice || 0} voice`),
      stat("Calls", String(calls.total || 0), `${calls.inbound || 0} in · ${calls.outbound || 0} out · avg ${formatDuration(calls.averageDurationSeconds)}`),
      stat("First response", a.medianFirstResponseSeconds == null ? "–" : formatDuration(a.medianFirstResponseSeconds), "median time to first reply"),
      stat("Leads", String(leads.total || 0), `${leads.optedOut || 0} opted out`)),
    h("div", { class: "grid-2" },
      h("section", { class: "card chart-card wide" }, h("h2", {}, "Messages per day"), legend([["sms", "SMS"], ["voice", "Voice"]]), dayChart(msgs.byDay || [])),
      h("section", { class: "card chart-card" }, h("h2", {}, "Lead funnel"), funnelChart(a.funnel || [])),
      h("section", { class: "card chart-card" }, h("h2", {}, "Call outcomes"), outcomeChart(calls.outcomes || {}, calls.totalDurationSeconds))),
  ];
}

function legend(items) {
  return h("ul", { class: "legend" }, items.map(([k, label]) => h("li", {}, h("span", { class: "swatch swatch-" + k }), label)));
}

// dayChart draws stacked bars (SMS below, voice on top) per day.
function dayChart(days) {
  if (!days.length) return h("p", { class: "muted" }, "No messages in this range.");
  const W = 640, H = 220, left = 34, bottom = 24, top = 10;
  const max = Math.max(1, ...days.map((d) => (d.sms || 0) + (d.voice || 0)));
  const step = (W - left) / days.length;
  const bw = Math.max(2, Math.min(28, step * 0.7));
  const y = (v) => H - bottom - (v / max) * (H - bottom - top);
  const label = `Messages per day: ${days.map((d) => `${d.date} ${d.sms || 0} SMS, ${d.voice || 0} voice`).join("; ")}`;
  const every = Math.ceil(days.length / 8);
  return s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" },
    s("title", {}, "Messages per day"),
    [0, 0.5, 1].map((f) => [
      s("line", { class: "grid", x1: left, x2: W, y1: y(max * f), y2: y(max * f) }),
      s("text", { class: "axis", x: left - 6, y: y(max * f) + 4, "text-anchor": "end" }, String(Math.round(max * f))),
    ]),
    days.map((d, i) => {
      const x = left + i * step + (step - bw) / 2;
      const sms = d.sms || 0, voice = d.voice || 0;
      return s("g", {},
        s("title", {}, `${d.date}: ${sms} SMS, ${voice} voice`),
        s("rect", { class: "bar-sms", x, width: bw, y: y(sms), height: H - bottom - y(sms) }),
        s("rect", { class: "bar-voice", x, width: bw, y: y(sms + voice), height: y(sms) - y(sms + voice) }),
        i % every === 0 ? s("text", { class: "axis", x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, d.date.slice(5)) : null);
    }));
}

// hbars draws labelled horizontal bars: rows of [label, value, className].
function hbars(rows, title) {
  const W = 420, row = 28, labelW = 110, H = rows.length * row + 4;
  const max = Math.max(1, ...rows.map((r) => r[1]));
  return s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${rows.map((r) => `${r[0]} ${r[1]}`).join(", ")}` },
    s("title", {}, title),
    rows.map(([label, value, cls], i) => {
      const w = Math.max(value ? 3 : 0, (value / max) * (W - labelW - 40));
      const yy = i * row + 4;
      return s("g", {},
        s("text", { class: "axis", x: labelW - 8, y: yy + 15, "text-anchor": "end" }, label),
        s("rect", { class: cls, x: labelW, y: yy + 3, width: w, height: row - 10, rx: 3 }),
        s("text", { class: "value", x: labelW + w + 6, y: yy + 15 }, String(value)));
    }));
}

function funnelChart(funnel) {
  const counts = new Map(funnel.map((f) => [f.chaseStatus, f.count || 0]));
  return hbars(CHASE_STATUSES.map((st) => [titleCase(st), counts.get(st) || 0, "bar-funnel"]), "Leads by status");
}

function outcomeChart(o, totalSeconds) {
  return [
    hbars([["Success", o.success || 0, "bar-ok"], ["Failure", o.failure || 0, "bar-bad"], ["Unknown", o.unknown || 0, "bar-muted"]], "Call outcomes"),
    h("p", { class: "muted" }, "Total talk time " + formatDuration(totalSeconds || 0)),
  ];
}
