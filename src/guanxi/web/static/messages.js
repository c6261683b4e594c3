// The messaging screens' small behaviours: remembering the contact a template is previewed for,
// asking before a form that needs a second thought (data-confirm), and selecting the line a
// template error names.
document.addEventListener("click", (event) => {
  const pick = event.target.closest("[data-pick-contact]");
  const kept = document.getElementById("preview-contact");
  if (pick && kept) kept.value = pick.dataset.pickContact;
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  const area = document.querySelector("textarea[data-error-line]");
  if (!area) return;
  const lines = area.value.split("\n");
  const line = Math.min(Number(area.dataset.errorLine), lines.length);
  const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + lines[line - 1].length);
});
