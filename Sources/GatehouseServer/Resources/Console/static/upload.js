// Gatehouse console: sends upload forms (marked data-upload) with XMLHttpRequest so that the
// page can show how much of the file has gone up, then shows the page Gatehouse answers, as
// the browser would have. Without this script the same forms are sent the ordinary way.
"use strict";
(function () {
  if (window.gatehouseUploads) { return; }
  window.gatehouseUploads = true;

  function size(bytes) {
    if (bytes < 1000) { return bytes + " bytes"; }
    if (bytes < 1000000) { return (bytes / 1000).toFixed(1) + " KB"; }
    return (bytes / 1000000).toFixed(1) + " MB";
  }

  // Shows the answer: its body replaces this one (this script's listener stays on the document).
  function show(xhr, form, file) {
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var action = form.getAttribute("action");
    if (xhr.responseURL && xhr.responseURL !== form.action) { window.history.replaceState(null, "", xhr.responseURL); }
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    var again = document.querySelector("form[data-upload][action='" + action + "']");
    var input = again && again.querySelector("input[type=file]");
    // A rejected form keeps the file that was chosen, as the server keeps the typed fields.
    if (input && file && again.querySelector(".field-error, .error") && window.DataTransfer) {
      try { var kept = new DataTransfer(); kept.items.add(file); input.files = kept.files; } catch (ignored) { /* the user chooses it again */ }
    }
    var focus = document.querySelector(".field-error, p.error, p.notice") ;
    var main = document.getElementById("main");
    if (focus && focus.classList.contains("field-error")) {
      var field = focus.parentNode.querySelector("input, select, textarea");
      if (field) { field.focus(); return; }
    }
    if (main) { main.focus(); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form || !form.hasAttribute || !form.hasAttribute("data-upload")) { return; }
    if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) { return; }
    event.preventDefault();
    var data = new FormData(form);
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files.length ? input.files[0] : null;
    var box = form.querySelector(".upload-progress");
    var bar = box && box.querySelector("progress");
    var status = box && box.querySelector(".upload-status");
    var button = form.querySelector("button[type=submit]");
    function say(text) { if (status) { status.textContent = text; } }
    if (box) { box.hidden = false; }
    if (bar) { bar.value = 0; }
    if (button) { button.disabled = true; }
    say(file ? "Uploading " + file.name + " (" + size(file.size) + ")…" : "Sending…");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) { return; }
      var percent = Math.floor(progress.loaded * 100 / progress.total);
      if (bar) { bar.value = percent; }
      form.setAttribute("data-progress", String(percent));
      say("Uploading: " + percent + " % (" + size(progress.loaded) + " of " + size(progress.total) + ")");
    });
    xhr.upload.addEventListener("load", function () {
      if (bar) { bar.value = 100; }
      form.setAttribute("data-progress", "100");
      say("Uploaded. Gatehouse is checking the file…");
    });
    xhr.addEventListener("load", function () { show(xhr, form, file); });
    xhr.addEventListener("error", function () {
      if (button) { button.disabled = false; }
      say("The upload failed: the connection was lost. Try again.");
    });
    xhr.send(data);
  });
}());
