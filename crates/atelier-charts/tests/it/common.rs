//! Helpers to read the SVG that the charts write: a strict little XML reader (it rejects
//! anything the charts should never produce) and queries over its elements.

use atelier_charts::Point;

/// One element of a parsed document.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    /// The index of the enclosing element.
    pub parent: Option<usize>,
    /// The element's own text (not its children's), unescaped.
    pub text: String,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn classes(&self) -> Vec<&str> {
        self.attribute("class").map(|class| class.split(' ').collect()).unwrap_or_default()
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.classes().contains(&class)
    }

    pub fn number(&self, name: &str) -> f64 {
        let text = self.attribute(name).unwrap_or_else(|| panic!("<{}> has no {name}", self.name));
        // JavaScript's spelling of infinity is what `data-*` attributes use.
        match text {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => text.parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        }
    }
}

/// A parsed document: its elements in document order.
#[derive(Debug)]
pub struct Document {
    pub elements: Vec<Element>,
}

impl Document {
    /// Parses `svg`, panicking with the reason when it is not well-formed.
    pub fn parse(svg: &str) -> Document {
        match parse(svg) {
            Ok(elements) => Document { elements },
            Err(problem) => panic!("not well-formed: {problem}\n{}", &svg[..svg.len().min(4000)]),
        }
    }

    pub fn with_class(&self, name: &str, class: &str) -> Vec<&Element> {
        self.elements.iter().filter(|element| element.name == name && element.has_class(class)).collect()
    }

    /// The direct children of the element at `parent` that are called `name`.
    pub fn children(&self, parent: &Element, name: &str) -> Vec<&Element> {
        let index = self.index_of(parent);
        self.elements.iter().filter(|element| element.parent == Some(index) && element.name == name).collect()
    }

    /// The text of the `<title>` child of `parent`.
    pub fn title_of(&self, parent: &Element) -> String {
        self.children(parent, "title").first().map(|title| title.text.clone()).unwrap_or_default()
    }

    fn index_of(&self, element: &Element) -> usize {
        self.elements.iter().position(|candidate| std::ptr::eq(candidate, element)).unwrap_or(usize::MAX)
    }
}

fn parse(svg: &str) -> Result<Vec<Element>, String> {
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut rest = svg.trim_end();
    if !rest.starts_with("<svg") {
        return Err("does not start with <svg".into());
    }
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or("unclosed end tag")?;
            let name = &after[..end];
            let index = open.pop().ok_or_else(|| format!("</{name}> closes nothing"))?;
            if elements[index].name != name {
                return Err(format!("</{name}> closes <{}>", elements[index].name));
            }
            rest = &after[end + 1..];
            if open.is_empty() && !rest.trim().is_empty() {
                return Err(format!("content after the root: {:?}", &rest[..rest.len().min(40)]));
            }
        } else if let Some(after) = rest.strip_prefix('<') {
            let name_end = after.find(|c: char| c.is_whitespace() || c == '>' || c == '/').ok_or("unclosed tag")?;
            let name = &after[..name_end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad element name {name:?}"));
            }
            let mut tag = &after[name_end..];
            let mut attributes = Vec::new();
            let self_closing = loop {
                tag = tag.trim_start();
                if let Some(after_tag) = tag.strip_prefix("/>") {
                    tag = after_tag;
                    break true;
                }
                if let Some(after_tag) = tag.strip_prefix('>') {
                    tag = after_tag;
                    break false;
                }
                let equals = tag.find('=').ok_or_else(|| format!("attribute without value in <{name}>"))?;
                let key = &tag[..equals];
                if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
                    return Err(format!("bad attribute name {key:?} in <{name}>"));
                }
                let value_start = tag[equals + 1..].strip_prefix('"').ok_or("unquoted attribute")?;
                let value_end = value_start.find('"').ok_or("unclosed attribute")?;
                let raw_value = &value_start[..value_end];
                if raw_value.contains('<') {
                    return Err(format!("'<' in attribute {key} of <{name}>"));
                }
                if attributes.iter().any(|(existing, _)| existing == key) {
                    return Err(format!("attribute {key} twice in <{name}>"));
                }
                attributes.push((key.to_owned(), unescape(raw_value)?));
                tag = &value_start[value_end + 1..];
            };
            elements.push(Element {
                name: name.to_owned(),
                attributes,
                parent: open.last().copied(),
                text: String::new(),
            });
            if !self_closing {
                open.push(elements.len() - 1);
            }
            rest = tag;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            let parent = *open.last().ok_or("text outside the root")?;
            if text.contains('>') {
                return Err(format!("unescaped '>' in text {text:?}"));
            }
            elements[parent].text.push_str(&unescape(text)?);
            rest = &rest[end..];
        }
    }
    if let Some(index) = open.last() {
        return Err(format!("<{}> is never closed", elements[*index].name));
    }
    Ok(elements)
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find(';').ok_or("'&' without ';'")? + start;
        let entity = &rest[start + 1..end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "#39" => '\'',
            _ => return Err(format!("unknown entity &{entity};")),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    if out.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r') && u32::from(c) < 0x20) {
        return Err(format!("a character XML forbids in {out:?}"));
    }
    Ok(out)
}

/// The subpaths of a path's `d`: each a list of points.
pub fn subpaths(d: &str) -> Vec<Vec<(f64, f64)>> {
    let mut subpaths: Vec<Vec<(f64, f64)>> = Vec::new();
    // `h0` (the dot after a one-point subpath) adds no point.
    let without_dots = d.replace("h0", "");
    let d = without_dots.as_str();
    let mut rest = d;
    while let Some(command) = rest.chars().next() {
        let after = &rest[1..];
        let end = after.find(['M', 'L']).unwrap_or(after.len());
        let (x, y) = after[..end].split_once(',').unwrap_or_else(|| panic!("bad coordinates in {d:?}"));
        let point = (x.parse().expect("x coordinate"), y.parse().expect("y coordinate"));
        match command {
            'M' => subpaths.push(vec![point]),
            'L' => subpaths.last_mut().expect("L before M").push(point),
            other => panic!("unexpected command {other} in {d:?}"),
        }
        rest = &after[end..];
    }
    subpaths
}

/// A series from y values at steps 0, 1, 2, …
pub fn steps(ys: &[f64]) -> Vec<Point> {
    ys.iter().enumerate().map(|(step, y)| Point::new(step as f64, *y)).collect()
}

/// A deterministic noisy series: a decaying loss with noise from a linear congruential generator.
pub fn noisy_loss(length: usize, seed: u64) -> Vec<Point> {
    let mut state = seed;
    (0..length)
        .map(|step| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let x = step as f64;
            Point::new(x, 2.0 / (1.0 + x / 1000.0) + 0.1 * noise)
        })
        .collect()
}
