/* One map (一张图): every active vector layer from the platform's vector tiles, a layer switcher
   grouped by plan, a legend in the national class colours, an opacity slider, and a click that
   asks /api/applies what applies at that place. No request leaves the platform unless the
   basemap setting asks for one. */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('onemap-config').textContent);
  var t = cfg.t;
  var ext = cfg.extent; // lon_min, lat_min, lon_max, lat_max
  var map = L.map('map', {zoomControl: true, maxZoom: 20, minZoom: 3});
  window.onemap = {map: map, layers: {}};
  if (cfg.view) {
    map.setView([cfg.view.lat, cfg.view.lon], cfg.view.z);
  } else {
    map.fitBounds([[ext[1], ext[0]], [ext[3], ext[2]]]);
  }
  L.control.scale({imperial: false}).addTo(map);

  window.gisplatBasemap(map, cfg);

  // ---- colours: longest code prefix of the layer's scheme; outlines for control lines
  var colours = cfg.colours;
  function fillFor(scheme, code) {
    var rows = colours.schemes[scheme] || [];
    if (code) {
      for (var i = 0; i < rows.length; i++) {
        if (code.indexOf(rows[i].prefix) === 0) return rows[i];
      }
    }
    return null;
  }
  function styleFor(lyr) {
    if (lyr.outline) {
      var stroke = (colours.themes[lyr.theme] || {}).stroke || colours.default_stroke;
      var outline = {stroke: true, color: stroke, weight: 2, opacity: 1, fill: true, fillColor: stroke, fillOpacity: 0.06};
      return function () { return outline; };
    }
    return function (props) {
      var e = fillFor(lyr.scheme, props && props.class_code);
      var fill = e ? e.fill : colours.default_fill;
      return {stroke: true, color: (e && e.stroke) || '#777777', weight: 0.6, opacity: 0.9,
              fill: true, fillColor: fill, fillOpacity: 0.85};
    };
  }

  // ---- the layers, from vector tiles
  var opacity = cfg.opacity;
  cfg.layers.forEach(function (lyr) {
    // The tile contract names the one MVT layer "features"; the layer's PLAN/LAYER ref is
    // styled too, so either naming draws in the same colours.
    var styles = {features: styleFor(lyr)};
    styles[lyr.ref] = styles.features;
    var vg = L.vectorGrid.protobuf(cfg.tile_url.replace('{layer}', encodeURIComponent(lyr.id)), {
      vectorTileLayerStyles: styles, interactive: false, rendererFactory: L.canvas.tile,
      maxZoom: 20, zIndex: lyr.z, opacity: opacity, attribution: '',
      // no tile is asked for outside the layer's extent
      bounds: lyr.bounds ? L.latLngBounds([[lyr.bounds[1], lyr.bounds[0]], [lyr.bounds[3], lyr.bounds[2]]]) : undefined
    });
    window.onemap.layers[lyr.id] = vg;
    vg.addTo(map);
    var sw = document.querySelector('[data-layer-swatch="' + lyr.id + '"]');
    if (sw) {
      if (lyr.outline) {
        sw.style.borderColor = (colours.themes[lyr.theme] || {}).stroke || colours.default_stroke;
      } else {
        var first = (colours.schemes[lyr.scheme] || [])[0];
        sw.style.background = first ? first.fill : colours.default_fill;
      }
    }
  });

  // ---- layer switcher
  document.querySelectorAll('.layer-toggle').forEach(function (box) {
    box.addEventListener('change', function () {
      var vg = window.onemap.layers[box.getAttribute('data-layer-id')];
      if (!vg) return;
      if (box.checked) { vg.addTo(map); } else { map.removeLayer(vg); }
    });
  });
  document.querySelectorAll('.plan-toggle').forEach(function (box) {
    box.addEventListener('change', function () {
      var group = box.closest('.plan-group');
      group.querySelectorAll('.layer-toggle').forEach(function (lb) {
        if (lb.checked !== box.checked) { lb.checked = box.checked; lb.dispatchEvent(new Event('change')); }
      });
    });
  });
  document.querySelectorAll('.zoom-to').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var id = btn.getAttribute('data-layer-id');
      var known = cfg.layers.filter(function (l) { return String(l.id) === id && l.bounds; })[0];
      if (known) {
        map.fitBounds([[known.bounds[1], known.bounds[0]], [known.bounds[3], known.bounds[2]]]);
        return;
      }
      var url = cfg.tilejson_url.replace('{layer}', encodeURIComponent(btn.getAttribute('data-layer-id')));
      fetch(url).then(function (r) { return r.ok ? r.json() : null; }).then(function (tj) {
        if (tj && tj.bounds && tj.bounds.length === 4) {
          map.fitBounds([[tj.bounds[1], tj.bounds[0]], [tj.bounds[3], tj.bounds[2]]]);
        }
      }).catch(function () { /* no TileJSON: stay where we are */ });
    });
  });

  // ---- opacity slider
  var slider = document.getElementById('opacity');
  var out = document.getElementById('opacity-value');
  slider.addEventListener('input', function () {
    opacity = slider.value / 100;
    out.textContent = slider.value + '%';
    Object.keys(window.onemap.layers).forEach(function (k) { window.onemap.layers[k].setOpacity(opacity); });
  });

  // ---- what applies here
  var panel = document.getElementById('applies');
  var marker = null;
  function esc(s) {
    return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function msg(rule) {
    if (!rule) return '';
    return cfg.lang === 'zh' ? rule.message_zh : rule.message_en;
  }
  function render(data, latlng) {
    var html = ['<p class="muted small" id="applies-point">' + esc(t.point) + ': ' +
                latlng.lng.toFixed(6) + ', ' + latlng.lat.toFixed(6) + '</p>'];
    if (!data.features.length) html.push('<p id="applies-nothing">' + esc(t.nothing) + '</p>');
    data.features.forEach(function (f) {
      var sev = f.severity || 'none';
      html.push('<div class="applies-item" data-ref="' + esc(f.ref) + '" data-class="' + esc(f.class_code || '') + '">' +
        '<div class="title">' + esc(f.title || f.ref) + '</div>' +
        '<div class="muted small">' + esc(t.plan) + ': ' + esc(f.plan_name) + ' · v' + esc(f.version) + '</div>' +
        '<div>' + esc(t['class']) + ': <span class="class-code">' + esc(f.class_code || f.class_raw || '—') + '</span> ' +
        esc(f.class_name || '') + '</div>' +
        (sev !== 'none' ? '<div>' + esc(t.severity) + ': <span class="badge" style="background:' +
          esc(cfg.severity_colours[sev] || '#ddd') + '">' + esc(cfg.severities[sev] || sev) + '</span></div>' : '') +
        (f.rule ? '<div class="small">' + esc(msg(f.rule)) +
          (f.rule.citation ? '<br><span class="muted">' + esc(t.citation) + ': ' + esc(f.rule.citation) + '</span>' : '') +
          (f.rule.department ? '<br><span class="muted">' + esc(t.department) + ': ' + esc(f.rule.department) + '</span>' : '') +
          '</div>' : '') +
        '</div>');
    });
    if (data.missing_themes && data.missing_themes.length) {
      html.push('<p class="muted small">' + esc(t.missing_themes) + ': ' + data.missing_themes.map(esc).join(', ') + '</p>');
    }
    panel.innerHTML = html.join('');
  }
  map.on('click', function (e) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(e.latlng, {radius: 6, color: '#d7301f', weight: 2, fillOpacity: 0.3}).addTo(map);
    panel.innerHTML = '<p class="muted">' + esc(t.loading) + '</p>';
    var url = cfg.applies_url + '?x=' + e.latlng.lng.toFixed(8) + '&y=' + e.latlng.lat.toFixed(8) + '&crs=EPSG:4326';
    fetch(url, {headers: {Accept: 'application/json'}}).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (res.ok) { render(res.body, e.latlng); return; }
      var m = cfg.lang === 'zh' ? res.body.message_zh : res.body.message_en;
      panel.innerHTML = '<p class="error" id="applies-error">' + esc(t.error) + ': ' + esc(m || '') + '</p>';
    }).catch(function () {
      panel.innerHTML = '<p class="error" id="applies-error">' + esc(t.error) + '</p>';
    });
  });
}());
