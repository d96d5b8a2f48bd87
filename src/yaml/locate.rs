//! Where a value is written in a YAML file, so that an edit changes those bytes and no other:
//! comments, order, quoting and blank lines stay as the author wrote them (`gitops promote`).

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::load::YamlError;

/// One step into a document: a mapping key or a sequence position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>`: spans lines; not edited in place.
    Block,
}

/// A scalar value (not a key) of a stream: its document (1-based among the non-empty ones,
/// as `load_documents` counts), path, bytes and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub document: usize,
    pub path: Vec<Step>,
    pub start: usize,
    pub end: usize,
    pub style: Style,
    pub value: String,
}

/// A mapping or sequence: where it starts and where its last entry ends (bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub document: usize,
    pub path: Vec<Step>,
    pub start: usize,
    pub end: usize,
    pub sequence: bool,
    pub flow: bool,
}

/// Every scalar value and collection of a stream, in order.
#[derive(Debug, Default)]
pub struct Located {
    pub scalars: Vec<Scalar>,
    pub collections: Vec<Collection>,
}

impl Located {
    pub fn scalar(&self, document: usize, path: &[Step]) -> Option<&Scalar> {
        self.scalars
            .iter()
            .find(|s| s.document == document && s.path == path)
    }

    pub fn collection(&self, document: usize, path: &[Step]) -> Option<&Collection> {
        self.collections
            .iter()
            .find(|c| c.document == document && c.path == path)
    }
}

enum Frame {
    Map {
        key: Option<String>,
        start: usize,
        flow: bool,
        end: usize,
    },
    Seq {
        index: usize,
        start: usize,
        flow: bool,
        end: usize,
    },
}

/// Finds every scalar and collection of `text` with its byte span.
pub fn locate(text: &str) -> Result<Located, YamlError> {
    // Markers count characters; edits need bytes.
    let bytes_at: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let byte = |mark: Marker| bytes_at.get(mark.index()).copied().unwrap_or(text.len());
    let mut parser = Parser::new_from_str(text);
    let mut located = Located::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut path: Vec<Step> = Vec::new();
    let mut document = 0;
    let mut document_counted = false;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            line: e.marker().line().max(1),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let at = byte(mark);
        // The step a new node takes inside its parent (None for a mapping key).
        let step = match stack.last() {
            Some(Frame::Map { key: Some(k), .. }) => Some(Step::Key(k.clone())),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Seq { index, .. }) => Some(Step::Index(*index)),
            None => Some(Step::Index(0)),
        };
        match event {
            Event::StreamEnd => return Ok(located),
            Event::DocumentStart => document_counted = false,
            Event::Scalar(value, style, _, _) => {
                if stack.is_empty() {
                    // A document that is one scalar: `null` or empty documents are skipped.
                    if !matches!(value.as_str(), "" | "~" | "null") {
                        document += 1;
                    }
                    continue;
                }
                match step {
                    None => {
                        if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                            *key = Some(value);
                        }
                    }
                    Some(step) => {
                        let (end, style) = scalar_end(text, at, style, in_flow(&stack));
                        let mut here = path.clone();
                        here.push(step);
                        located.scalars.push(Scalar {
                            document,
                            path: here,
                            start: at,
                            end,
                            style,
                            value,
                        });
                        advance(&mut stack, end);
                    }
                }
            }
            Event::Alias(_) => advance(&mut stack, at),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if stack.is_empty() && !document_counted {
                    document += 1;
                    document_counted = true;
                }
                let flow = text[at..].starts_with(['{', '[']);
                if let Some(step) = step {
                    if !stack.is_empty() {
                        path.push(step);
                    }
                }
                let frame = if matches!(event, Event::MappingStart(..)) {
                    Frame::Map {
                        key: None,
                        start: at,
                        flow,
                        end: at,
                    }
                } else {
                    Frame::Seq {
                        index: 0,
                        start: at,
                        flow,
                        end: at,
                    }
                };
                stack.push(frame);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = stack.pop() else { continue };
                let (start, flow, end, sequence) = match frame {
                    Frame::Map {
                        start, flow, end, ..
                    } => (start, flow, end, false),
                    Frame::Seq {
                        start, flow, end, ..
                    } => (start, flow, end, true),
                };
                // A flow collection ends at its closing bracket.
                let end = if flow { at + 1 } else { end };
                let own_path = if stack.is_empty() {
                    Vec::new()
                } else {
                    path.clone()
                };
                located.collections.push(Collection {
                    document,
                    path: own_path,
                    start,
                    end,
                    sequence,
                    flow,
                });
                if !stack.is_empty() {
                    path.pop();
                }
                advance(&mut stack, end);
            }
            _ => {}
        }
    }
}

fn in_flow(stack: &[Frame]) -> bool {
    stack.iter().any(|f| match f {
        Frame::Map { flow, .. } | Frame::Seq { flow, .. } => *flow,
    })
}

/// After a value: the parent expects its next key or item, and ends at least here.
fn advance(stack: &mut [Frame], end: usize) {
    match stack.last_mut() {
        Some(Frame::Map { key, end: e, .. }) => {
            *key = None;
            *e = (*e).max(end);
        }
        Some(Frame::Seq { index, end: e, .. }) => {
            *index += 1;
            *e = (*e).max(end);
        }
        None => {}
    }
}

/// Where a scalar starting at `start` ends, read from the source.
fn scalar_end(text: &str, start: usize, style: TScalarStyle, flow: bool) -> (usize, Style) {
    let rest = &text[start..];
    match style {
        TScalarStyle::DoubleQuoted => {
            let mut escaped = false;
            for (i, c) in rest.char_indices().skip(1) {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return (start + i + 1, Style::DoubleQuoted),
                    _ => escaped = false,
                }
            }
            (text.len(), Style::DoubleQuoted)
        }
        TScalarStyle::SingleQuoted => {
            let chars: Vec<(usize, char)> = rest.char_indices().collect();
            let mut i = 1;
            while i < chars.len() {
                if chars[i].1 == '\'' {
                    if chars.get(i + 1).is_some_and(|(_, c)| *c == '\'') {
                        i += 2;
                        continue;
                    }
                    return (start + chars[i].0 + 1, Style::SingleQuoted);
                }
                i += 1;
            }
            (text.len(), Style::SingleQuoted)
        }
        TScalarStyle::Plain => {
            let line = rest.split('\n').next().unwrap_or_default();
            let mut end = line.len();
            if let Some(comment) = line.find(" #") {
                end = end.min(comment);
            }
            if flow {
                if let Some(stop) = line.find([',', ']', '}']) {
                    end = end.min(stop);
                }
            }
            (start + line[..end].trim_end().len(), Style::Plain)
        }
        _ => (start, Style::Block),
    }
}

/// `value` written as a scalar in the style the old one had (plain only where it stays a
/// string when read back).
pub fn scalar_text(value: &str, style: Style) -> String {
    match style {
        Style::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        Style::Plain
            if !super::resolve::needs_quotes_to_stay_string(value) && !value.is_empty() =>
        {
            value.to_owned()
        }
        _ => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_owned())
    }

    #[test]
    fn scalars_are_found_with_their_exact_bytes() {
        let text = "# comment\nimages:\n  - name: registry.example.com/web # the app\n    newTag: \"1.4.2\"\n  - {name: worker, newTag: '2.1'}\nreplicas: 3\n---\nkind: Deployment\n";
        let found = locate(text).unwrap();
        let tag = found
            .scalar(1, &[key("images"), Step::Index(0), key("newTag")])
            .unwrap();
        assert_eq!(&text[tag.start..tag.end], "\"1.4.2\"");
        assert_eq!(tag.style, Style::DoubleQuoted);
        let name = found
            .scalar(1, &[key("images"), Step::Index(0), key("name")])
            .unwrap();
        assert_eq!(&text[name.start..name.end], "registry.example.com/web");
        let flow = found
            .scalar(1, &[key("images"), Step::Index(1), key("newTag")])
            .unwrap();
        assert_eq!(&text[flow.start..flow.end], "'2.1'");
        let worker = found
            .scalar(1, &[key("images"), Step::Index(1), key("name")])
            .unwrap();
        assert_eq!(&text[worker.start..worker.end], "worker");
        assert_eq!(found.scalar(2, &[key("kind")]).unwrap().value, "Deployment");
        let images = found.collection(1, &[key("images")]).unwrap();
        assert!(images.sequence && !images.flow);
        assert_eq!(&text[images.start..images.end], "- name: registry.example.com/web # the app\n    newTag: \"1.4.2\"\n  - {name: worker, newTag: '2.1'}");
    }

    #[test]
    fn replacement_keeps_the_style_unless_plain_would_change_the_type() {
        assert_eq!(scalar_text("1.5.0", Style::Plain), "1.5.0");
        assert_eq!(scalar_text("1.5", Style::Plain), "\"1.5\"");
        assert_eq!(scalar_text("it's", Style::SingleQuoted), "'it''s'");
        assert_eq!(scalar_text("1.5", Style::DoubleQuoted), "\"1.5\"");
    }

    #[test]
    fn empty_documents_are_not_counted() {
        let found = locate("---\n# nothing\n---\na: 1\n").unwrap();
        assert_eq!(found.scalar(1, &[key("a")]).unwrap().value, "1");
    }
}
