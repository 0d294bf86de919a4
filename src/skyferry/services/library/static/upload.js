// The upload page: send the export as multipart field "csv", poll its status about every
// 500 ms with a progress bar, then open the dashboard.

import { ApiError, apiUrl, request, setUpKeyForm, showError } from "./api.js";

const POLL_MS = 500;
const MAX_BYTES = 50 * 1024 * 1024; // the API's limit; refused here before a long upload
const MISSED_POLLS_ALLOWED = 20; // ~10 s of failed polls (a restart, a blip) before giving up

const input = document.getElementById("csv-input");
const dropZone = document.getElementById("drop-zone");
const panel = document.getElementById("progress-panel");
const bar = document.getElementById("progress");
const fill = document.getElementById("progress-fill");
const percentText = document.getElementById("progress-percent");
const booksText = document.getElementById("progress-books");
const messageText = document.getElementById("progress-message");
const fileName = document.getElementById("file-name");

let busy = false;
let shown = 0; // the bar never moves backwards, whatever order answers arrive in

function setProgress(percent, message, processed, total) {
  const value = Math.max(shown, Math.min(100, Math.round(Number(percent) || 0)));
  shown = value;
  fill.style.width = `${value}%`;
  bar.setAttribute("aria-valuenow", String(value));
  percentText.textContent = `${value} %`;
  booksText.textContent =
    Number.isFinite(total) && total > 0 ? `${processed ?? 0} of ${total} books` : "";
  if (message) messageText.textContent = message;
}

function finish(errorMessage) {
  busy = false;
  input.disabled = false;
  dropZone.classList.remove("busy");
  if (errorMessage) showError(errorMessage);
}

async function upload(file) {
  if (busy || !file) return;
  showError(null);
  if (file.size > MAX_BYTES) {
    showError(`${file.name} is larger than 50 MB, the most this server takes.`);
    return;
  }
  busy = true;
  shown = 0;
  input.disabled = true;
  dropZone.classList.add("busy");
  panel.hidden = false;
  fileName.textContent = file.name;
  setProgress(0, "Uploading…");

  const form = new FormData();
  form.append("csv", file, file.name);
  let accepted;
  try {
    ({ body: accepted } = await request("upload", { method: "POST", body: form }));
  } catch (error) {
    panel.hidden = true;
    finish(error instanceof ApiError ? error.message : String(error));
    return;
  }
  if (!accepted || !accepted.uuid) {
    panel.hidden = true;
    finish("The server accepted the file but did not say where to follow it.");
    return;
  }
  setProgress(0, accepted.message || "Processing…");
  poll(accepted.uuid, 0);
}

async function poll(uuid, missed) {
  let status;
  try {
    ({ body: status } = await request(`status/${encodeURIComponent(uuid)}`));
  } catch (error) {
    const transient = error instanceof ApiError && (error.status === 0 || error.status >= 500);
    if (transient && missed < MISSED_POLLS_ALLOWED) {
      messageText.textContent = "Waiting for the server…";
      window.setTimeout(() => poll(uuid, missed + 1), POLL_MS);
    } else {
      finish(error instanceof ApiError ? error.message : String(error));
    }
    return;
  }
  const progress = status.progress || {};
  if (status.status === "complete") {
    setProgress(100, status.message || "Done", progress.processed_books, progress.total_books);
    // a moment at 100 % so the finished bar is seen, then the dashboard
    window.setTimeout(() => {
      window.location.assign(apiUrl(`library/dashboard/${encodeURIComponent(uuid)}`));
    }, 300);
    return;
  }
  if (status.status === "error") {
    finish(status.error_message || status.message || "Processing failed.");
    return;
  }
  setProgress(
    progress.percent_complete,
    status.message,
    progress.processed_books,
    progress.total_books,
  );
  window.setTimeout(() => poll(uuid, 0), POLL_MS);
}

input.addEventListener("change", () => {
  upload(input.files && input.files[0]);
  input.value = ""; // choosing the same file again uploads it again
});

for (const name of ["dragenter", "dragover"]) {
  dropZone.addEventListener(name, (event) => {
    event.preventDefault();
    if (!busy) dropZone.classList.add("over");
  });
}
for (const name of ["dragleave", "drop"]) {
  dropZone.addEventListener(name, () => dropZone.classList.remove("over"));
}
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  const files = event.dataTransfer && event.dataTransfer.files;
  if (files && files.length) upload(files[0]);
});
// a file dropped beside the zone would otherwise replace the page with the CSV's text
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

setUpKeyForm();
