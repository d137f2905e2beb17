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
// Confirm dialogs for buttons that carry data-confirm (CSP forbids inline handlers).
document.addEventListener("submit", (event) => {
  const message = event.submitter && event.submitter.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
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
