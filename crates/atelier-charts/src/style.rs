//! A default stylesheet for the charts' classes.

/// A default stylesheet for the classes that the charts use, for the studio to serve or to start
/// its own from. Charts set no colours themselves; the series palette is Tableau 10 and the
/// shades run through viridis from `shade-0` (lowest value) to `shade-4` (highest). Text and
/// axes take the page's `currentColor`, so the charts follow a light or a dark theme.
pub const STYLESHEET: &str = r#".atelier-chart { font-family: system-ui, sans-serif; overflow: visible; }
.atelier-chart text { fill: currentColor; }
.atelier-chart .chart-title { font-weight: 600; font-size: 13px; }
.atelier-chart .axis-line, .atelier-chart .tick-mark { stroke: currentColor; stroke-opacity: 0.6; }
.atelier-chart .grid { stroke: currentColor; stroke-opacity: 0.1; }
.atelier-chart .tick-label, .atelier-chart .legend-more, .atelier-chart .note, .atelier-chart .no-data { fill-opacity: 0.7; }
.atelier-chart .series { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
.atelier-chart .swatch { stroke-width: 3; }
.atelier-chart .points circle { fill: transparent; stroke: none; }
.atelier-chart .points circle:hover { fill: currentColor; }
.atelier-chart .series-0 { stroke: #4e79a7; color: #4e79a7; }
.atelier-chart .series-1 { stroke: #f28e2b; color: #f28e2b; }
.atelier-chart .series-2 { stroke: #e15759; color: #e15759; }
.atelier-chart .series-3 { stroke: #76b7b2; color: #76b7b2; }
.atelier-chart .series-4 { stroke: #59a14f; color: #59a14f; }
.atelier-chart .series-5 { stroke: #edc948; color: #edc948; }
.atelier-chart .series-6 { stroke: #b07aa1; color: #b07aa1; }
.atelier-chart .series-7 { stroke: #ff9da7; color: #ff9da7; }
.atelier-chart .series-8 { stroke: #9c755f; color: #9c755f; }
.atelier-chart .series-9 { stroke: #bab0ac; color: #bab0ac; }
.atelier-chart .run { fill: none; stroke-width: 1.5; stroke-opacity: 0.6; }
.atelier-chart .run:hover { stroke-width: 3; stroke-opacity: 1; }
.atelier-chart .shade-0 { stroke: #440154; }
.atelier-chart .shade-1 { stroke: #3b528b; }
.atelier-chart .shade-2 { stroke: #21918c; }
.atelier-chart .shade-3 { stroke: #5ec962; }
.atelier-chart .shade-4 { stroke: #fde725; }
.atelier-chart .no-shade { stroke: #999999; stroke-dasharray: 4 3; }
.atelier-chart .color-axis .axis-label { font-weight: 600; }
.atelier-chart .parallel-axis .tick-label { paint-order: stroke; stroke: Canvas; stroke-width: 3px; stroke-linejoin: round; }
"#;
