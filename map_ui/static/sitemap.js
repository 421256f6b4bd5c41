/* The result page's map: the site, each conflicting layer's piece inside it (by severity), and
   the layer parts around it. Small GeoJSON, all served by the platform. */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('sitemap-config').textContent);
  // Leaflet renders a string tooltip as HTML: layer titles and project names are data, so they
  // go in as text.
  function asText(s) {
    var span = document.createElement('span');
    span.textContent = s === null || s === undefined ? '' : String(s);
    return span;
  }
  var map = L.map('sitemap', {maxZoom: 21});
  window.sitemap = map;
  var sev = cfg.severity_colours;
  var context = L.geoJSON({type: 'FeatureCollection', features: cfg.context.map(function (o) {
    return {type: 'Feature', geometry: o.geometry, properties: o};
  })}, {style: function (f) {
    return {color: sev[f.properties.severity] || '#999', weight: 1, dashArray: '4 3', fillOpacity: 0.12};
  }, onEachFeature: function (f, l) { l.bindTooltip(asText(f.properties.title)); }}).addTo(map);
  var pieces = L.geoJSON({type: 'FeatureCollection', features: cfg.pieces.map(function (o) {
    return {type: 'Feature', geometry: o.geometry, properties: o};
  })}, {style: function (f) {
    return {color: sev[f.properties.severity] || '#999', weight: 2, fillOpacity: 0.6};
  }, onEachFeature: function (f, l) { l.bindTooltip(asText(f.properties.title)); }}).addTo(map);
  var site = L.geoJSON(cfg.site, {style: {color: '#08519c', weight: 3, fill: false}})
    .bindTooltip(asText(cfg.site_label)).addTo(map);
  var b = site.getBounds();
  if (b.isValid()) { map.fitBounds(b.pad(0.25)); } else { map.setView([35.58, 104.62], 10); }
  L.control.scale({imperial: false}).addTo(map);
  window.sitemapLayers = {site: site, pieces: pieces, context: context};
}());
