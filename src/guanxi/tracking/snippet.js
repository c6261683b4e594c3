/* guanxi web tracking. Served by guanxi at /t/<site key>/g.js; no third-party code.
   window.guanxi.track(type, properties) · identify(traits) · page() · form(key, element) */
(function (w, d) {
  "use strict";
  var BASE = "__BASE__", SITE = "__SITE__", COOKIE = "gx_aid", YEAR2 = 63072000;
  if (w.guanxi && w.guanxi.loaded) return;
  var queued = (w.guanxi && w.guanxi.q) || [];

  function uid() {
    var a = new Uint8Array(16);
    (w.crypto || w.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function writeCookie(name, value) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" + YEAR2 + "; SameSite=Lax";
  }
  function anonymousId(fresh) {
    var id = fresh ? null : (readCookie(COOKIE) || safeGet(COOKIE));
    if (!id) { id = uid(); }
    writeCookie(COOKIE, id); safeSet(COOKIE, id);
    return id;
  }
  function safeGet(k) { try { return w.localStorage.getItem(k); } catch (e) { return null; } }
  function safeSet(k, v) { try { w.localStorage.setItem(k, v); } catch (e) { /* private mode */ } }

  var aid = anonymousId(false);
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  function utm() {
    var out = {}, q = new URLSearchParams(w.location.search), any = false;
    UTM.forEach(function (k) { var v = q.get(k); if (v) { out[k] = v; any = true; } });
    if (any) { try { w.sessionStorage.setItem("gx_utm", JSON.stringify(out)); } catch (e) { /* */ } }
    else { try { out = JSON.parse(w.sessionStorage.getItem("gx_utm") || "{}"); } catch (e) { out = {}; } }
    return out;
  }

  function send(path, body) {
    var url = BASE + "/t/" + SITE + path, text = JSON.stringify(body);
    if (path === "/collect" && w.navigator.sendBeacon) {
      if (w.navigator.sendBeacon(url, new Blob([text], { type: "text/plain" }))) return Promise.resolve(null);
    }
    return w.fetch(url, { method: "POST", body: text, keepalive: true, headers: { "Content-Type": "text/plain" } })
      .then(function (r) { return r.ok ? r.json().catch(function () { return null; }) : null; });
  }
  function track(type, properties) {
    return send("/collect", { anonymous_id: aid, events: [{ id: uid(), type: type, properties: properties || {} }] });
  }

  var shownAt = Date.now(), maxScroll = 0, left = false;
  function scrolled() {
    var h = Math.max(d.documentElement.scrollHeight - w.innerHeight, 1);
    maxScroll = Math.max(maxScroll, Math.min(1, (w.scrollY || 0) / h));
  }
  function page() {
    var props = { url: w.location.href, title: d.title, referrer: d.referrer || undefined }, u = utm();
    var q = new URLSearchParams(w.location.search);  /* this page's own tags; forms use the visit's */
    Object.keys(u).forEach(function (k) { if (q.get(k)) props[k] = u[k]; });
    return track("page_view", props);
  }
  function leave() {
    if (left) return;
    left = true;
    var visible = Date.now() - shownAt;
    scrolled();
    if (d.documentElement.scrollHeight <= w.innerHeight) maxScroll = 1;
    track("page_leave", { url: w.location.href, dwell_s: Math.round(visible / 100) / 10, completion: Math.round(maxScroll * 100) / 100 });
  }
  /* The page is left when it is hidden for good: pagehide is not always fired (mobile, bfcache),
     so the first "hidden" counts as leaving, as browsers recommend. */
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") leave(); });
  w.addEventListener("scroll", scrolled, { passive: true });
  w.addEventListener("pagehide", leave);

  function identify(traits) {
    return send("/identify", { anonymous_id: aid, traits: traits || {} }).then(function (r) {
      if (r && r.rotate) aid = anonymousId(true);
      return r;
    });
  }

  /* Forms: rendered into the page from their definition; what is known is not asked again. */
  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }
  function form(key, target) {
    var box = typeof target === "string" ? d.querySelector(target) : target;
    var url = BASE + "/f/" + key;
    return w.fetch(url + ".json?anonymous_id=" + encodeURIComponent(aid)).then(function (r) { return r.json(); }).then(function (def) {
      var f = el("form", { "class": "gx-form", "data-guanxi-form": key, novalidate: "" });
      def.fields.forEach(function (field) {
        var row = el("p", { "class": "gx-field" }), id = "gx-" + key + "-" + field.key;
        if (field.type === "consent" || field.type === "checkbox") {
          var cb = el("input", { type: "checkbox", id: id, name: field.key, value: "true" });
          if (field.required) cb.required = true;
          var lab = el("label", { "for": id }); lab.appendChild(cb); lab.appendChild(d.createTextNode(" " + field.label));
          row.appendChild(lab);
        } else {
          row.appendChild(el("label", { "for": id }, field.label + (field.required ? " *" : "")));
          var input;
          if (field.type === "select") {
            input = el("select", { id: id, name: field.key });
            input.appendChild(el("option", { value: "" }, ""));
            (field.options || []).forEach(function (o) { input.appendChild(el("option", { value: o }, o)); });
          } else if (field.type === "textarea") {
            input = el("textarea", { id: id, name: field.key });
          } else {
            input = el("input", { id: id, name: field.key, type: { email: "email", phone: "tel", number: "number", date: "date" }[field.type] || "text" });
          }
          if (field.required) input.required = true;
          row.appendChild(input);
        }
        f.appendChild(row);
      });
      var trap = el("input", { type: "text", name: def.honeypot, tabindex: "-1", autocomplete: "off", "aria-hidden": "true" });
      trap.style.cssText = "position:absolute;left:-9999px;width:1px;height:1px;opacity:0";
      f.appendChild(trap);
      var msg = el("p", { "class": "gx-message", role: "status" });
      f.appendChild(el("button", { type: "submit" }, def.submit_label));
      f.appendChild(msg);
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var values = {};
        Array.prototype.forEach.call(f.elements, function (e) {
          if (!e.name) return;
          values[e.name] = e.type === "checkbox" ? e.checked : e.value;
        });
        var u = utm();
        w.fetch(url, {
          method: "POST",
          headers: { "Content-Type": "text/plain" },  /* a simple request: no CORS preflight */
          body: JSON.stringify({ values: values, anonymous_id: aid, context: Object.assign({ url: w.location.href, referrer: d.referrer || null }, u) })
        }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); }).catch(function () {
          return [false, {}];
        }).then(function (res) {
          if (!res[0]) { msg.textContent = (res[1].error && res[1].error.message) || "!"; return; }
          if (res[1].rotate) aid = anonymousId(true);
          if (res[1].redirect_url) { w.location.href = res[1].redirect_url; return; }
          f.replaceChildren(el("p", { "class": "gx-thanks", "data-testid": "gx-thanks" }, res[1].message));
        });
      });
      box.replaceChildren(f);
      return f;
    });
  }

  w.guanxi = { loaded: true, track: track, identify: identify, page: page, form: form, anonymousId: function () { return aid; } };
  page();
  queued.forEach(function (call) { w.guanxi[call[0]].apply(null, call[1]); });
})(window, document);
