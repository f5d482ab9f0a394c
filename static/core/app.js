// Glue between htmx and Bootstrap: the shared modal and the toasts.
(function () {
  "use strict";

  const modalElement = document.getElementById("modal");
  const modalContent = document.getElementById("modal-content");
  const modal = bootstrap.Modal.getOrCreateInstance(modalElement);

  // A form swapped into the modal shows it.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target === modalContent) {
      modal.show();
    }
  });

  // The one way the modal closes itself: a successful submit answers an empty 204, which is
  // not swapped in; the form stays until the modal is hidden. Bootstrap ignores hide() while
  // the dialog is still fading in, so an answer faster than the fade closes it once shown.
  let closeRequested = false;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === modalContent && event.detail.xhr.status === 204) {
      closeRequested = true;
      modal.hide();
      event.detail.shouldSwap = false;
    }
  });

  // The field the user entered while the modal was still opening. Bootstrap's focus trap moves
  // the focus to the dialog itself just before `shown`, so the field must be remembered here.
  let opening = false;
  let fieldEnteredWhileOpening = null;
  modalElement.addEventListener("show.bs.modal", () => {
    opening = true;
    fieldEnteredWhileOpening = null;
  });
  modalContent.addEventListener("focusin", (event) => {
    if (opening && event.target.matches("input, select, textarea")) {
      fieldEnteredWhileOpening = event.target;
    }
  });

  // Once shown, put the cursor back where the user put it, or else in the first field.
  modalElement.addEventListener("shown.bs.modal", () => {
    const entered = fieldEnteredWhileOpening;
    opening = false;
    fieldEnteredWhileOpening = null;
    if (closeRequested) {
      modal.hide();
      return;
    }
    if (entered && modalContent.contains(entered)) {
      entered.focus();
      return;
    }
    const first = modalContent.querySelector(
      "input:not([type=hidden]):not([tabindex='-1']), select:not([tabindex='-1']), textarea"
    );
    if (first) first.focus();
  });

  // Empty the modal once hidden, so a stale form never flashes when it opens next.
  modalElement.addEventListener("hidden.bs.modal", () => {
    closeRequested = false;
    modalContent.replaceChildren();
  });

  const toastLevels = { success: "success", info: "info", warning: "warning", error: "danger", danger: "danger" };

  function showToast(text, level) {
    const template = document.getElementById("toast-template");
    const toast = template.content.firstElementChild.cloneNode(true);
    toast.classList.add("text-bg-" + (toastLevels[level] || "secondary"));
    // textContent, never innerHTML: the text may quote what a user typed.
    toast.querySelector(".toast-body").textContent = text;
    document.getElementById("toasts").appendChild(toast);
    toast.addEventListener("hidden.bs.toast", () => toast.remove());
    bootstrap.Toast.getOrCreateInstance(toast).show();
  }

  // Django messages of an htmx answer (core/middleware.py): HX-Trigger says
  // {"showMessage": {"text": "...", "level": "success"}}, or a list of those, which htmx hands
  // over as the event's `value`.
  document.body.addEventListener("showMessage", (event) => {
    const detail = event.detail || {};
    const messages = Array.isArray(detail.value) ? detail.value : [detail];
    messages.forEach((message) => showToast(message.text || "", message.level || "success"));
  });

  document.querySelectorAll("#toasts .toast").forEach((element) => {
    bootstrap.Toast.getOrCreateInstance(element).show();
  });

  window.mailingService = { showToast: showToast };
})();

// Live validation swaps only a field's error element (`data-errors-for` names its input); the
// input itself is never replaced, so its invalid style follows here.
(function () {
  "use strict";

  document.addEventListener("htmx:load", (event) => {
    const errors = event.detail.elt;
    if (!errors.dataset || !errors.dataset.errorsFor) return;
    const input = document.getElementById(errors.dataset.errorsFor);
    if (input) input.classList.toggle("is-invalid", errors.textContent.trim() !== "");
  });
})();

// The mailing form's client picker: Tom Select over a <select multiple data-search-url>, which
// renders only the chosen clients and a few others; the rest are searched on the server.
(function () {
  "use strict";

  function enhanceClientPickers(root) {
    if (typeof TomSelect === "undefined") return;
    root.querySelectorAll("select[data-search-url]").forEach((select) => {
      if (select.tomselect) return;
      const searchUrl = select.dataset.searchUrl;
      new TomSelect(select, {
        plugins: ["remove_button"],
        maxOptions: 50,
        loadThrottle: 250,
        load(query, callback) {
          const url = new URL(searchUrl, window.location.href);
          url.searchParams.set("q", query);
          fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
            .then((response) => response.json())
            .then((data) => callback(data.results))
            .catch(() => callback());
        },
      });
    });
  }

  // htmx:load fires for the page and for every swapped-in fragment (the modal form).
  document.addEventListener("htmx:load", (event) => enhanceClientPickers(event.detail.elt));
})();

// Tags: the client form's comma-separated names become a Tom Select that offers the owner's
// tags (`data-tags`) and creates new ones; the mailing form's tag select gets search and
// remove buttons. Without JavaScript both stay plain inputs that work the same.
(function () {
  "use strict";

  function enhanceTagInputs(root) {
    if (typeof TomSelect === "undefined") return;
    root.querySelectorAll("input[data-tag-input]").forEach((input) => {
      if (input.tomselect) return;
      const known = JSON.parse(input.dataset.tags || "[]");
      new TomSelect(input, {
        plugins: ["remove_button"],
        delimiter: ",",
        persist: false,
        create: true,
        createOnBlur: true,
        options: known.map((name) => ({ value: name, text: name })),
      });
    });
    root.querySelectorAll("select[data-tom-select]").forEach((select) => {
      if (select.tomselect) return;
      new TomSelect(select, { plugins: ["remove_button"] });
    });
  }

  document.addEventListener("htmx:load", (event) => enhanceTagInputs(event.detail.elt));
})();

// The client table's "select all on this page": the header's checkbox ticks every row's.
document.addEventListener("change", (event) => {
  const all = event.target.closest("input[data-select-page]");
  if (!all) return;
  const table = all.closest("table");
  table.querySelectorAll("tbody input[type=checkbox][name=pk]").forEach((box) => {
    box.checked = all.checked;
  });
});
