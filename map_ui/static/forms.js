// A form that posts is sent once. While the page waits for the answer (a conflict analysis or a
// pre-check can take a while) its submit buttons are disabled, so a second click cannot start
// the same work twice; a form with data-busy shows that text on its button meanwhile.
(function () {
  'use strict';
  function buttons(form) {
    return form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]');
  }
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || form.tagName !== 'FORM' || e.defaultPrevented) { return; }
    if ((form.getAttribute('method') || 'get').toLowerCase() !== 'post') { return; }
    if (form.getAttribute('data-sending')) { e.preventDefault(); return; }
    form.setAttribute('data-sending', '1');
    form.setAttribute('aria-busy', 'true');
    var busy = form.getAttribute('data-busy');
    Array.prototype.forEach.call(buttons(form), function (b) {
      b.setAttribute('data-label', b.textContent);
      b.disabled = true;
      if (busy) { b.textContent = busy; }
    });
  });
  // A page brought back with the browser's Back button is usable again.
  window.addEventListener('pageshow', function (e) {
    if (!e.persisted) { return; }
    Array.prototype.forEach.call(document.querySelectorAll('form[data-sending]'), function (form) {
      form.removeAttribute('data-sending');
      form.removeAttribute('aria-busy');
      Array.prototype.forEach.call(buttons(form), function (b) {
        b.disabled = false;
        if (b.hasAttribute('data-label')) { b.textContent = b.getAttribute('data-label'); }
      });
    });
  });
}());
