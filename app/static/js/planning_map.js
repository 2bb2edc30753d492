// The assignment map: tooltips, click-to-assign, and restyling after a change, without reloads.
(function () {
  "use strict";
  var layers = {};

  function lookups() {
    var node = document.querySelector("#map-area .map-lookups");
    return node ? JSON.parse(node.textContent) : {parents: {}, assignees: {}, unassigned: "#b8bec9"};
  }
  function esc(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }
  function toast(message) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast toast-info";
    t.textContent = message;
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 4000);
  }
  function restyle(layer, assignee) {
    var l = lookups();
    var p = layer.feature.properties;
    p.a = assignee || "";
    p.c = assignee && l.assignees[assignee] ? l.assignees[assignee].colour : l.unassigned;
    layer.setStyle({fillColor: p.c, fillOpacity: p.a ? 0.75 : 0.35});
  }

  window.fieldflowMap = {
    register: function (id, layer) { layers[id] = layer; },
    tooltip: function (p) {
      var l = lookups();
      var parent = l.parents[p.p] || "";
      var who = p.a && l.assignees[p.a] ? esc(l.assignees[p.a].name) : "<i>unassigned</i>";
      return "<b>" + esc(p.n) + "</b>" + (parent ? "<br><small>" + esc(parent) + "</small>" : "") + "<br>" + who;
    },
    clicked: function (id) {
      var form = document.getElementById("map-assign-form");
      if (!form) return;  // read-only users
      if (!document.querySelector("input[name=assignee]:checked")) {
        toast("Pick a team or user in the list first, then click units to assign them.");
        return;
      }
      form.querySelector("[name=org_unit_id]").value = id;
      htmx.trigger(form, "submit");
    },
    layer: function (id) { return layers[id]; }
  };
  window.fieldflowMapInit = function () {};

  document.addEventListener("assignment-changed", function (event) {
    var detail = event.detail || {};
    var layer = layers[detail.org_unit];
    if (layer) restyle(layer, detail.assignee);
  });
  // Keep the chosen team/user selected when the side table refreshes.
  var chosen = null;
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "assignee") chosen = e.target.value;
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!chosen) return;
    var radio = document.querySelector("input[name=assignee][value='" + chosen + "']");
    if (radio) radio.checked = true;
  });
})();
