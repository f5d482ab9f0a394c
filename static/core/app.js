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

  // An empty answer for the modal (204 after a successful submit) closes it instead of
  // swapping nothing into it.
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === modalContent && !event.detail.xhr.response) {
      modal.hide();
      event.detail.shouldSwap = false;
    }
  });

  // The server may also close it explicitly: HX-Trigger: {"closeModal": true}.
  document.body.addEventListener("closeModal", () => modal.hide());

  // Empty the modal once hidden, so a stale form never flashes when it opens next.
  modalElement.addEventListener("hidden.bs.modal", () => {
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

  // HX-Trigger: {"showMessage": {"text": "...", "level": "success"}}
  document.body.addEventListener("showMessage", (event) => {
    const detail = event.detail || {};
    showToast(detail.text || detail.value || "", detail.level || "success");
  });

  document.querySelectorAll("#toasts .toast").forEach((element) => {
    bootstrap.Toast.getOrCreateInstance(element).show();
  });

  window.mailingService = { showToast: showToast };
})();
