// batchops console: live refresh and small form helpers. Hand-written, no dependencies.
(function () {
  "use strict";

  // Live refresh: poll the page's JSON endpoint every 2 s and swap in the server-rendered parts
  // ([data-live="name"]) that changed, leaving a part alone while the keyboard focus is inside it.
  var source = document.querySelector("[data-live-url]");
  var last = {};
  function apply(data) {
    Object.keys(data.parts || {}).forEach(function (name) {
      var html = data.parts[name];
      var part = document.querySelector('[data-live="' + name + '"]');
      if (!part || last[name] === html) return;
      if (part.contains(document.activeElement) && document.activeElement !== document.body) return;
      part.innerHTML = html;
      last[name] = html;
    });
    return !data.final;
  }
  function poll() {
    if (document.hidden) { setTimeout(poll, 2000); return; }
    fetch(source.dataset.liveUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return false; } // signed out: show the sign-in page
        return response.ok ? response.json().then(apply) : true;
      })
      .catch(function () { return true; }) // the server may be restarting: try again next round
      .then(function (again) { if (again) setTimeout(poll, 2000); });
  }
  if (source) setTimeout(poll, 2000);

  // Create form: show only the chosen operation's fields and the chosen manifest source.
  function showChosen(attribute, value) {
    document.querySelectorAll("[data-" + attribute + "]").forEach(function (group) {
      group.hidden = group.dataset[attribute] !== value;
    });
  }
  var operation = document.querySelector('[data-toggle="operation"]');
  if (operation) {
    showChosen("operation", operation.value);
    operation.addEventListener("change", function () { showChosen("operation", operation.value); });
  }
  var sources = document.querySelectorAll('[data-toggle="manifest"]');
  sources.forEach(function (radio) {
    if (radio.checked) showChosen("manifest", radio.value);
    radio.addEventListener("change", function () { showChosen("manifest", radio.value); });
  });
})();
