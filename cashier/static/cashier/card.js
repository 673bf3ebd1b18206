/* The card page: "Add to home screen" where the browser offers its install prompt. */
(function () {
  "use strict";
  var button = document.getElementById("add-to-home");
  var deferred = null;
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
    deferred = event;
    if (button) { button.classList.remove("hidden"); }
  });
  if (button) {
    button.addEventListener("click", function () {
      if (!deferred) { return; }
      deferred.prompt();
      deferred = null;
      button.classList.add("hidden");
    });
  }
})();
