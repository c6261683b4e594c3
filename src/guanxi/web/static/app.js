// Small behaviours of the console shell; libraries come from static/vendor (npm at set-up).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form) form.requestSubmit();
});
