// Every form that posts, and every fetch that writes, carries the session's CSRF token. The
// platform sets it at sign-in in the gisplat_csrf cookie, which only this site's scripts can
// read; the server compares it with the token it keeps for the session.
(function () {
  'use strict';
  var m = document.cookie.match(/(?:^|;\s*)gisplat_csrf=([^;]+)/);
  if (!m) { return; }
  var token = decodeURIComponent(m[1]);
  function stamp(form) {
    if ((form.getAttribute('method') || 'get').toLowerCase() !== 'post') { return; }
    if (form.querySelector('input[name="csrf_token"]')) { return; }
    var input = document.createElement('input');
    input.type = 'hidden'; input.name = 'csrf_token'; input.value = token;
    form.appendChild(input);
  }
  function stampAll() { Array.prototype.forEach.call(document.querySelectorAll('form'), stamp); }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', stampAll); } else { stampAll(); }
  document.addEventListener('submit', function (e) { if (e.target && e.target.tagName === 'FORM') { stamp(e.target); } }, true);
  var original = window.fetch;
  window.fetch = function (input, init) {
    init = init || {};
    var method = (init.method || 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      var headers = new Headers(init.headers || {});
      headers.set('X-CSRF-Token', token);
      init.headers = headers;
    }
    return original.call(this, input, init);
  };
}());
