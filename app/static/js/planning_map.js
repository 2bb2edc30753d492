// The assignment map: tooltips, click-to-assign, and restyling after a change, without reloads.
(function () {
  "use strict";
  var layers = {};

  var cachedNode = null, cached = null;
  function lookups() {
    var node = document.querySelector("#map-area .map-lookups");
    if (node !== cachedNode) {
      cachedNode = node;
      cached = node ? JSON.parse(node.textContent) : {assigned: {}, assignees: {}, unassigned: "#b8bec9"};
    }
    return cached;
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

  // Geometry comes compact (see assignment_map.map_shapes): integers in 1/scale degrees, each ring
  // its first point then differences. Decoded into GeoJSON positions here.
  function decodeRing(flat, scale) {
    var out = [], x = 0, y = 0;
    for (var i = 0; i < flat.length; i += 2) {
      x += flat[i]; y += flat[i + 1];
      out.push([x / scale, y / scale]);
    }
    return out;
  }
  function decode(geometry, scale) {
    var c = geometry.coordinates, coords;
    if (geometry.type === "Point") coords = decodeRing(c, scale)[0];
    else if (geometry.type === "Polygon") coords = c.map(function (r) { return decodeRing(r, scale); });
    else coords = c.map(function (poly) { return poly.map(function (r) { return decodeRing(r, scale); }); });
    return {type: geometry.type, coordinates: coords};
  }
  var coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;

  function draw(area, shapes) {
    var l = lookups();
    var map = window[l.map];
    if (!map) return;
    var owner = {};
    Object.keys(l.assigned || {}).forEach(function (key) {
      l.assigned[key].forEach(function (id) { owner[id] = key; });
    });
    parents = shapes.parents || {};
    layers = {};
    // A finger needs a generous hit area: the canvas renderer counts taps this many pixels off a shape.
    var renderer = L.canvas({tolerance: coarse ? 14 : 2});
    L.geoJSON({type: "FeatureCollection", features: shapes.borders.map(function (b) {
      return {type: "Feature", id: b[0], properties: {}, geometry: decode(b[1], shapes.scale)};
    })}, {style: {color: "#1d2433", weight: 2, fill: false}, interactive: false, renderer: renderer}).addTo(map);
    L.geoJSON({type: "FeatureCollection", features: shapes.units.map(function (u) {
      var key = owner[u[0]] || "";
      var colour = key && l.assignees[key] ? l.assignees[key].colour : l.unassigned;
      return {type: "Feature", id: u[0], properties: {id: u[0], n: u[1], p: u[2], a: key, c: colour},
              geometry: decode(u[3], shapes.scale)};
    })}, {
      renderer: renderer,
      pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, {radius: coarse ? 12 : 6, renderer: renderer}); },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        layer.setStyle({color: "#475467", weight: 0.6, fillColor: p.c, fillOpacity: p.a ? 0.75 : 0.35});
        layer.bindTooltip(function () { return window.fieldflowMap.tooltip(p); }, {sticky: true});
        layer.on("click", function () { window.fieldflowMap.clicked(p.id, layer); });
        layers[p.id] = layer;
      }
    }).addTo(map);
    if (shapes.bounds) map.fitBounds(shapes.bounds);
    area.setAttribute("data-loaded", "1");
  }
  var parents = {};

  window.fieldflowMap = {
    register: function (id, layer) { layers[id] = layer; },
    tooltip: function (p) {
      var l = lookups();
      var parent = parents[p.p] || "";
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
  // The browser keeps the shapes and revalidates them (ETag): a revisit downloads no geometry.
  window.fieldflowMapInit = function (area) {
    if (!area) return;
    var url = lookups().shapes;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (shapes) { draw(area, shapes); })
      .catch(function () { toast("The map's shapes could not be loaded. Check the connection and reload the page."); });
  };

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
