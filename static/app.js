// NextGenRDP: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Copy buttons (`<button data-copy="text" hidden>`): shown only where the clipboard API
  // works (https or localhost); the text stays on the page to select by hand otherwise.
  if (navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var label = button.firstChild; // the visible word; a hidden span says what is copied
      var original = label && label.nodeValue;
      var timer = 0;
      button.hidden = false;
      button.addEventListener("click", function () {
        var show = function (word, copied) {
          if (label) label.nodeValue = word;
          button.classList.toggle("is-copied", copied);
          clearTimeout(timer);
          timer = setTimeout(function () {
            if (label) label.nodeValue = original;
            button.classList.remove("is-copied");
          }, 2000);
        };
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(
          function () { show("Copied", true); },
          function () { show("Select and copy", false); }
        );
      });
    });
  }

  // Phones: the header's links fold under a Menu button (CSS shows it below 40rem).
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("site-nav");
  if (toggle && nav) {
    document.documentElement.classList.add("has-menu");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // The back office's menu folds under a button on phones (CSS shows it below 56rem).
  var adminToggle = document.querySelector(".admin-menu-toggle");
  var adminMenu = document.getElementById("admin-menu");
  if (adminToggle && adminMenu) {
    document.documentElement.classList.add("has-admin-menu");
    adminToggle.hidden = false;
    adminToggle.addEventListener("click", function () {
      var open = adminMenu.classList.toggle("is-open");
      adminToggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // A form marked `data-auto-submit` (the signed form to a payment provider) is sent at once;
  // its visible button is there for when this script does not run.
  var auto = document.querySelector("form[data-auto-submit]");
  if (auto) auto.submit();
})();
