// The basemap under every map page, as the deployment sets it (GISPLAT_BASEMAP: none, osm,
// tianditu with GISPLAT_TIANDITU_KEY). With none, the page loads nothing from outside.
(function () {
  'use strict';
  window.gisplatBasemap = function (map, cfg) {
    if (cfg.basemap === 'osm') {
      L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
        maxZoom: 19, attribution: '&copy; OpenStreetMap contributors'}).addTo(map);
    } else if (cfg.basemap === 'tianditu' && cfg.tianditu_key) {
      ['vec', 'cva'].forEach(function (kind) {
        L.tileLayer('https://t{s}.tianditu.gov.cn/' + kind + '_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0' +
          '&LAYER=' + kind + '&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}' +
          '&tk=' + encodeURIComponent(cfg.tianditu_key), {
            subdomains: '01234567', maxZoom: 18, attribution: '&copy; 天地图'}).addTo(map);
      });
    }
  };
}());
