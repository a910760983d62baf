/* Xinlian portal: "copy" buttons for the widget code on unit pages.
 *
 * Each button names the text area it copies (data-copy). The buttons stay hidden without this script:
 * the read-only text areas can still be selected and copied by hand.
 */
(function () {
  "use strict";

  function copy(button) {
    var area = document.getElementById(button.getAttribute("data-copy"));
    if (!area) {
      return;
    }
    var label = button.textContent;
    function done() {
      button.textContent = button.getAttribute("data-copied");
      window.setTimeout(function () {
        button.textContent = label;
      }, 2000);
    }
    area.focus();
    area.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(done, function () {
        /* refused (permissions): the text stays selected for Ctrl+C */
      });
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  }

  function start() {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i += 1) {
      buttons[i].hidden = false;
      buttons[i].setAttribute("aria-live", "polite");
      buttons[i].addEventListener("click", function (event) {
        copy(event.currentTarget);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
