// The case page's photo viewer: two panes (the second for side by side), each with zoom,
// rotate, fit and actual size, by mouse or keyboard (+ - r R f 0 on a focused photo).
"use strict";
(function () {
  var STEP = 1.25;
  function Pane(root) {
    this.root = root;
    this.stage = root.querySelector(".stage");
    this.img = root.querySelector("img.shown");
    this.title = root.querySelector(".viewer-title");
    this.zoom = 1;
    this.angle = 0;
    this.fit = true;
  }
  Pane.prototype.apply = function () {
    this.stage.classList.toggle("fit", this.fit);
    this.img.style.transform = "rotate(" + this.angle + "deg) scale(" + this.zoom + ")";
    this.root.dataset.zoom = String(this.zoom);
    this.root.dataset.angle = String(this.angle);
  };
  Pane.prototype.show = function (src, label) {
    this.root.hidden = false;
    this.img.hidden = false;
    this.img.src = src;
    this.img.alt = label;
    this.title.textContent = label;
    this.zoom = 1; this.angle = 0; this.fit = true;
    this.apply();
  };
  Pane.prototype.act = function (action) {
    if (action === "zoom-in") { this.zoom = this.zoom * STEP; }
    else if (action === "zoom-out") { this.zoom = this.zoom / STEP; }
    else if (action === "rotate-left") { this.angle = (this.angle + 270) % 360; }
    else if (action === "rotate-right") { this.angle = (this.angle + 90) % 360; }
    else if (action === "fit") { this.fit = true; this.zoom = 1; }
    else if (action === "actual") { this.fit = false; this.zoom = 1; }
    else if (action === "close") { this.root.hidden = true; return; }
    this.apply();
  };
  var KEYS = { "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "r": "rotate-right",
               "R": "rotate-left", "f": "fit", "0": "actual" };
  document.addEventListener("DOMContentLoaded", function () {
    var panes = {};
    document.querySelectorAll(".viewer").forEach(function (root) {
      var pane = new Pane(root);
      panes[root.dataset.pane] = pane;
      root.querySelectorAll("[data-action]").forEach(function (button) {
        button.addEventListener("click", function () { pane.act(button.dataset.action); });
      });
      pane.stage.addEventListener("keydown", function (event) {
        var action = KEYS[event.key];
        if (action && !event.ctrlKey && !event.metaKey && !event.altKey) {
          event.preventDefault();
          pane.act(action);
        }
      });
    });
    document.querySelectorAll("[data-show]").forEach(function (button) {
      button.addEventListener("click", function () {
        var pane = panes[button.dataset.show];
        pane.show(button.dataset.src, button.dataset.label);
        pane.stage.focus();
      });
    });
    var first = document.querySelector('[data-show="a"]');
    if (first) { panes.a.show(first.dataset.src, first.dataset.label); }
  });
})();
