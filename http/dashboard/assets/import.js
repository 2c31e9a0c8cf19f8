// The Import page: an admin uploads a CSV or ADF/XML file of leads (POST /api/leads/import) with
// upload progress, then reads the server's report: created, updated, unchanged, and the rows
// skipped, each with its line and reason.

import { api } from "./api.js";
import { h, replace } from "./dom.js";

export function importPage(me) {
  const admin = me.user.role === "owner" || me.user.role === "admin";
  const page = h("main", { class: "page", id: "main" },
    h("h1", {}, "Import leads"),
    h("p", { class: "lede" }, "Upload a CSV (a header row with name, phone, email, vehicle … columns) or an ADF/XML file. A phone number already known updates that lead; the leads keep the last contact date of the file."));
  if (!admin) {
    page.append(h("p", { class: "note" }, "Only owners and admins can import leads."));
    return page;
  }

  const file = h("input", { id: "import-file", name: "file", type: "file", accept: ".csv,.txt,.xml,.adf,text/csv,application/xml,text/xml", required: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "import-submit" }, "Import");
  const bar = h("progress", { id: "import-progress", max: "100", value: "0", hidden: true });
  const status = h("p", { class: "form-status", id: "import-status", role: "status" });
  const result = h("div", { id: "import-result", "aria-live": "polite" });

  const form = h("form", { class: "stack-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files && file.files[0];
    if (!f) {
      status.textContent = "Choose a file first.";
      return;
    }
    submit.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    replace(result);
    status.textContent = "Uploading " + f.name + "…";
    try {
      const report = await api.importLeads(f, (fraction) => {
        bar.value = Math.round(fraction * 100);
        if (fraction >= 1) status.textContent = "Importing the rows…";
      });
      bar.value = 100;
      status.textContent = "Imported " + f.name + ".";
      replace(result, summary(report));
      form.reset();
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
      bar.hidden = true;
    } finally {
      submit.disabled = false;
    }
  } },
  h("div", { class: "field" }, h("label", { for: "import-file" }, "Leads file"), file),
  submit, bar, status);

  page.append(h("section", { class: "card" }, form), result);
  return page;
}

// summary shows an import report: the counts, then each skipped row with its reason.
function summary(r) {
  const errors = Array.isArray(r.errors) ? r.errors : [];
  const count = (label, n, cls) => h("div", { class: "import-count " + cls }, h("strong", {}, String(n || 0)), h("span", {}, label));
  return h("section", { class: "card import-summary" },
    h("h2", {}, "Result"),
    h("div", { class: "import-counts" },
      count("created", r.created, "import-created"),
      count("updated", r.updated, "import-updated"),
      count("unchanged", r.unchanged, "import-unchanged"),
      count("skipped", errors.length, "import-skipped")),
    errors.length
      ? h("ul", { class: "import-errors", id: "import-errors" }, errors.map((e) =>
        h("li", {}, h("strong", {}, "Line " + e.line + ": "), e.message,
          e.fields ? " (" + Object.entries(e.fields).map(([k, v]) => k + ": " + v).join("; ") + ")" : "")))
      : h("p", { class: "muted" }, "Every row was imported."));
}
