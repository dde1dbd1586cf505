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
