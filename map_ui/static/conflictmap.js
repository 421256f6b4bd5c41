/* A conflict run's page: its patches (差异图斑) from the platform's vector tiles, coloured by
   category; a click shows the patch under it (both sides' codes and names, area, flags,
   priority, current status, history) with a form to record a status / department / comment;
   a bulk-assignment form. Every request goes to the platform itself (plus the basemap, only
   when the basemap setting asks for one). */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('conflict-config').textContent);
  var t = cfg.t;
  var map = L.map('conflict-map', {maxZoom: 20, minZoom: 3});
  var state = {map: map, layer: null, selected: null, marker: null};
  window.conflictmap = state;
  var ext = cfg.extent;
  if (cfg.bounds) {
    map.fitBounds([[cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]], {padding: [10, 10]});
  } else {
    map.fitBounds([[ext[1], ext[0]], [ext[3], ext[2]]]);
  }
  L.control.scale({imperial: false}).addTo(map);
  window.gisplatBasemap(map, cfg);

  // ---- the patches, from vector tiles, coloured by category (resolved patches paler)
  function style(props) {
    var c = cfg.colours[props.category] || cfg.default_colour;
    var open = !props.status || props.status === 'open';
    return {stroke: true, color: c.stroke || c.fill, weight: props.priority === 1 ? 2 : 1, opacity: 1,
            fill: true, fillColor: c.fill, fillOpacity: open ? 0.75 : 0.3};
  }
  var opts = {vectorTileLayerStyles: {patches: style}, interactive: false, rendererFactory: L.canvas.tile,
              maxZoom: 20, attribution: ''};
  if (cfg.bounds) {
    var pad = 0.002;
    opts.bounds = L.latLngBounds([[cfg.bounds[1] - pad, cfg.bounds[0] - pad], [cfg.bounds[3] + pad, cfg.bounds[2] + pad]]);
  }
  state.layer = L.vectorGrid.protobuf(cfg.tile_url, opts).addTo(map);

  // ---- helpers
  function esc(s) {
    return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function fmt(x, dp) {
    if (x === null || x === undefined) return '—';
    return Number(x).toLocaleString('en-US', {minimumFractionDigits: dp, maximumFractionDigits: dp});
  }
  function flag(v) { return v === true ? t.yes : (v === false ? t.no : t.unknown); }
  function message(body) {
    if (!body) return '';
    return cfg.lang === 'zh' ? (body.message_zh || '') : (body.message_en || '');
  }
  function getJSON(url) {
    return fetch(url, {headers: {Accept: 'application/json'}}).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    });
  }
  function postJSON(url, data) {
    return fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json', Accept: 'application/json'},
                       body: JSON.stringify(data)}).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    });
  }
  function when(s) { return s ? String(s).replace('T', ' ').slice(0, 19) : ''; }

  // ---- patch details
  var panel = document.getElementById('patch-detail');
  function statusLabel(s) { return cfg.statuses[s] || s; }
  function renderPatch(p) {
    var lang = cfg.lang;
    var flags = ['in_farmland', 'in_redline', 'in_udb'].map(function (k) {
      return '<span class="' + (p[k] ? 'flag-on' : '') + '" data-flag="' + k + '">' + esc(t[k]) + ': ' + esc(flag(p[k])) + '</span>';
    }).join('<br>');
    var options = Object.keys(cfg.statuses).map(function (k) {
      return '<option value="' + esc(k) + '"' + (k === p.status ? ' selected' : '') + '>' + esc(cfg.statuses[k]) + '</option>';
    }).join('');
    panel.innerHTML =
      '<div id="patch" data-patch-no="' + esc(p.patch_no) + '" data-category="' + esc(p.category) + '" data-status="' + esc(p.status) + '">' +
      '<h3>' + esc(t.patch) + ' #' + esc(p.patch_no) + '</h3>' +
      '<table class="meta"><tbody>' +
      '<tr><th>' + esc(t.category) + '</th><td><span class="swatch" style="background:' +
        esc((cfg.colours[p.category] || cfg.default_colour).fill) + '"></span>' + esc(p.category) + ' ' +
        esc(lang === 'zh' ? p.category_zh : p.category_en) + '</td></tr>' +
      (p.subtype ? '<tr><th>' + esc(t.subtype) + '</th><td>' + esc(lang === 'zh' ? p.subtype_zh : p.subtype_en) + '</td></tr>' : '') +
      '<tr><th>' + esc(t.side_a) + '</th><td id="patch-a"><span class="code">' + esc(p.a_code || p.a_raw || '—') + '</span> ' + esc(p.a_name || '') + '</td></tr>' +
      '<tr><th>' + esc(t.side_b) + '</th><td id="patch-b"><span class="code">' + esc(p.b_code || p.b_raw || '—') + '</span> ' + esc(p.b_name || '') + '</td></tr>' +
      '<tr><th>' + esc(t.area_m2) + '</th><td id="patch-area">' + fmt(p.area_m2, 2) + ' m² (' + fmt(p.area_ha, 4) + ' ha)</td></tr>' +
      '<tr><th>' + esc(t.county) + '</th><td>' + esc(p.county_name || '—') + '</td></tr>' +
      '<tr><th>' + esc(t.flags) + '</th><td>' + flags + '</td></tr>' +
      '<tr><th>' + esc(t.priority) + '</th><td id="patch-priority">' + esc(p.priority) + '</td></tr>' +
      '<tr><th>' + esc(t.status) + '</th><td id="patch-status">' + esc(statusLabel(p.status)) + '</td></tr>' +
      '<tr><th>' + esc(t.department) + '</th><td id="patch-department">' + esc(p.department || '—') + '</td></tr>' +
      '<tr><th>' + esc(t.comment) + '</th><td id="patch-comment">' + esc(p.comment || '—') + '</td></tr>' +
      '</tbody></table>' +
      '<form id="resolve-form">' +
      '<label>' + esc(t.status) + ' <select name="status" id="resolve-status">' + options + '</select></label>' +
      '<label>' + esc(t.department) + ' <input type="text" name="department" id="resolve-department" maxlength="200" value="' + esc(p.department || '') + '"></label>' +
      '<label>' + esc(t.comment) + ' <textarea name="comment" id="resolve-comment" maxlength="4000">' + esc(p.comment || '') + '</textarea></label>' +
      '<button type="submit" id="resolve-submit">' + esc(t.save) + '</button> <span id="resolve-result" role="status"></span>' +
      '</form>' +
      '<h3>' + esc(t.history) + '</h3><div id="patch-history"><p class="muted">' + esc(t.loading) + '</p></div>' +
      '</div>';
    document.getElementById('resolve-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var dep = document.getElementById('resolve-department').value.trim();
      var com = document.getElementById('resolve-comment').value.trim();
      var data = {patch_nos: [p.patch_no], status: document.getElementById('resolve-status').value,
                  department: dep || null, comment: com || null};
      var out = document.getElementById('resolve-result');
      out.textContent = t.loading;
      postJSON(cfg.resolve_url, data).then(function (res) {
        if (!res.ok) { out.className = 'error'; out.textContent = t.error + ': ' + message(res.body); return; }
        refresh(p.patch_no, t.saved);
      }).catch(function () { out.className = 'error'; out.textContent = t.error; });
    });
    loadHistory(p.patch_no);
  }
  function loadHistory(no) {
    getJSON(cfg.history_url.replace('{no}', encodeURIComponent(no))).then(function (res) {
      var box = document.getElementById('patch-history');
      if (!box) return;
      if (!res.ok) { box.innerHTML = '<p class="error">' + esc(t.error) + ': ' + esc(message(res.body)) + '</p>'; return; }
      if (!res.body.length) { box.innerHTML = '<p class="muted">' + esc(t.none) + '</p>'; return; }
      box.innerHTML = '<table class="small history"><thead><tr><th>' + esc(t.at) + '</th><th>' + esc(t.status) + '</th><th>' +
        esc(t.department) + '</th><th>' + esc(t.comment) + '</th><th>' + esc(t.actor) + '</th></tr></thead><tbody>' +
        res.body.map(function (h) {
          return '<tr data-status="' + esc(h.status) + '"><td class="nowrap">' + esc(when(h.at)) + '</td><td>' + esc(statusLabel(h.status)) +
            (h.carried_from_run ? ' <span class="muted">(' + esc(t.carried) + ')</span>' : '') + '</td><td>' +
            esc(h.department || '') + '</td><td>' + esc(h.comment || '') + '</td><td>' + esc(h.actor || '') + '</td></tr>';
        }).join('') + '</tbody></table>';
    }).catch(function () { /* the details stay without history */ });
  }
  function refresh(no, note) {
    state.layer.redraw();  // tiles are revalidated: a status change gives them a new ETag
    getJSON(cfg.patch_url.replace('{no}', encodeURIComponent(no))).then(function (res) {
      if (!res.ok) { panel.innerHTML = '<p class="error">' + esc(t.error) + ': ' + esc(message(res.body)) + '</p>'; return; }
      renderPatch(res.body);
      var out = document.getElementById('resolve-result');
      if (out && note) { out.className = 'ok'; out.textContent = note; }
    });
  }
  map.on('click', function (e) {
    if (state.marker) map.removeLayer(state.marker);
    state.marker = L.circleMarker(e.latlng, {radius: 5, color: '#111', weight: 2, fillOpacity: 0.2}).addTo(map);
    panel.innerHTML = '<p class="muted">' + esc(t.loading) + '</p>';
    var url = cfg.patch_at_url + '?lon=' + e.latlng.lng.toFixed(8) + '&lat=' + e.latlng.lat.toFixed(8);
    getJSON(url).then(function (res) {
      if (!res.ok) { panel.innerHTML = '<p class="error" id="patch-error">' + esc(t.error) + ': ' + esc(message(res.body)) + '</p>'; return; }
      if (!res.body.patch) { state.selected = null; panel.innerHTML = '<p id="no-patch">' + esc(t.no_patch) + '</p>'; return; }
      state.selected = res.body.patch.patch_no;
      renderPatch(res.body.patch);
    }).catch(function () { panel.innerHTML = '<p class="error" id="patch-error">' + esc(t.error) + '</p>'; });
  });

  // ---- bulk assignment
  var bulk = document.getElementById('bulk-form');
  bulk.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var out = document.getElementById('bulk-result');
    var cat = document.getElementById('bulk-category').value;
    var area = document.getElementById('bulk-min-area').value.replace(/,/g, '').trim();
    var dep = document.getElementById('bulk-department').value.trim();
    var st = document.getElementById('bulk-status').value;
    var data = {category: cat || null, min_area_m2: area === '' ? null : Number(area),
                department: dep || null, status: st || null};
    if (area !== '' && !(Number(area) >= 0)) { out.className = 'error'; out.textContent = t.error; return; }
    out.className = ''; out.textContent = t.loading;
    postJSON(cfg.resolve_url, data).then(function (res) {
      if (!res.ok) { out.className = 'error'; out.textContent = t.error + ': ' + message(res.body); return; }
      out.className = 'ok';
      out.textContent = t.updated + ': ' + res.body.updated.length;
      out.setAttribute('data-updated', String(res.body.updated.length));
      if (state.selected !== null) { refresh(state.selected); } else { state.layer.redraw(); }
    }).catch(function () { out.className = 'error'; out.textContent = t.error; });
  });
}());
