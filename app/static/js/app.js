// Small behaviours shared by every page. No framework: htmx does the rest.
(function () {
  "use strict";
  // Toasts fade away on their own, errors stay longer.
  function scheduleRemoval(toast) {
    if (toast.dataset.scheduled) return;
    toast.dataset.scheduled = "1";
    var delay = toast.classList.contains("toast-error") ? 12000 : 5000;
    setTimeout(function () { toast.remove(); }, delay);
  }
  function sweep() { document.querySelectorAll("#toasts .toast").forEach(scheduleRemoval); }
  document.addEventListener("DOMContentLoaded", sweep);
  document.addEventListener("htmx:afterSwap", sweep);
  // A network failure on a partial request gets a visible message instead of silence.
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("toasts");
    if (!box) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.textContent = "The server could not be reached. Check the connection and try again.";
    box.appendChild(toast);
    scheduleRemoval(toast);
  });
})();
// Close an open navigation menu when clicking elsewhere.
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});
