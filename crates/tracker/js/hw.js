/*
 * Headwater loader: the file a site's script tag points at.
 *
 *   <script async src="https://headwater.example.com/hw.js" data-site="SITE"></script>
 *
 * It keeps calls made before the tracker is ready (`headwater('track', 'x')`),
 * tells the tracker about single-page navigation (`pushState`, `replaceState`),
 * then imports the tracker's glue, which streams and compiles the WebAssembly off
 * the main thread. The form bundle is imported only when
 * a page needs a form. Nothing here blocks the page.
 */
(function (w, d) {
  var script = d.currentScript;
  if (!script || w.headwater && w.headwater.loaded) return;
  var pkg = new URL('pkg/', script.src).href;
  var queue = (w.headwater && w.headwater.q) || [];
  var early = function () { queue.push(arguments); };
  early.q = queue;
  early.loaded = true;
  w.headwater = early;

  // History changes fire no event of their own; the tracker listens for this one.
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      w.dispatchEvent(new Event('hw:navigate'));
      return result;
    };
  });

  var form;
  // Mounts a form into `element`, or as an overlay when `element` is null.
  function loadForm(element, options) {
    form = form || import(pkg + 'headwater_form.js').then(function (m) {
      return m.default({ module_or_path: pkg + 'headwater_form_bg.wasm' }).then(function () { return m; });
    });
    return form.then(function (m) { m.mount(element, options); });
  }

  import(pkg + 'headwater_tracker.js').then(function (m) {
    return m.start({
      site: script.getAttribute('data-site') || '',
      endpoint: new URL('.', script.src).href.replace(/\/$/, ''),
      module: pkg + 'headwater_tracker.wasm'
    }, loadForm).then(function (call) {
      var api = function () { call(arguments); };
      api.loaded = true;
      api.ready = true;
      w.headwater = api;
      for (var i = 0; i < queue.length; i++) call(queue[i]);
      queue.length = 0;
    });
  })['catch'](function (error) { console.warn('headwater: the tracker did not load', error); });
})(window, document);
