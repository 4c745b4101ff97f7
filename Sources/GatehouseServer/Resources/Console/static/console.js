// Gatehouse console: the only script. Asks before a destructive form (delete, revoke) is sent.
// Without it every form still works; the button's label says what it does.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
