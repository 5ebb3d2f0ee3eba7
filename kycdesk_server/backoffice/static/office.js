// The back office's one script (served by the server; the CSP allows no inline script).
// `kycdeskOffice.fetch` is fetch with this session's CSRF token in the X-CSRF-Token header,
// for the pages' JSON calls to /api/office/....
"use strict";
(function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function officeFetch(url, options) {
    var init = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = new Headers(init.headers || {});
    headers.set("X-CSRF-Token", csrfToken());
    init.headers = headers;
    return fetch(url, init);
  }
  window.kycdeskOffice = { fetch: officeFetch, csrfToken: csrfToken };
})();
