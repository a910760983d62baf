/* Xinlian portal: titles suggested while typing in the search box (WAI-ARIA combobox with a listbox).
 *
 * Without this script the box is a plain search form. With it, the box becomes role=combobox: typing
 * asks /api/v1/search/suggest (debounced, stale answers dropped), Up/Down move through the titles
 * (aria-activedescendant), Enter or a click opens the notice, Escape closes the list (a second Escape
 * clears the box), leaving the box closes it. Titles are set with textContent: never markup.
 */
(function () {
  "use strict";
  var DELAY_MS = 150;
  var LIMIT = 8;

  function setUp(input) {
    var listbox = document.getElementById(input.getAttribute("data-listbox"));
    var status = document.getElementById(input.getAttribute("data-status"));
    if (!listbox || !window.fetch) {
      return;
    }
    var suggestUrl = input.getAttribute("data-suggest-url");
    var itemUrl = input.getAttribute("data-item-url");
    var timer = null;
    var asked = 0; // number of the latest request: older answers are dropped
    var active = -1;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", listbox.id);
    input.setAttribute("aria-expanded", "false");

    function options() {
      return listbox.querySelectorAll('[role="option"]');
    }

    function announce(text) {
      if (status) {
        status.textContent = text;
      }
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function select(index) {
      var all = options();
      if (!all.length) {
        return;
      }
      if (listbox.hidden) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
      active = (index + all.length) % all.length;
      for (var i = 0; i < all.length; i += 1) {
        all[i].setAttribute("aria-selected", i === active ? "true" : "false");
      }
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }

    function open(id) {
      window.location.assign(itemUrl + encodeURIComponent(id));
    }

    function show(found) {
      listbox.textContent = "";
      active = -1;
      input.removeAttribute("aria-activedescendant");
      found.forEach(function (suggestion, index) {
        var option = document.createElement("li");
        option.id = listbox.id + "-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = String(suggestion.title);
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep focus in the box until the click opens the notice
        });
        option.addEventListener("click", function () {
          open(suggestion.id);
        });
        listbox.appendChild(option);
      });
      if (found.length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
        announce(input.getAttribute("data-msg-count").replace("{count}", String(found.length)));
      } else {
        close();
        announce(input.getAttribute("data-msg-none"));
      }
    }

    function ask() {
      var text = input.value.trim();
      asked += 1;
      var mine = asked;
      if (!text) {
        listbox.textContent = "";
        close();
        return;
      }
      var url = suggestUrl + "?q=" + encodeURIComponent(text.slice(0, 50)) + "&limit=" + LIMIT;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.json() : [];
        })
        .then(function (found) {
          if (mine === asked && document.activeElement === input) {
            show(Array.isArray(found) ? found.filter(function (s) { return s && s.id; }) : []);
          }
        })
        .catch(function () {
          if (mine === asked) {
            close(); // search is down: the plain form still works
          }
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      var count = options().length;
      if (event.key === "ArrowDown" && count) {
        event.preventDefault();
        select(listbox.hidden ? 0 : active + 1);
      } else if (event.key === "ArrowUp" && count) {
        event.preventDefault();
        select(listbox.hidden ? count - 1 : active - 1);
      } else if (event.key === "Enter" && !listbox.hidden && active >= 0) {
        event.preventDefault();
        options()[active].click();
      } else if (event.key === "Escape") {
        if (!listbox.hidden) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
        }
      }
    });

    input.addEventListener("blur", close);
  }

  function start() {
    var boxes = document.querySelectorAll("input[data-suggest-url]");
    for (var i = 0; i < boxes.length; i += 1) {
      setUp(boxes[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
