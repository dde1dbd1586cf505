// Atelier studio: small progressive enhancements; every page works without this file.
// Chart points carry <title> tooltips; this shows the hovered point's values in the chart's
// corner as well, which is faster to read than a native tooltip.
document.addEventListener("mouseover", (event) => {
  const point = event.target.closest && event.target.closest("svg .points circle");
  if (!point) return;
  const chart = point.closest(".chart");
  if (!chart) return;
  let readout = chart.querySelector(".readout");
  if (!readout) {
    readout = document.createElement("div");
    readout.className = "readout muted";
    chart.appendChild(readout);
  }
  const title = point.querySelector("title");
  readout.textContent = title ? title.textContent.replace(/\n/g, " · ") : "";
});

// Zoom: drag across a chart's plot to show that x range (the page is re-rendered by the
// server with xmin/xmax in its URL, so a zoomed view is a link); double-click to reset.
(() => {
  let drag = null;
  const plotOf = (svg) => svg && svg.querySelector("rect.plot-area");
  const toSvgX = (svg, clientX, clientY) => {
    const matrix = svg.getScreenCTM();
    if (!matrix) return null;
    const point = svg.createSVGPoint();
    point.x = clientX;
    point.y = clientY;
    return point.matrixTransform(matrix.inverse()).x;
  };
  const zoomTo = (low, high) => {
    const url = new URL(window.location.href);
    if (low === null) {
      url.searchParams.delete("xmin");
      url.searchParams.delete("xmax");
    } else {
      url.searchParams.set("xmin", String(low));
      url.searchParams.set("xmax", String(high));
    }
    window.location.assign(url.toString());
  };
  document.addEventListener("mousedown", (event) => {
    if (event.button !== 0) return;
    const svg = event.target.closest && event.target.closest(".chart svg.line-chart");
    const area = plotOf(svg);
    if (!area) return;
    const x = toSvgX(svg, event.clientX, event.clientY);
    const left = Number(area.getAttribute("x"));
    const width = Number(area.getAttribute("width"));
    if (x === null || x < left || x > left + width) return;
    event.preventDefault();
    const band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    band.setAttribute("class", "zoom-band");
    band.setAttribute("y", area.getAttribute("y"));
    band.setAttribute("height", area.getAttribute("height"));
    band.setAttribute("x", String(x));
    band.setAttribute("width", "0");
    svg.appendChild(band);
    drag = { svg, area, band, start: x, left, width };
  });
  document.addEventListener("mousemove", (event) => {
    if (!drag) return;
    const x = toSvgX(drag.svg, event.clientX, event.clientY);
    if (x === null) return;
    const clamped = Math.min(Math.max(x, drag.left), drag.left + drag.width);
    drag.band.setAttribute("x", String(Math.min(drag.start, clamped)));
    drag.band.setAttribute("width", String(Math.abs(clamped - drag.start)));
  });
  document.addEventListener("mouseup", () => {
    if (!drag) return;
    const { area, band, left, width } = drag;
    drag = null;
    const from = Number(band.getAttribute("x"));
    const span = Number(band.getAttribute("width"));
    band.remove();
    if (span < 4) return;
    const low = Number(area.dataset.xLow);
    const high = Number(area.dataset.xHigh);
    const at = (px) => low + ((px - left) / width) * (high - low);
    // Steps are whole numbers; seconds keep millisecond precision.
    const axis = document.querySelector("select[name=x]");
    const steps = !(axis && axis.value === "time");
    const round = (value) => (steps ? Math.round(value) : Math.round(value * 1000) / 1000);
    let a = round(at(from));
    let b = round(at(from + span));
    if (b <= a) b = a + (steps ? 1 : 0.001);
    zoomTo(a, b);
  });
  document.addEventListener("dblclick", (event) => {
    const svg = event.target.closest && event.target.closest(".chart svg.line-chart");
    if (svg && new URL(window.location.href).searchParams.has("xmin")) zoomTo(null, null);
  });
})();

// Live refresh: while a run is running its page reloads its title, overview and charts every
// few seconds (only while the tab is visible), and stops once the run has ended.
(() => {
  if (!document.querySelector("[data-live]")) return;
  const every = 5000;
  const refresh = async () => {
    if (document.visibilityState !== "visible") return true;
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return true;
    const next = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of document.querySelectorAll("[data-refresh]")) {
      const fresh = next.querySelector(`[data-refresh="${part.dataset.refresh}"]`);
      if (fresh) part.replaceWith(document.importNode(fresh, true));
    }
    return next.querySelector("[data-live]") !== null;
  };
  const loop = async () => {
    let again = true;
    try {
      again = await refresh();
    } catch (error) {
      again = true;
    }
    if (again) window.setTimeout(loop, every);
  };
  window.setTimeout(loop, every);
})();

// A running job's log follows itself: server-sent events append the new text; when the job
// ends, the page reloads to show its final status, outputs and exit code.
(() => {
  const log = document.querySelector("pre[data-live-log]");
  if (!log || !window.EventSource) return;
  const url = new URL(log.dataset.liveLog, window.location.href);
  url.searchParams.set("from", log.dataset.offset || "0");
  const source = new EventSource(url.toString());
  source.addEventListener("log", (event) => {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(document.createTextNode(event.data));
    if (atBottom) log.scrollTop = log.scrollHeight;
  });
  source.addEventListener("status", (event) => {
    const badge = document.querySelector("[data-testid=job-status]");
    if (badge) {
      badge.textContent = event.data;
      badge.className = "status job-" + event.data;
    }
  });
  // A reload would cancel a navigation the user has already started (a click on a sort
  // header as the job ends): reload only while the user stays on the page.
  let leaving = false;
  window.addEventListener("beforeunload", () => {
    leaving = true;
  });
  source.addEventListener("end", () => {
    source.close();
    if (!leaving) window.location.reload();
  });
})();

// An endpoint's test console: sends the body through the endpoint's router with the
// endpoint's own credentials and shows the status, the deployment that answered and the body.
(() => {
  const form = document.querySelector("form[data-test-url]");
  if (!form) return;
  const out = form.querySelector("[data-testid=test-response]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    out.textContent = "…";
    const response = await fetch(form.dataset.testUrl, {
      method: "POST",
      credentials: "same-origin",
      body: new URLSearchParams(new FormData(form)),
    });
    if (!response.ok) {
      // The studio refused (no right to the endpoint's keys, no such endpoint): its message.
      const refusal = await response.json().catch(() => ({}));
      out.textContent = `HTTP ${response.status}${refusal.message ? `\n${refusal.message}` : ""}`;
      return;
    }
    const answer = await response.json();
    let body = answer.body;
    try {
      body = JSON.stringify(JSON.parse(body), null, 2);
    } catch (error) {
      // Not JSON: shown as it came.
    }
    const via = answer.deployment ? ` from ${answer.deployment}` : "";
    out.textContent = `${answer.status}${via}\n${body}`;
  });
})();

// Links that MLflow's client prints ("View run at <server>/#/experiments/1/runs/<id>") name
// pages of MLflow's UI by a fragment, which only the browser sees: open the studio's page for
// the same thing. The tracking URI of another workspace is /ws/<name>, so its links start so.
(() => {
  const hash = window.location.hash;
  if (!hash.startsWith("#/")) return;
  const inWorkspace = window.location.pathname.match(/^\/ws\/([^/]+)\/?$/);
  const part = (text) => {
    try {
      return encodeURIComponent(decodeURIComponent(text));
    } catch {
      return encodeURIComponent(text);
    }
  };
  const base = `/w/${inWorkspace ? part(inWorkspace[1]) : "default"}`;
  let match;
  let target = null;
  if ((match = hash.match(/^#\/experiments\/(\d+)\/runs\/([^/?#]+)/))) {
    target = `${base}/runs/${part(match[2])}`;
  } else if ((match = hash.match(/^#\/experiments\/(\d+)/))) {
    target = `${base}/experiments/${match[1]}`;
  } else if ((match = hash.match(/^#\/models\/([^/?#]+)\/versions\/(\d+)/))) {
    target = `${base}/models/${part(match[1])}/versions/${match[2]}`;
  } else if ((match = hash.match(/^#\/models\/([^/?#]+)/))) {
    target = `${base}/models/${part(match[1])}`;
  } else if (inWorkspace) {
    target = base;
  }
  if (target) window.location.replace(target);
})();
