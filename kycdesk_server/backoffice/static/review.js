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
    // Return comments: "Comment" beside an answer or a photo fills the first free row
    // (a new row if all are taken) and puts the cursor in its text.
    function addRow() {
      var rows = document.querySelectorAll(".comment-row");
      var last = rows[rows.length - 1];
      var n = rows.length;
      var row = last.cloneNode(true);
      row.querySelector("legend").textContent = "Comment " + (n + 1);
      [["select", "target-"], ["textarea", "comment-"]].forEach(function (pair) {
        var field = row.querySelector(pair[0]);
        var label = row.querySelector('label[for="' + field.id + '"]');
        field.id = pair[1] + n;
        field.value = "";
        label.setAttribute("for", field.id);
      });
      last.after(row);
      return row;
    }
    var add = document.getElementById("add-comment");
    if (add) {
      add.addEventListener("click", function () { addRow().querySelector("select").focus(); });
    }
    document.querySelectorAll(".comment-on").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = button.dataset.target;
        var rows = Array.prototype.slice.call(document.querySelectorAll(".comment-row"));
        var row = rows.filter(function (r) {
          return r.querySelector("select").value === target; })[0] ||
          rows.filter(function (r) { return r.querySelector("select").value === ""; })[0] ||
          addRow();
        row.querySelector("select").value = target;
        var text = row.querySelector("textarea");
        text.scrollIntoView({ block: "center" });
        text.focus();
      });
    });
    var first = document.querySelector('[data-show="a"]');
    if (first) { panes.a.show(first.dataset.src, first.dataset.label); }
  });
})();
