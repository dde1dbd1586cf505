//! A pipeline's graph: steps as boxes laid out left to right by depth (a step's column is one
//! past the deepest step it depends on), stacked in the order given within a column, and edges
//! drawn as curves from an output to an input, labelled `output → input`.
//!
//! Each box is a link when the step has one, carries the class `node status-<status>` for the
//! page's CSS to colour, and a `reused` class and mark when the step reused an earlier run.

use crate::svg::{CHAR_WIDTH, SvgWriter};

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct DagNode {
    pub name: String,
    /// Its column: 0 for a step that depends on none.
    pub depth: usize,
    /// `Completed`, `Running`, `NotStarted`, …
    pub status: String,
    /// Where clicking the step goes, if anywhere.
    pub link: Option<String>,
    pub reused: bool,
}

/// One edge: `from`'s output `output` feeds `to`'s input `input`.
#[derive(Debug, Clone, PartialEq)]
pub struct DagEdge {
    pub from: String,
    pub output: String,
    pub to: String,
    pub input: String,
}

const NODE_WIDTH: f64 = 168.0;
const NODE_HEIGHT: f64 = 44.0;
const COLUMN_GAP: f64 = 150.0;
const ROW_GAP: f64 = 34.0;
const MARGIN: f64 = 12.0;

/// Writes the graph as SVG.
pub fn render_dag(nodes: &[DagNode], edges: &[DagEdge], label: &str) -> String {
    let columns = nodes.iter().map(|node| node.depth).max().map_or(0, |deepest| deepest + 1);
    let mut rows_in = vec![0usize; columns];
    let mut places = Vec::with_capacity(nodes.len());
    for node in nodes {
        let row = rows_in[node.depth];
        rows_in[node.depth] += 1;
        let x = MARGIN + node.depth as f64 * (NODE_WIDTH + COLUMN_GAP);
        let y = MARGIN + row as f64 * (NODE_HEIGHT + ROW_GAP);
        places.push((x, y));
    }
    let tallest = rows_in.iter().copied().max().unwrap_or(0) as f64;
    let width = (MARGIN * 2.0 + columns as f64 * NODE_WIDTH + columns.saturating_sub(1) as f64 * COLUMN_GAP).max(200.0);
    let height = (MARGIN * 2.0 + tallest * NODE_HEIGHT + (tallest - 1.0).max(0.0) * ROW_GAP).max(60.0);
    let place_of = |name: &str| nodes.iter().position(|node| node.name == name).map(|index| places[index]);

    let mut svg = SvgWriter::with_capacity(512 + nodes.len() * 400 + edges.len() * 300);
    svg.open_root("atelier-chart pipeline-graph", width, height, label);
    if nodes.is_empty() {
        svg.no_data(width, height);
        svg.close_root();
        return svg.finish();
    }
    for edge in edges {
        let (Some(from), Some(to)) = (place_of(&edge.from), place_of(&edge.to)) else { continue };
        let start = (from.0 + NODE_WIDTH, from.1 + NODE_HEIGHT / 2.0);
        let end = (to.0, to.1 + NODE_HEIGHT / 2.0);
        let bend = (end.0 - start.0).abs() / 2.0;
        svg.raw(r#"<g class="edge"><path class="edge-line" d="M"#);
        svg.coordinate(start.0);
        svg.raw(" ");
        svg.coordinate(start.1);
        svg.raw(" C");
        svg.coordinate(start.0 + bend);
        svg.raw(" ");
        svg.coordinate(start.1);
        svg.raw(" ");
        svg.coordinate(end.0 - bend);
        svg.raw(" ");
        svg.coordinate(end.1);
        svg.raw(" ");
        svg.coordinate(end.0);
        svg.raw(" ");
        svg.coordinate(end.1);
        svg.raw(r#"" fill="none"/><text class="edge-label" x=""#);
        svg.coordinate((start.0 + end.0) / 2.0);
        svg.raw(r#"" y=""#);
        svg.coordinate((start.1 + end.1) / 2.0 - 4.0);
        svg.raw(r#"" text-anchor="middle">"#);
        let text = format!("{} → {}", edge.output, edge.input);
        svg.text_truncated(&text, (COLUMN_GAP / CHAR_WIDTH) as usize);
        svg.raw("<title>");
        svg.text(&format!("{}.{} → {}.{}", edge.from, edge.output, edge.to, edge.input));
        svg.raw("</title></text></g>\n");
    }
    for (node, (x, y)) in nodes.iter().zip(&places) {
        if let Some(link) = &node.link {
            svg.raw(r#"<a href=""#);
            svg.text(link);
            svg.raw(r#"">"#);
        }
        svg.raw(r#"<g class="node status-"#);
        svg.text(&node.status);
        if node.reused {
            svg.raw(" reused");
        }
        svg.raw(r#"" data-step=""#);
        svg.text(&node.name);
        svg.raw(r#""><rect x=""#);
        svg.coordinate(*x);
        svg.raw(r#"" y=""#);
        svg.coordinate(*y);
        svg.raw(r#"" width=""#);
        svg.coordinate(NODE_WIDTH);
        svg.raw(r#"" height=""#);
        svg.coordinate(NODE_HEIGHT);
        svg.raw(r#"" rx="6"/><text class="node-name" x=""#);
        svg.coordinate(x + 10.0);
        svg.raw(r#"" y=""#);
        svg.coordinate(y + 18.0);
        svg.raw(r#"">"#);
        svg.text_truncated(&node.name, ((NODE_WIDTH - 20.0) / CHAR_WIDTH) as usize);
        svg.raw(r#"</text><text class="node-status" x=""#);
        svg.coordinate(x + 10.0);
        svg.raw(r#"" y=""#);
        svg.coordinate(y + 34.0);
        svg.raw(r#"">"#);
        svg.text(&node.status);
        if node.reused {
            svg.raw(" · ♻ reused");
        }
        svg.raw("</text><title>");
        svg.text(&node.name);
        svg.raw(": ");
        svg.text(&node.status);
        svg.raw("</title></g>");
        if node.link.is_some() {
            svg.raw("</a>");
        }
        svg.raw("\n");
    }
    svg.close_root();
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, depth: usize, status: &str) -> DagNode {
        DagNode {
            name: name.into(),
            depth,
            status: status.into(),
            link: Some(format!("/jobs/{name}")),
            reused: status == "Completed" && name == "prep",
        }
    }

    #[test]
    fn steps_are_laid_out_by_depth_with_labelled_edges() {
        let nodes = [node("prep", 0, "Completed"), node("train", 1, "Running"), node("eval", 1, "NotStarted")];
        let edges = [
            DagEdge { from: "prep".into(), output: "clean".into(), to: "train".into(), input: "data".into() },
            DagEdge { from: "prep".into(), output: "clean".into(), to: "eval".into(), input: "data".into() },
        ];
        let svg = render_dag(&nodes, &edges, "pipeline <p>");
        assert!(svg.contains(r#"aria-label="pipeline &lt;p&gt;""#));
        assert_eq!(svg.matches("<g class=\"node ").count(), 3);
        assert!(svg.contains(r#"<g class="node status-Completed reused" data-step="prep">"#));
        assert!(svg.contains("♻ reused"));
        assert!(svg.contains(r#"<a href="/jobs/train">"#));
        assert_eq!(svg.matches("clean → data").count(), 2);
        // Depth 1 is one column to the right; two steps there are stacked.
        assert!(svg.contains(r#"<rect x="12" y="12""#));
        assert!(svg.contains(r#"<rect x="330" y="12""#) && svg.contains(r#"<rect x="330" y="90""#));
        assert!(render_dag(&[], &[], "").contains("no data"));
    }
}
