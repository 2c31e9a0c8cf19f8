// Settings: the dealership's CRM integrations (signed webhooks and ADF e-mail): add one, see its
// secret once, send a test event, pause, rotate the secret, delete, and watch its deliveries
// (status, response code, latency, next try) with redelivery. Admins only, like the API.

import { api } from "./api.js";
import { h, replace, toast, formatFull, formValues, showFieldErrors } from "./dom.js";

const EVENTS = [
  ["lead.created", "Lead created"],
  ["lead.updated", "Lead updated (status or qualification)"],
  ["lead.qualified", "Lead qualified"],
  ["message.received", "Text received"],
  ["call.completed", "Call completed (with summary)"],
  ["appointment.booked", "Appointment booked"],
  ["appointment.updated", "Appointment changed"],
];

const STATUS_CHIP = { pending: "chip-warn", succeeded: "chip-ok", failed: "chip-danger" };

export function settingsPage(me) {
  const admin = me.user.role === "owner" || me.user.role === "admin";
  if (!admin) {
    return h("main", { class: "page", id: "main" },
      h("h1", {}, "Settings"),
      h("p", { class: "note" }, "Only owners and admins can change the dealership's settings and CRM integrations."));
  }
  const list = h("ul", { class: "cards", id: "integrations" }, h("li", { class: "empty" }, "Loading integrations…"));
  const secretBox = h("div", { class: "secret-box", role: "status" });

  async function refresh() {
    try {
      const { integrations } = await api.integrations();
      replace(list, integrations.length ? integrations.map(card) : h("li", { class: "empty" }, "No CRM connected yet. Add your CRM's lead e-mail address or a webhook below."));
    } catch (err) {
      if (err.status === 401) return;
      replace(list, h("li", { class: "empty" }, err.unavailable ? "CRM integrations are not available on this server." : err.message));
    }
  }

  function showSecret(secret) {
    replace(secretBox, h("p", {}, "Signing secret, shown once — copy it into your CRM now:"),
      h("code", { class: "secret" }, secret));
  }

  async function act(fn, done) {
    try {
      const r = await fn();
      if (done) done(r);
      refresh();
    } catch (err) {
      if (err.status !== 401) toast(err.message, "error");
    }
  }

  function card(i) {
    const deliveries = h("div", { class: "deliveries", hidden: true });
    const target = i.kind === "webhook" ? i.url : i.to;
    const test = h("button", { type: "button", class: "btn btn-small", onclick: async () => {
      test.disabled = true;
      try {
        const r = await api.testIntegration(i.id);
        toast(r.ok ? `Test delivered (${r.statusCode || "sent"}, ${r.latencyMs} ms).` : "Test failed: " + (r.error || "no answer"), r.ok ? "info" : "error");
      } catch (err) {
        if (err.status !== 401) toast(err.message, "error");
      } finally {
        test.disabled = false;
      }
    } }, "Send test");
    const toggle = h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () =>
      act(() => api.patchIntegration(i.id, { enabled: !i.enabled }), () => toast(i.enabled ? "Paused." : "Resumed.")) },
    i.enabled ? "Pause" : "Resume");
    const rotate = i.kind === "webhook"
      ? h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => {
        if (!confirm("Rotate the signing secret? Your CRM must use the new one from now on.")) return;
        act(() => api.patchIntegration(i.id, { rotateSecret: true }), (r) => { showSecret(r.secret); toast("Secret rotated."); });
      } }, "Rotate secret")
      : null;
    const remove = h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => {
      if (!confirm("Delete this integration and its delivery history?")) return;
      act(() => api.deleteIntegration(i.id), () => toast("Integration deleted."));
    } }, "Delete");
    const show = h("button", { type: "button", class: "btn btn-small", "aria-expanded": "false", onclick: async () => {
      const open = deliveries.hidden;
      deliveries.hidden = !open;
      show.setAttribute("aria-expanded", String(open));
      show.textContent = open ? "Hide deliveries" : "Deliveries";
      if (open) loadDeliveries(i, deliveries);
    } }, "Deliveries");
    return h("li", { class: "card integration" },
      h("div", { class: "number-head" },
        h("strong", {}, i.kind === "webhook" ? "Webhook" : "ADF e-mail"),
        h("span", { class: "chip " + (i.enabled ? "chip-ok" : "chip-muted") }, i.enabled ? "On" : "Paused")),
      h("dl", { class: "facts" },
        h("dt", {}, i.kind === "webhook" ? "URL" : "To"), h("dd", {}, target),
        h("dt", {}, "Events"), h("dd", {}, i.events.join(", ")),
        h("dt", {}, "Added"), h("dd", {}, formatFull(i.createdAt))),
      h("div", { class: "card-foot integration-actions" }, test, show, toggle, rotate, remove),
      deliveries);
  }

  async function loadDeliveries(i, box) {
    replace(box, h("p", { class: "empty" }, "Loading deliveries…"));
    try {
      const { deliveries } = await api.deliveries(i.id);
      replace(box, deliveries.length
        ? h("ul", { class: "delivery-list" }, deliveries.map((d) => deliveryRow(i, d, box)))
        : h("p", { class: "empty" }, "Nothing sent yet."));
    } catch (err) {
      if (err.status !== 401) replace(box, h("p", { class: "error" }, err.message));
    }
  }

  function deliveryRow(i, d, box) {
    const facts = [
      d.attempts + (d.attempts === 1 ? " attempt" : " attempts") + ((d.history || []).length > d.attempts ? " since redelivery" : ""),
      d.responseCode ? "HTTP " + d.responseCode : null,
      d.latencyMs !== null && d.latencyMs !== undefined ? d.latencyMs + " ms" : null,
      d.status === "pending" && d.nextAttemptAt ? "next try " + formatFull(d.nextAttemptAt) : null,
    ].filter(Boolean).join(" · ");
    const redeliver = d.status !== "pending"
      ? h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: async () => {
        try {
          await api.redeliver(i.id, d.id);
          toast("Queued again.");
          loadDeliveries(i, box);
        } catch (err) {
          if (err.status !== 401) toast(err.message, "error");
        }
      } }, "Redeliver")
      : null;
    return h("li", { class: "delivery" + (d.status === "failed" ? " delivery-failed" : "") },
      h("div", { class: "delivery-head" },
        h("span", { class: "chip " + (STATUS_CHIP[d.status] || "chip-muted") }, d.status),
        h("strong", {}, d.eventType),
        h("span", { class: "delivery-time" }, formatFull(d.createdAt))),
      h("div", { class: "delivery-facts" }, facts),
      d.lastError && d.status !== "succeeded" ? h("div", { class: "delivery-error" }, d.lastError) : null,
      attemptList(d.history || []),
      redeliver);
  }

  // attemptList shows each attempt: when, the answer, how long it took (newest first).
  function attemptList(history) {
    if (history.length < 2) return null;
    return h("details", { class: "delivery-attempts" },
      h("summary", {}, "History: " + history.length + " attempts"),
      h("ol", {}, history.slice().reverse().map((a) => h("li", {},
        formatFull(a.at) + " · " + (a.responseCode ? "HTTP " + a.responseCode : "no answer") + " · " + a.latencyMs + " ms" +
        (a.error && !a.succeeded ? " · " + a.error : "")))));
  }

  const kindSelect = h("select", { id: "f-kind", name: "kind", onchange: () => syncKind() },
    h("option", { value: "adf_email" }, "ADF e-mail to the CRM's lead address"),
    h("option", { value: "webhook" }, "Webhook (signed JSON)"));
  const urlField = h("div", { class: "field" }, h("label", { for: "f-url" }, "Webhook URL"),
    h("input", { id: "f-url", name: "url", type: "url", placeholder: "https://crm.example.com/jack", autocomplete: "off" }));
  const toField = h("div", { class: "field" }, h("label", { for: "f-to" }, "CRM lead e-mail"),
    h("input", { id: "f-to", name: "to", type: "email", placeholder: "leads@yourstore.crm.com", autocomplete: "off" }));
  const events = h("fieldset", { class: "field event-choices" }, h("legend", {}, "Events"),
    EVENTS.map(([value, label]) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "events", value, checked: value === "lead.created" || value === "lead.qualified" }), " ", label)));
  function syncKind() {
    const webhook = kindSelect.value === "webhook";
    urlField.hidden = !webhook;
    toField.hidden = webhook;
  }
  syncKind();
  const form = h("form", { class: "stack-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(form);
    const body = { kind: v.kind, events: Array.from(form.querySelectorAll("input[name=events]:checked"), (c) => c.value) };
    if (v.kind === "webhook") body.url = v.url;
    else body.to = v.to;
    const status = form.querySelector(".form-status");
    try {
      const created = await api.createIntegration(body);
      showFieldErrors(form, null);
      status.textContent = "";
      form.reset();
      syncKind();
      if (created.secret) showSecret(created.secret);
      else replace(secretBox);
      toast("Integration added.");
      refresh();
    } catch (err) {
      if (err.status !== 401) status.textContent = showFieldErrors(form, err);
    }
  } },
  h("div", { class: "field" }, h("label", { for: "f-kind" }, "How"), kindSelect),
  toField, urlField, events,
  h("button", { type: "submit", class: "btn btn-primary" }, "Add integration"),
  h("p", { class: "form-status", role: "status" }));

  refresh();
  return h("main", { class: "page", id: "main" },
    h("h1", {}, "Settings"),
    h("section", { class: "settings-section", "aria-labelledby": "integrations-title" },
      h("h2", { id: "integrations-title" }, "Integrations"),
      h("p", { class: "lede" }, "Send leads to your CRM (VinSolutions, DealerSocket, Elead, CDK…) as ADF e-mail, or to any system by signed webhook. Each event is delivered once, retried for 24 hours, and listed below."),
      secretBox,
      list,
      h("section", { class: "card" }, h("h3", {}, "Connect your CRM"), form)),
    generalSection(me),
    aiSection(me),
    teamSection(me),
    cannedRepliesSection(me));
}

// cannedRepliesSection edits the team's saved texts: a title and a body each, where {firstName}
// and {vehicle} are filled from the lead when staff pick one in a conversation.
function cannedRepliesSection(me) {
  const rows = h("ol", { class: "canned-rows", id: "canned-rows" });
  const status = h("p", { class: "form-status", role: "status" });
  const settings = () => me.organization.settings || (me.organization.settings = {});

  function row(r) {
    const li = h("li", { class: "canned-row" },
      h("input", { name: "title", value: r.title || "", maxlength: 60, placeholder: "Title", "aria-label": "Title" }),
      h("textarea", { name: "body", rows: 2, maxlength: 1600, placeholder: "Hi {firstName}, the {vehicle} is ready for a test drive…", "aria-label": "Text" }, r.body || ""),
      h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => li.remove() }, "Remove"));
    return li;
  }

  async function save(e) {
    e.preventDefault();
    const replies = [...rows.children].map((li) => ({ title: li.querySelector("[name=title]").value.trim(), body: li.querySelector("[name=body]").value.trim() }))
      .filter((r) => r.title || r.body);
    try {
      const org = await api.patchOrganization({ settings: { cannedReplies: replies } });
      me.organization.settings = org.settings;
      replace(rows, (org.settings.cannedReplies || []).map(row));
      status.textContent = "";
      toast("Saved replies updated.");
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
    }
  }

  replace(rows, (settings().cannedReplies || []).map(row));
  return h("section", { class: "settings-section", "aria-labelledby": "canned-title" },
    h("h2", { id: "canned-title" }, "Saved replies"),
    h("p", { class: "lede" }, "Texts your team sends often. In a conversation, pick one under the composer: {firstName} and {vehicle} are filled from the lead."),
    h("form", { class: "card", id: "canned-form", onsubmit: save },
      rows,
      h("div", { class: "form-actions" },
        h("button", { type: "button", class: "btn", id: "canned-add", onclick: () => { rows.append(row({})); rows.lastChild.querySelector("input").focus(); } }, "Add a reply"),
        h("button", { type: "submit", class: "btn btn-primary", id: "canned-save" }, "Save replies")),
      status));
}

const ROLES = [["agent", "Agent"], ["admin", "Admin"], ["owner", "Owner"]];

// teamSection lists the dealership's staff: add one with a role, change a role, deactivate or
// reactivate (a deactivated user's sessions end at once on every node).
function teamSection(me) {
  const list = h("ul", { class: "cards team", id: "team" }, h("li", { class: "empty" }, "Loading the team…"));
  const status = h("p", { class: "form-status", role: "status" });

  async function refresh() {
    try {
      const { users } = await api.users();
      replace(list, users.map(member));
    } catch (err) {
      if (err.status !== 401) replace(list, h("li", { class: "empty" }, err.message));
    }
  }

  async function act(fn, done) {
    try {
      await fn();
      toast(done);
    } catch (err) {
      if (err.status !== 401) toast(err.message, "error");
    }
    refresh();
  }

  function member(u) {
    const self = u.id === me.user.id;
    const inactive = u.active === false;
    const role = h("select", { "aria-label": "Role of " + (u.fullName || u.email), class: "team-role", disabled: self,
      onchange: (e) => act(() => api.patchUser(u.id, { role: e.target.value }), "Role changed.") },
    ROLES.map(([v, label]) => h("option", { value: v, selected: v === u.role }, label)));
    return h("li", { class: "card team-member" + (inactive ? " team-inactive" : ""), dataset: { userId: u.id } },
      h("div", {}, h("strong", {}, u.fullName || u.email), h("div", { class: "muted" }, u.email + (inactive ? " · deactivated" : ""))),
      h("div", { class: "team-actions" }, role,
        self ? null : h("button", { type: "button", class: "btn btn-ghost btn-small team-active",
          onclick: () => act(() => api.patchUser(u.id, { active: inactive }), inactive ? "Reactivated." : "Deactivated: their sessions ended.") },
        inactive ? "Reactivate" : "Deactivate")));
  }

  const form = h("form", { class: "card team-form", id: "team-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.createUser(formValues(form));
      form.reset();
      status.textContent = "";
      toast("Team member added: give them their e-mail and password.");
      refresh();
    } catch (err) {
      if (err.status !== 401) status.textContent = showFieldErrors(form, err);
    }
  } },
  h("h3", {}, "Add a team member"),
  h("div", { class: "field" }, h("label", { for: "team-name" }, "Name"), h("input", { id: "team-name", name: "fullName", autocomplete: "off" })),
  h("div", { class: "field" }, h("label", { for: "team-email" }, "E-mail"), h("input", { id: "team-email", name: "email", type: "email", autocomplete: "off" })),
  h("div", { class: "field" }, h("label", { for: "team-password" }, "Password (at least 8 characters)"), h("input", { id: "team-password", name: "password", type: "password", autocomplete: "new-password" })),
  h("div", { class: "field" }, h("label", { for: "team-role" }, "Role"), h("select", { id: "team-role", name: "role" }, ROLES.map(([v, label]) => h("option", { value: v }, label)))),
  h("button", { type: "submit", class: "btn btn-primary", id: "team-add" }, "Add"),
  status);

  refresh();
  return h("section", { class: "settings-section", "aria-labelledby": "team-title" },
    h("h2", { id: "team-title" }, "Team"),
    h("p", { class: "lede" }, "Agents work leads; admins also manage numbers, settings and the team."),
    list, form);
}

// generalSection edits the dealership's name, time zone, the hours in which it may start texts
// and calls, and whether resuming the AI answers a text that waited.
function generalSection(me) {
  const st = me.organization.settings || {};
  const status = h("p", { class: "form-status", role: "status" });
  const resume = h("input", { type: "checkbox", id: "org-resume", name: "aiAnswerOnResume", checked: st.aiAnswerOnResume !== false });
  const field = (label, id, attrs) => h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, autocomplete: "off", ...attrs }));
  const form = h("form", { class: "card", id: "org-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(form);
    try {
      const org = await api.patchOrganization({ name: v.name, settings: {
        timeZone: v.timeZone, contactHoursStart: v.contactHoursStart, contactHoursEnd: v.contactHoursEnd, aiAnswerOnResume: resume.checked } });
      me.organization = org;
      status.textContent = "";
      toast("Settings saved.");
    } catch (err) {
      if (err.fields) err.fields = Object.fromEntries(Object.entries(err.fields).map(([k, v]) => [k.replace(/^settings\./, ""), v]));
      if (err.status !== 401) status.textContent = showFieldErrors(form, err);
    }
  } },
  field("Dealership name", "org-name", { name: "name", value: me.organization.name, maxlength: 255 }),
  field("Time zone (IANA, e.g. America/Vancouver)", "org-tz", { name: "timeZone", value: st.timeZone || "", placeholder: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  h("div", { class: "field-row" },
    field("Texts and calls from", "org-start", { name: "contactHoursStart", value: st.contactHoursStart || "08:00", placeholder: "08:00" }),
    field("until", "org-end", { name: "contactHoursEnd", value: st.contactHoursEnd || "21:00", placeholder: "21:00" })),
  h("label", { class: "check" }, resume, " When staff resume the AI, it answers the customer's unanswered last text"),
  h("button", { type: "submit", class: "btn btn-primary", id: "org-save" }, "Save settings"),
  status);
  return h("section", { class: "settings-section", "aria-labelledby": "general-title" },
    h("h2", { id: "general-title" }, "Dealership"), form);
}

// aiSection edits the follow-up cadence (steps of "after this long without an answer, text or
// call"), whether new leads start with the AI on, and the AI's instructions and greeting.
function aiSection(me) {
  const st = me.organization.settings || {};
  const status = h("p", { class: "form-status", role: "status" });
  const steps = h("ol", { class: "cadence-rows", id: "cadence-rows" });
  const aiOn = h("input", { type: "checkbox", id: "org-ai-default", name: "aiEnabledByDefault", checked: st.aiEnabledByDefault !== false });

  function numberSteps() {
    [...steps.children].forEach((li, i) => {
      for (const el of li.querySelectorAll("[data-field]")) el.name = `cadence[${i}].${el.dataset.field}`;
    });
  }

  function step(s) {
    const message = h("textarea", { dataset: { field: "message" }, rows: 2, maxlength: 1600, "aria-label": "Text to send",
      placeholder: "Hi {{customer_name}}, still looking for a car? Reply here any time." }, s.message || "");
    const action = h("select", { dataset: { field: "action" }, "aria-label": "Action", onchange: () => { message.hidden = action.value !== "sms"; } },
      h("option", { value: "sms", selected: s.action !== "call" }, "Text"),
      h("option", { value: "call", selected: s.action === "call" }, "Call"));
    message.hidden = action.value !== "sms";
    const li = h("li", { class: "cadence-row" },
      h("div", { class: "field" }, h("label", {}, "After no answer for", h("input", { dataset: { field: "after" }, value: s.after || "1d", placeholder: "2h, 1d, 3d12h", autocomplete: "off" }))),
      h("div", { class: "field" }, h("label", {}, "Then", action)),
      h("div", { class: "field cadence-message" }, message),
      h("button", { type: "button", class: "btn btn-ghost btn-small cadence-remove", onclick: () => { li.remove(); numberSteps(); } }, "Remove step"));
    return li;
  }

  function show(settings) {
    replace(steps, (settings.cadence || []).map(step));
    numberSteps();
  }

  const form = h("form", { class: "card", id: "ai-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    numberSteps();
    const cadence = [...steps.children].map((li) => {
      const v = (f) => li.querySelector(`[data-field=${f}]`).value.trim();
      return v("action") === "call" ? { after: v("after"), action: "call" } : { after: v("after"), action: "sms", message: v("message") };
    });
    try {
      const org = await api.patchOrganization({ settings: { cadence, aiEnabledByDefault: aiOn.checked,
        aiInstructions: form.elements.aiInstructions.value, aiGreeting: form.elements.aiGreeting.value } });
      me.organization = org;
      show(org.settings);
      showFieldErrors(form, null);
      status.textContent = "";
      toast("Follow-ups and AI saved.");
    } catch (err) {
      if (err.fields) err.fields = Object.fromEntries(Object.entries(err.fields).map(([k, v]) => [k.replace(/^settings\./, ""), v]));
      if (err.status !== 401) status.textContent = showFieldErrors(form, err);
    }
  } },
  h("h3", {}, "Follow-up cadence"),
  h("p", { class: "note" }, "When a customer stops answering, Jack follows up step by step. {{customer_name}} and other variables are filled in. At most 10 steps."),
  steps,
  h("button", { type: "button", class: "btn", id: "cadence-add", onclick: () => {
    if (steps.children.length >= 10) return toast("At most 10 steps.", "error");
    steps.append(step({}));
    numberSteps();
    steps.lastChild.querySelector("input").focus();
  } }, "Add a step"),
  h("h3", {}, "AI"),
  h("label", { class: "check" }, aiOn, " New leads start with the AI answering (off: staff answer until they resume the AI)"),
  h("div", { class: "field" }, h("label", { for: "org-ai-greeting" }, "Greeting (opens the AI's first reply and a call's first words)"),
    h("input", { id: "org-ai-greeting", name: "aiGreeting", maxlength: 300, value: st.aiGreeting || "", autocomplete: "off", placeholder: "Hi, this is Sam at Main Street Motors!" })),
  h("div", { class: "field" }, h("label", { for: "org-ai-instructions" }, "Instructions to the AI (tone, what to offer, what never to say)"),
    h("textarea", { id: "org-ai-instructions", name: "aiInstructions", rows: 5, maxlength: 4000, placeholder: "Be brief and friendly. Never quote prices: offer a visit instead." }, st.aiInstructions || "")),
  h("button", { type: "submit", class: "btn btn-primary", id: "ai-save" }, "Save follow-ups and AI"),
  status);
  show(st);
  return h("section", { class: "settings-section", "aria-labelledby": "ai-title" },
    h("h2", { id: "ai-title" }, "Follow-ups and AI"), form);
}
