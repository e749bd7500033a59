/*
 * Headwater as an ES module, for sites that bundle their own JavaScript:
 *
 *   import { init, track } from 'headwater';   // pkg/ as an npm package
 *   init({ site: 'SITE', endpoint: 'https://headwater.example.com' });
 *   track('webinar_signup', { plan: 'pro' });
 *
 * It does what hw.js does for a script tag: calls made before the tracker is
 * ready are queued, single-page navigation is reported, and the form bundle is
 * imported only when a page needs a form.
 */
import { start } from './headwater_tracker.js';

let call = null;
const early = [];
let form = null;

/** Any call of the script tag's API: `headwater('track', name, properties)`. */
export function headwater(...args) {
  if (call) call(args); else early.push(args);
}

/** Starts tracking for `site`, sending to the Headwater server at `endpoint`. */
export async function init({ site, endpoint }) {
  if (call) return headwater;
  reportNavigation();
  call = await start({
    site,
    endpoint: String(endpoint).replace(/\/$/, ''),
    module: new URL('./headwater_tracker.wasm', import.meta.url),
  }, loadForm);
  early.splice(0).forEach(call);
  return headwater;
}

export const track = (name, properties) => headwater('track', name, properties);
export const identify = (traits) => headwater('identify', traits);
export const page = () => headwater('page');
export const consent = (grant) => headwater('consent', grant);
export const reset = () => headwater('reset');

function loadForm(element, options) {
  form = form || import('./headwater_form.js').then((m) =>
    m.default({ module_or_path: new URL('./headwater_form_bg.wasm', import.meta.url) }).then(() => m));
  return form.then((m) => m.mount(element, options));
}

// History changes fire no event of their own; the tracker listens for this one.
function reportNavigation() {
  for (const name of ['pushState', 'replaceState']) {
    const original = history[name];
    history[name] = function (...args) {
      const result = original.apply(this, args);
      window.dispatchEvent(new Event('hw:navigate'));
      return result;
    };
  }
}
