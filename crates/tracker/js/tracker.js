/*
 * The tracker's glue: the page's side of the WebAssembly tracker, written by hand
 * rather than generated, because every page view of every customer site pays for
 * it. It only moves facts across: it listens to the page, reads the DOM and
 * storage, sends requests, and hands the WebAssembly (crates/tracker) what
 * happened. Every decision (sessions, page views, engagement, behaviours, the
 * queue, consent) is made in the WebAssembly.
 *
 * Text crosses in both directions the same way: this side keeps the texts to hand
 * over in `stash`, and the WebAssembly takes them one at a time, `next` giving
 * the length of the next one (-1 for none) and `copy` writing it into memory the
 * WebAssembly allocated. Text going the other way is a pointer and a length.
 */
export async function start({ site, endpoint, module }, loadForm) {
  const w = window, d = document, n = navigator;
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  let wasm, stash = [], taken, target = null, forms = [];

  const memory = () => new Uint8Array(wasm.memory.buffer);
  const text = (at, length) => decoder.decode(memory().subarray(at, at + length));
  const give = (...texts) => {
    stash = texts.map((value) => value == null ? null : encoder.encode(value));
  };
  const next = () => (taken = stash.shift()) ? taken.length : -1;
  const reply = (value) => (give(value), next());
  // localStorage throws where the browser refuses it (private modes, blocked
  // cookies, a full quota): that reads as no value, and nothing is kept.
  const stored = (act) => { try { return act(w.localStorage); } catch (e) { return null; } };
  const options = (form, visitor) =>
    JSON.stringify({ site, endpoint, visitor_id: visitor, form });
  const formById = (id) => forms.find((form) => form.id == id);
  const unmounted = '[data-headwater-form]:not([data-headwater-mounted])';

  // The module's imports, by the names crates/tracker/src/browser.rs gives them.
  // They alone are written in double quotes (with the module's name, "hw"): the
  // build renames each to a letter or two, here and in the WebAssembly.
  const imports = {
    "next": next,
    "copy": (at) => memory().set(taken, at),
    "now": Date.now,
    "random_bytes"(at) {
      const bytes = memory().subarray(at, at + 16);
      try { crypto.getRandomValues(bytes); } catch (e) {
        for (let i = 0; i < 16; i++) bytes[i] = Math.random() * 256;
      }
    },
    "random": Math.random,
    "load": (key, length) => reply(stored((s) => s.getItem(text(key, length)))),
    "save": (key, length, value, valueLength) =>
      stored((s) => (s.setItem(text(key, length), text(value, valueLength)), 1)) || 0,
    "remove": (key, length) => stored((s) => s.removeItem(text(key, length))),
    "keys": (prefix, length) => give(...stored((s) =>
      Object.keys(s).filter((key) => key.startsWith(text(prefix, length)))) || []),
    "send"(path, length, body, bodyLength, request) {
      fetch(endpoint + text(path, length), {
        method: 'POST', body: text(body, bodyLength), keepalive: true, credentials: 'omit'
      }).then((response) => response.status, () => 0)
        .then((status) => wasm.answered(request, status));
    },
    "warn": (message, length) => console.warn(text(message, length)),
    "log": (kind, length) => console.log('headwater event', text(kind, length)),
    "href": () => reply(location.href),
    "referrer": () => reply(d.referrer),
    "title": () => reply(d.title),
    "scroll_y": () => w.scrollY,
    "viewport_height": () => w.innerHeight,
    "page_height": () => d.documentElement.scrollHeight,
    "visible": () => d.visibilityState != 'hidden',
    "offline": () => n.onLine === false,
    "automated": () => n.webdriver === true,
    "asks_not_to_be_tracked": () =>
      n.doNotTrack == '1' || w.doNotTrack == '1' || n.globalPrivacyControl === true,
    "link_href": () => reply(target && (target.closest('a[href]') || {}).href),
    // An invalid selector (a typo in the configuration) matches nothing.
    "target_matches"(selector, length) {
      try { return !!(target && target.closest(text(selector, length))); } catch (e) { return 0; }
    },
    "overlay_open": () => !!d.querySelector('.hw-overlay'),
    "show_overlay": (id, length, visitor, visitorLength) =>
      loadForm(null, options(formById(text(id, length)), text(visitor, visitorLength))),
    "marked_forms": () => !!d.querySelector(unmounted),
    "mount_inline"(visitor, length) {
      for (const element of d.querySelectorAll(unmounted)) {
        const form = formById(element.getAttribute('data-headwater-form')) || forms[0];
        if (!form) return console.warn('headwater: the site has no form to show');
        element.setAttribute('data-headwater-mounted', '');
        loadForm(element, options(form, text(visitor, length)));
      }
    },
    "watch_exit_intent": () => w.addEventListener('mouseout', listener, true),
  };

  // The name a site's form is reported by: its id, its name, the path it posts to,
  // or just `form`; none for what is not a form, and for Headwater's own forms.
  // Attributes, not properties: `form.id` would be a field named `id`.
  function siteFormName(form) {
    if (!form || form.tagName != 'FORM' || form.hasAttribute('data-headwater-rendered')) return;
    const attribute = (name) => (form.getAttribute(name) || '').trim();
    return attribute('id') || attribute('name')
      || (attribute('action') && new URL(form.action).pathname) || 'form';
  }

  // What says the visitor is here: frequent, so it crosses without any text.
  const activity = ['pointerdown', 'pointermove', 'keydown', 'touchstart', 'wheel'];
  // The page's events the tracker handles by their place in this list (the order of
  // `PageEvent` in crates/tracker/src/page.rs). `hw:navigate` is what the loader
  // dispatches after pushState and replaceState.
  const pageEvents = ['scroll', 'visibilitychange', 'pagehide', 'online', 'hw:navigate',
    'popstate', 'hashchange'];

  function listener(event) {
    const type = event.type, element = event.target;
    target = element && element.closest ? element : null;
    if (activity.includes(type)) {
      wasm.active();
    } else if (type == 'click') {
      wasm.clicked();
    } else if (type == 'pageshow') {
      if (event.persisted) wasm.restored();
    } else if (type == 'mouseout') {
      if (!event.relatedTarget && event.clientY <= 0) wasm.exit_intent();
    } else if (type == 'submit' || type == 'input' || type == 'change') {
      // Never a value, and nothing at all about password fields.
      if (type != 'submit' && String(element.type).toLowerCase() == 'password') return;
      const name = siteFormName(type == 'submit' ? element : element && element.form);
      if (name) {
        give(name);
        wasm.site_form(type == 'submit');
      }
    } else {
      wasm.happened(pageEvents.indexOf(type));
    }
  }

  function configure(config) {
    forms = config.forms || [];
    // Settings that are one of a few names cross as their place in a list (see
    // crates/tracker/src/config.rs); -1 for none of them.
    const triggers = ['click', 'page', 'event', 'time_on_page', 'scroll_depth'];
    for (const behaviour of config.behaviours || []) {
      const trigger = triggers.findIndex((name) => behaviour[name] != null);
      const value = behaviour[triggers[trigger]] || {};
      give(behaviour.name, typeof value == 'string' ? value : value.page);
      wasm.behaviour(trigger, value.seconds ?? value.percent, behaviour.points,
        behaviour.limit ?? 1);
    }
    for (const form of forms) {
      const display = form.display || {}, trigger = display.trigger || {};
      const engagement = trigger.engagement || {};
      const opens = display.mode != 'overlay' ? 0 : trigger.click != null ? 1
        : trigger.exit_intent ? 2 : trigger.engagement ? 3 : 0;
      give(form.id, trigger.click);
      wasm.form(opens, engagement.points, engagement.pages_seen, engagement.engaged_seconds);
    }
    const privacy = config.privacy || {};
    wasm.configure(['required', 'cookieless'].indexOf(privacy.consent) + 1,
      privacy.respect_do_not_track !== false, config.hash_routing === true);
  }

  // Until the configuration comes nothing is sent, so it is asked for again.
  function fetchConfig() {
    fetch(endpoint + '/api/v1/sites/' + encodeURIComponent(site) + '/config',
      { credentials: 'omit' })
      .then((response) => response.ok ? response.json() : Promise.reject())
      .then(configure, () => {
        console.warn('headwater: the site configuration did not load; retrying');
        setTimeout(fetchConfig, 10000);
      });
  }

  // Compiled while it downloads; a server sending the wrong type gets the slow way.
  const { instance } = await WebAssembly.instantiateStreaming(fetch(module), { "hw": imports })
    .catch(() => fetch(module).then((response) => response.arrayBuffer())
      .then((bytes) => WebAssembly.instantiate(bytes, { "hw": imports })));
  wasm = instance.exports;

  give(site);
  if (!wasm.start()) return () => {};
  // Everything the tracker listens for, on the window in the capture phase
  // (events on the document and its elements pass it first), passively.
  for (const type of [...activity, ...pageEvents, 'pageshow', 'click', 'input', 'change',
    'submit']) {
    w.addEventListener(type, listener, { passive: true, capture: true });
  }
  setInterval(wasm.tick, 1000);
  fetchConfig();

  // A property's value as text: what is not a string as JSON (`12`, `true`); what
  // JSON cannot write (a BigInt, a cycle) as nothing.
  const asText = (value) => {
    try { return typeof value == 'string' ? value : JSON.stringify(value) ?? ''; } catch (e) {
      return '';
    }
  };

  // `headwater(command, ...)`: the texts the command needs, then one call.
  return function call([command, first, second]) {
    const traits = command == 'identify' ? first : second;
    const entries = Object.entries(traits && typeof traits == 'object' ? traits : {});
    give(String(command), command == 'track' ? first : null,
      ...entries.flatMap(([key, value]) => [key, asText(value)]));
    wasm.call(!!first);
  };
}
