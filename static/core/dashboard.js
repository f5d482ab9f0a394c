// The dashboard's live parts: the poller's out-of-band answer and the chart drawn in place.
(function () {
  "use strict";

  const POLLER_ID = "dashboard-poll";
  const poller = document.getElementById(POLLER_ID);
  if (!poller) {
    return;
  }

  // Every 5 seconds while the tab is visible, and at once when it becomes visible again.
  const POLL_SECONDS = 5;
  function poll() {
    if (document.visibilityState === "visible") htmx.trigger(poller, "dashboardPoll");
  }
  setInterval(poll, POLL_SECONDS * 1000);
  document.addEventListener("visibilitychange", poll);

  // The status line says when the figures last came, or that a refresh failed.
  const status = document.getElementById("dashboard-status");
  function say(template) {
    if (!status) return;
    const time = new Date().toLocaleTimeString(document.documentElement.lang || undefined);
    status.textContent = template.replace("%(time)s", time);
    status.classList.toggle("text-danger", template === status.dataset.failed);
  }
  poller.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.successful) say(status.dataset.refreshed);
  });
  poller.addEventListener("htmx:responseError", () => say(status.dataset.failed));
  poller.addEventListener("htmx:sendError", () => say(status.dataset.failed));

  // Filters left empty stay out of the request, and so out of the pushed address.
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.id !== "attempt-filter") {
      return;
    }
    Object.keys(event.detail.parameters).forEach((key) => {
      if (event.detail.parameters[key] === "") {
        delete event.detail.parameters[key];
      }
    });
  });

  // A part whose content did not change is left alone: no redraw, no lost focus, no flicker.
  // (The live parts' own attributes never change; only what they hold does.)
  document.body.addEventListener("htmx:oobBeforeSwap", (event) => {
    const incoming = event.detail.fragment.firstElementChild || event.detail.fragment;
    if (incoming && incoming.innerHTML === event.detail.target.innerHTML) {
      event.detail.shouldSwap = false;
    }
  });

  const canvas = document.getElementById("delivery-chart");
  const colours = { accepted: "#198754", failed: "#dc3545" };
  let chart = null;
  let drawn = "";

  function chartFigures() {
    const script = document.getElementById("delivery-chart-data");
    return script ? script.textContent : "";
  }

  // Draw the chart once, then only feed it new figures when they change.
  function drawChart() {
    const text = chartFigures();
    if (!canvas || !window.Chart || !text || text === drawn) {
      return;
    }
    drawn = text;
    const figures = JSON.parse(text);
    if (chart) {
      chart.data.labels = figures.labels;
      figures.datasets.forEach((dataset, index) => {
        chart.data.datasets[index].data = dataset.data;
        chart.data.datasets[index].label = dataset.label;
      });
      chart.update();
      return;
    }
    chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: figures.labels,
        datasets: figures.datasets.map((dataset) => ({
          label: dataset.label,
          data: dataset.data,
          backgroundColor: colours[dataset.key],
        })),
      },
      options: {
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    canvas.dataset.drawn = "true";
  }

  drawChart();
  document.body.addEventListener("htmx:afterSettle", drawChart);
  document.body.addEventListener("htmx:oobAfterSwap", drawChart);
  window.mailingService = Object.assign(window.mailingService || {}, {
    deliveryChart: () => chart,
  });
})();
