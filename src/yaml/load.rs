//! Reads a YAML stream into JSON values, one per document, remembering where each starts.
//!
//! Built on yaml-rust2's event parser so that we know each scalar's style (a quoted `"0644"`
//! stays a string, a plain `0644` is octal, as in kubectl) and each node's line. Guards against
//! hostile input: duplicate keys are errors, nesting depth and alias expansion are bounded
//! (a "billion laughs" document fails fast instead of eating memory).

use std::collections::HashMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::resolve::plain_scalar;

/// Deepest nesting accepted; real Kubernetes objects stay far below it.
const MAX_DEPTH: usize = 256;
/// Most nodes that aliases may expand to in one stream.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// One non-empty document of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub value: Value,
    /// 1-based position among the stream's non-empty documents.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
}

/// A YAML error at a 1-based line and column of the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn at(mark: Marker, message: impl Into<String>) -> Self {
        YamlError {
            line: mark.line().max(1),
            column: mark.col() + 1,
            message: message.into(),
        }
    }
}

/// Parses every document of `text`; empty documents (only comments, or `null`) are skipped.
pub fn load_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| YamlError::at(*e.marker(), e.info()))?;
        if event == Event::StreamEnd {
            return Ok(builder.documents);
        }
        builder.on_event(event, mark)?;
    }
}

enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
    },
    Mapping {
        map: Map<String, Value>,
        anchor: usize,
        key: Option<PendingKey>,
        merges: Vec<Map<String, Value>>,
    },
}

struct PendingKey {
    text: String,
    is_merge: bool,
    mark: Marker,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    documents: Vec<Document>,
    document_line: Option<usize>,
    root: Option<Value>,
}

impl Builder {
    fn on_event(&mut self, event: Event, mark: Marker) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart => {
                self.document_line = None;
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => self.finish_document(),
            Event::Scalar(text, style, anchor, tag) => {
                self.note_content(mark);
                if self.expects_key() {
                    let is_merge = style == TScalarStyle::Plain && text == "<<";
                    return self.set_key(text, is_merge, mark);
                }
                let value = scalar_value(text, style, tag.as_ref());
                self.remember_anchor(anchor, &value);
                self.add_value(value, mark)?;
            }
            Event::Alias(id) => {
                self.note_content(mark);
                let (value, nodes) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| YamlError::at(mark, "alias refers to an unknown anchor"))?;
                self.alias_nodes += nodes;
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlError::at(
                        mark,
                        "aliases expand to more than 1,000,000 nodes (a \"billion laughs\" document?)",
                    ));
                }
                if self.expects_key() {
                    let Value::String(text) = value else {
                        return Err(YamlError::at(mark, "a mapping key must be a string"));
                    };
                    return self.set_key(text, false, mark);
                }
                self.add_value(value, mark)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.note_content(mark);
                self.open(
                    Frame::Sequence {
                        items: Vec::new(),
                        anchor,
                    },
                    mark,
                )?;
            }
            Event::MappingStart(anchor, _) => {
                self.note_content(mark);
                self.open(
                    Frame::Mapping {
                        map: Map::new(),
                        anchor,
                        key: None,
                        merges: Vec::new(),
                    },
                    mark,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(mark)?,
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn note_content(&mut self, mark: Marker) {
        if self.document_line.is_none() {
            self.document_line = Some(mark.line().max(1));
        }
    }

    fn finish_document(&mut self) {
        match self.root.take() {
            None | Some(Value::Null) => {}
            Some(value) => {
                let index = self.documents.len() + 1;
                self.documents.push(Document {
                    value,
                    index,
                    line: self.document_line.unwrap_or(1),
                });
            }
        }
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    fn set_key(&mut self, text: String, is_merge: bool, mark: Marker) -> Result<(), YamlError> {
        if let Some(Frame::Mapping { map, key, .. }) = self.stack.last_mut() {
            if !is_merge && map.contains_key(&text) {
                return Err(YamlError::at(mark, format!("duplicate key {text:?}")));
            }
            *key = Some(PendingKey {
                text,
                is_merge,
                mark,
            });
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, mark: Marker) -> Result<(), YamlError> {
        if self.expects_key() {
            return Err(YamlError::at(
                mark,
                "a mapping key must be a plain string, not a list or mapping",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::at(mark, "nesting deeper than 256 levels"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, mark: Marker) -> Result<(), YamlError> {
        let (value, anchor) = match self.stack.pop() {
            Some(Frame::Sequence { items, anchor }) => (Value::Array(items), anchor),
            Some(Frame::Mapping {
                mut map,
                anchor,
                merges,
                ..
            }) => {
                // Keys written in the mapping win over merged ones, whatever their order.
                for merged in merges {
                    for (key, value) in merged {
                        map.entry(key).or_insert(value);
                    }
                }
                (Value::Object(map), anchor)
            }
            None => return Err(YamlError::at(mark, "unbalanced end of a collection")),
        };
        self.remember_anchor(anchor, &value);
        self.add_value(value, mark)
    }

    fn remember_anchor(&mut self, anchor: usize, value: &Value) {
        if anchor > 0 {
            self.anchors
                .insert(anchor, (value.clone(), count_nodes(value)));
        }
    }

    fn add_value(&mut self, value: Value, mark: Marker) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping {
                map, key, merges, ..
            }) => {
                let Some(pending) = key.take() else {
                    return Err(YamlError::at(mark, "a mapping value without a key"));
                };
                if pending.is_merge {
                    collect_merge(value, merges, pending.mark)?;
                } else {
                    map.insert(pending.text, value);
                }
            }
        }
        Ok(())
    }
}

/// `<<: *base` or `<<: [*a, *b]`: YAML 1.1 merge keys, which kubectl honours.
fn collect_merge(
    value: Value,
    merges: &mut Vec<Map<String, Value>>,
    mark: Marker,
) -> Result<(), YamlError> {
    match value {
        Value::Object(map) => merges.push(map),
        Value::Array(items) => {
            for item in items {
                let Value::Object(map) = item else {
                    return Err(YamlError::at(mark, "a merge key (<<) takes mappings only"));
                };
                merges.push(map);
            }
        }
        _ => return Err(YamlError::at(mark, "a merge key (<<) takes mappings only")),
    }
    Ok(())
}

fn scalar_value(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    let core_tag = tag
        .filter(|t| t.handle == "!!" || t.handle == "tag:yaml.org,2002:")
        .map(|t| t.suffix.as_str());
    match (core_tag, style) {
        (Some("str"), _) => Value::String(text),
        (Some("int" | "float" | "bool" | "null"), _) | (None, TScalarStyle::Plain) => {
            plain_scalar(&text)
        }
        _ => Value::String(text),
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(text: &str) -> Vec<Value> {
        load_documents(text)
            .unwrap()
            .into_iter()
            .map(|d| d.value)
            .collect()
    }

    #[test]
    fn splits_documents_and_keeps_their_lines() {
        let docs = load_documents("---\n# a comment\na: 1\n---\n---\n\nb: 2\n...\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line), (1, 3));
        assert_eq!((docs[1].index, docs[1].line), (2, 7));
        assert_eq!(docs[1].value, json!({"b": 2}));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let v = values("a: \"0644\"\nb: '1'\nc: 0644\nd: |\n  yes\ne: !!str 12\n");
        assert_eq!(
            v[0],
            json!({"a": "0644", "b": "1", "c": 420, "d": "yes\n", "e": "12"})
        );
    }

    #[test]
    fn merge_keys_and_aliases() {
        let v = values("base: &b {x: 1, y: 1}\nc:\n  y: 2\n  <<: *b\nd: *b\n");
        assert_eq!(v[0]["c"], json!({"y": 2, "x": 1}));
        assert_eq!(v[0]["d"], json!({"x": 1, "y": 1}));
    }

    #[test]
    fn duplicate_keys_are_errors_with_their_line() {
        let err = load_documents("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("duplicate key \"c\""), "{err}");
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*{}", (b'a' + i - 1) as char); 10].join(", ");
            text.push_str(&format!(
                "{}: &{} [{refs}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char
            ));
        }
        let err = load_documents(&text).unwrap_err();
        assert!(err.message.contains("billion laughs"), "{err}");
    }

    #[test]
    fn deep_nesting_fails_cleanly() {
        let flow = "[".repeat(10_000);
        let err = load_documents(&flow).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");
        let block: String = (0..1_000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = load_documents(&block).unwrap_err();
        assert!(err.message.contains("nesting deeper than 256"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = load_documents("a: 1\nb:\n\tc: 2\n").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
    }

    #[test]
    fn complex_keys_are_rejected() {
        assert!(load_documents("? [a]\n: 1\n").is_err());
    }
}
