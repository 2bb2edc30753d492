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
// Close an open navigation menu when clicking elsewhere; on narrow screens the whole navigation
// is one "Menu" button that opens it as a list.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest && event.target.closest(".nav-toggle");
  if (toggle) {
    var bar = toggle.closest(".topbar");
    var open = bar.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    bar.querySelectorAll("details.nav-menu").forEach(function (menu) { menu.open = open; });
    return;
  }
  if (document.querySelector(".topbar.nav-open")) return;  // the narrow menu shows every group open
  document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});
// Irreversible actions ask first: <form data-confirm="…"> (the message is an attribute, never code).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
// Nothing typed is lost to a dropped connection. Offline, a banner says so and a plain form is not
// sent (the browser would replace the page with its own error); what is typed into a form is kept
// in this tab's sessionStorage until the form is sent, and put back if the same form shows up
// again empty. HTMX requests that fail to reach the server keep the page as it is, and a form's
// request is sent again once the connection is back.
(function () {
  "use strict";
  var SKIP = /^(csrf_token|password|password_confirm|secret|token)$/;
  function key(form) { return "draft:" + location.pathname + ":" + (form.getAttribute("action") || form.getAttribute("hx-post") || form.id || ""); }
  function kept(form) { return form.method && form.method.toLowerCase() === "post" || form.hasAttribute("hx-post"); }
  function save(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP.test(el.name) || el.type === "hidden" || el.type === "file" || el.type === "submit") return;
      if ((el.type === "checkbox" || el.type === "radio")) { if (el.checked) (data[el.name] = data[el.name] || []).push(el.value); }
      else data[el.name] = [el.value];
    });
    try { sessionStorage.setItem(key(form), JSON.stringify(data)); } catch (e) { /* storage full or off */ }
  }
  function restore(form) {
    var raw = null;
    try { raw = sessionStorage.getItem(key(form)); } catch (e) { return; }
    if (!raw) return;
    var data = JSON.parse(raw), restored = false;
    Object.keys(data).forEach(function (name) {
      var fields = form.querySelectorAll("[name='" + name.replace(/'/g, "\\'") + "']");
      fields.forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") return;
        if (!el.value && data[name][0]) { el.value = data[name][0]; restored = true; }
      });
    });
    if (restored) notify("What you typed before the connection dropped is back in the form.", "toast-info");
  }
  function notify(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var toast = document.createElement("div");
    toast.className = "toast " + (kind || "toast-error");
    toast.setAttribute("role", "status");
    toast.textContent = message;
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 8000);
  }
  function banner(show) {
    var node = document.getElementById("offline-banner");
    if (show && !node) {
      node = document.createElement("div");
      node.id = "offline-banner";
      node.className = "offline-banner";
      node.setAttribute("role", "alert");
      node.textContent = "You are offline. What you type stays on this page; send it when the connection is back.";
      document.body.prepend(node);
    } else if (!show && node) node.remove();
  }
  document.addEventListener("input", function (e) { var f = e.target.form; if (f && kept(f)) save(f); });
  document.addEventListener("change", function (e) { var f = e.target.form; if (f && kept(f)) save(f); });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!kept(form) || e.defaultPrevented) return;
    if (!navigator.onLine && !form.hasAttribute("hx-post")) {
      e.preventDefault();
      notify("Not sent: there is no connection. Your input is kept; send it again when you are back online.");
      return;
    }
    if (!form.hasAttribute("hx-post")) try { sessionStorage.removeItem(key(form)); } catch (err) { /* ignore */ }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form");
    if (form && e.detail.successful) try { sessionStorage.removeItem(key(form)); } catch (err) { /* ignore */ }
  });
  var unsent = [];
  document.addEventListener("htmx:sendError", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form");
    if (form && unsent.indexOf(form) < 0) unsent.push(form);
  });
  window.addEventListener("online", function () {
    banner(false);
    var forms = unsent; unsent = [];
    forms.forEach(function (form) { if (document.body.contains(form)) htmx.trigger(form, "submit"); });
    if (forms.length) notify("Back online: sending what could not be sent.", "toast-info");
  });
  window.addEventListener("offline", function () { banner(true); });
  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.onLine) banner(true);
    document.querySelectorAll("form").forEach(function (form) { if (kept(form)) restore(form); });
  });
})();
// Times are shown in the browser's time zone (unless the user chose one): tell the server which.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* an old browser: UTC */ }
})();
// "12 s ago": the server sends the time (<time datetime data-ago>), the browser says how long ago and
// keeps it current, so a polled partial stays the same from one poll to the next (and costs a 304).
(function () {
  function words(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function refresh(root) {
    (root || document).querySelectorAll("time[data-ago]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) {
        if (!el.title) el.title = el.textContent;
        el.textContent = words((Date.now() - at) / 1000);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { refresh(); });
  document.addEventListener("htmx:afterSettle", function (event) { refresh(event.target); });
  setInterval(refresh, 10000);
})();
