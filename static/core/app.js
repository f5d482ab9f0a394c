// JavaScript runs: the CSS fallbacks for pages without it (base.html's `no-js`) step aside.
document.documentElement.classList.remove("no-js");

// Glue between htmx and Bootstrap: the shared modal and the toasts.
(function () {
  "use strict";

  const modalElement = document.getElementById("modal");
  const modalContent = document.getElementById("modal-content");
  const modal = bootstrap.Modal.getOrCreateInstance(modalElement);

  const FIELDS =
    "input:not([type=hidden]):not([tabindex='-1']), select:not([tabindex='-1']), textarea";

  // The field the keyboard should be in: the first one in error, or else the first one. A
  // select under Tom Select is hidden: its own input takes the focus.
  function focusFirstField() {
    const invalid = modalContent.querySelector(".is-invalid");
    const field = invalid || modalContent.querySelector(FIELDS);
    if (!field) return false;
    if (field.tomselect) field.tomselect.focus();
    else field.focus();
    return true;
  }

  // The element that opened the modal, to give the focus back to once it closes. Saving may
  // redraw the list it was in, so it is also remembered by its address.
  let opener = null;
  let openerUrl = null;
  let focusBackPending = false;
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (event.detail.target === modalContent && !modalContent.contains(elt)) {
      opener = elt;
      openerUrl = elt.getAttribute("hx-get");
    }
  });

  function focusOpener() {
    let target = opener && opener.isConnected ? opener : null;
    if (!target && openerUrl) {
      target = Array.from(document.querySelectorAll("[hx-get]")).find(
        (element) => element.getAttribute("hx-get") === openerUrl && !modalContent.contains(element)
      );
    }
    if (target) target.focus();
  }

  // A form swapped into the modal shows it; a form swapped into the open modal (a submit with
  // errors) replaced the element that had the focus, which would fall to <body>, out of reach
  // of Esc and of the focus trap: it goes to the first field in error instead.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target === modalContent) {
      if (modalElement.classList.contains("show")) {
        if (!focusFirstField()) modalContent.closest(".modal").focus();
      } else {
        modal.show();
      }
    }
  });

  // Tab from the last control goes round to the first, and Shift+Tab from the first to the
  // last: Bootstrap's focus trap only catches the focus coming back into the page, and past
  // the modal (the page's last control) it would leave the page for the browser's own bar.
  modalElement.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const controls = Array.from(
      modalElement.querySelectorAll(
        "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"
      )
    ).filter((element) => element.getClientRects().length > 0 && element.tabIndex >= 0);
    if (!controls.length) return;
    const first = controls[0];
    const last = controls[controls.length - 1];
    if (event.shiftKey && (document.activeElement === first || document.activeElement === modalElement)) {
      last.focus();
      event.preventDefault();
    } else if (!event.shiftKey && document.activeElement === last) {
      first.focus();
      event.preventDefault();
    }
  });

  // The opener was redrawn after the modal closed (the list refreshed itself): find it again.
  // Any click ends the wait.
  document.body.addEventListener("htmx:afterSettle", () => {
    if (focusBackPending && document.activeElement === document.body) focusOpener();
  });
  document.addEventListener("click", () => {
    focusBackPending = false;
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
    focusBackPending = false;
    opening = true;
    fieldEnteredWhileOpening = null;
  });
  modalContent.addEventListener("focusin", (event) => {
    if (opening && event.target.matches("input, select, textarea")) {
      fieldEnteredWhileOpening = event.target;
    }
  });

  // Cancel, the close button, Esc or a click beside the dialog while it still fades in:
  // Bootstrap ignores a hide() asked for then, so the close is remembered and done once shown.
  modalElement.addEventListener("click", (event) => {
    if (!opening) return;
    if (event.target === modalElement || event.target.closest("[data-bs-dismiss='modal']")) {
      closeRequested = true;
    }
  });
  // Until shown, the focus is still on the page behind (the focus trap starts with `shown`).
  document.addEventListener("keydown", (event) => {
    if (opening && event.key === "Escape") closeRequested = true;
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
    focusFirstField();
  });

  // Empty the modal once hidden, so a stale form never flashes when it opens next, and give
  // the focus back to what opened it.
  modalElement.addEventListener("hidden.bs.modal", () => {
    closeRequested = false;
    modalContent.replaceChildren();
    focusBackPending = true;
    focusOpener();
  });

  const MAX_TOASTS = 3;
  const toastLevels = { success: "success", info: "info", warning: "warning", error: "danger", danger: "danger" };

  function showToast(text, level) {
    const template = document.getElementById("toast-template");
    const toast = template.content.firstElementChild.cloneNode(true);
    toast.classList.add("text-bg-" + (toastLevels[level] || "secondary"));
    // textContent, never innerHTML: the text may quote what a user typed.
    toast.querySelector(".toast-body").textContent = text;
    const container = document.getElementById("toasts");
    container.appendChild(toast);
    toast.addEventListener("hidden.bs.toast", () => toast.remove());
    bootstrap.Toast.getOrCreateInstance(toast).show();
    // At most MAX_TOASTS at once: the oldest go first.
    while (container.children.length > MAX_TOASTS) {
      const oldest = container.firstElementChild;
      bootstrap.Toast.getOrCreateInstance(oldest).dispose();
      oldest.remove();
    }
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

// Tom Select points the <label> at its own input; the field it hides (still in the page, for
// the form) keeps the label's name for assistive technology. The help text describes the
// control people use, not the hidden field.
function keepLabel(field) {
  const label = document.querySelector(`label[for="${field.id}-ts-control"]`);
  if (label) {
    label.id = label.id || `${field.id}-label`;
    field.setAttribute("aria-labelledby", label.id);
  }
  const described = field.getAttribute("aria-describedby");
  const control = document.getElementById(`${field.id}-ts-control`);
  if (described && control) {
    control.setAttribute("aria-describedby", described);
    field.removeAttribute("aria-describedby");
  }
}

// Tom Select's own words are English: a form passes them in the interface language
// (data-text-*), and these options put them in place of Tom Select's.
function tomSelectWords(field) {
  const text = (key, fallback) => field.dataset[key] || fallback;
  const line = (className, words) => {
    const div = document.createElement("div");
    div.className = className;
    div.textContent = words;
    return div;
  };
  return {
    plugins: { remove_button: { title: text("textRemove", "Remove") } },
    render: {
      no_results: () => line("no-results", text("textNoResults", "No results found")),
      loading: () => line("spinner", text("textLoading", "Loading…")),
    },
  };
}

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
        ...tomSelectWords(select),
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
      // The rendered help says what holds without JavaScript (only the first clients are
      // listed); now every client can be searched.
      const help = document.getElementById(`${select.id}_helptext`);
      if (help && select.dataset.textHelp) help.textContent = select.dataset.textHelp;
      keepLabel(select);
    });
  }

  // htmx:load fires for the page and for every swapped-in fragment (the modal form).
  document.addEventListener("htmx:load", (event) => enhanceClientPickers(event.detail.elt));
})();

// The language select sends its form when changed (its <noscript> button does without JavaScript).
document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
  select.addEventListener("change", () => select.form.requestSubmit());
});

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
      keepLabel(input);
    });
    root.querySelectorAll("select[data-tom-select]").forEach((select) => {
      if (select.tomselect) return;
      new TomSelect(select, tomSelectWords(select));
      keepLabel(select);
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

// Back and Forward: htmx puts a page back from its history cache as it was saved, and a saved
// field holds the value it was rendered with, not what was typed or chosen since. So after a
// restore every filter bar (`form[role=search]`) is filled again from the restored address,
// which is the filter the restored table shows. A page fetched again (the cache missed) is
// rendered from the address anyway.
(function () {
  "use strict";

  function fillFromAddress(form, params) {
    for (const field of form.elements) {
      if (!field.name) continue;
      const values = params.getAll(field.name);
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = values.includes(field.value);
      } else if (field.tagName === "SELECT") {
        for (const option of field.options) option.selected = values.includes(option.value);
        if (!field.multiple && !values.length && field.options.length) field.selectedIndex = 0;
        if (field.tomselect) field.tomselect.setValue(values, true);
      } else if (field.type !== "submit" && field.type !== "button") {
        field.value = values[0] || "";
        // The sort's hidden input is sent only when there is a sort (list_header.html).
        if (field.type === "hidden") field.disabled = !field.value;
      }
    }
  }

  document.body.addEventListener("htmx:historyRestore", () => {
    const params = new URLSearchParams(window.location.search);
    document.querySelectorAll("form[role=search]").forEach((form) => fillFromAddress(form, params));
  });
})();
