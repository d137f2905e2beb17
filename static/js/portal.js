// Small progressive enhancement: copy buttons. Everything works without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
// Confirm dialogs for buttons that carry data-confirm (CSP forbids inline handlers). A bulk
// action with nothing ticked says so instead of asking to confirm nothing.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const form = event.target;
  if (button && button.hasAttribute("data-needs-ticked")) {
    const ticked = form.querySelectorAll("input[name=request_ids]:checked").length;
    const note = form.querySelector("[data-nothing-ticked]");
    if (note) note.hidden = ticked > 0;
    if (!ticked) {
      event.preventDefault();
      if (note) note.focus();
      return;
    }
  }
  const message = button && button.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// Enter on a checkbox of the approvals table ticks it; it never submits a decision.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key !== "Enter" || !(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
  if (!box.closest("[data-bulk-decisions]")) return;
  event.preventDefault();
  box.checked = !box.checked;
  box.dispatchEvent(new Event("change", { bubbles: true }));
});

// --- Credentials CSV download (provisioning/credential_reveal.html) ---
// The CSV is already on the page; build the file here rather than ask the server again, which
// could not answer anyway: the credentials were wiped when the page was shown.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-download-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.downloadTarget);
  if (!source) return;
  const url = URL.createObjectURL(new Blob([source.textContent], { type: "text/csv" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = button.dataset.downloadName || "credentials.csv";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});

// Print buttons (the access review report): the browser's print dialog also saves as PDF.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});

// Approvals: "select every request on this page" (shown only where this script runs).
document.addEventListener("DOMContentLoaded", () => {
  for (const all of document.querySelectorAll("[data-select-all]")) {
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of all.form.querySelectorAll("input[name=request_ids]")) box.checked = all.checked;
    });
  }
});

// The main menu folds behind "Menu" on a phone. Without this script it simply stays open.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  const menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (!menu) return;
  const phone = window.matchMedia("(max-width: 640px)");
  const show = (open) => {
    toggle.setAttribute("aria-expanded", String(open));
    menu.hidden = !open;
  };
  const fit = () => {
    toggle.hidden = !phone.matches;
    show(!phone.matches);
  };
  toggle.addEventListener("click", () => show(toggle.getAttribute("aria-expanded") !== "true"));
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && phone.matches) {
      show(false);
      toggle.focus();
    }
  });
  phone.addEventListener("change", fit);
  fit();
});

// A failed submit: the summary of what went wrong takes focus, so it is read out first; its
// links move focus to the field itself.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
});
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-error-summary] a[href^='#']");
  if (!link) return;
  const field = document.getElementById(link.getAttribute("href").slice(1));
  if (!field) return;
  event.preventDefault();
  field.scrollIntoView({ block: "center" });
  field.focus();
  history.replaceState(null, "", link.getAttribute("href"));
});
