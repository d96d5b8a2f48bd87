//! `include` / `exclude` globs of a plain directory target (as Argo CD's directory
//! include/exclude): `*` and `?` within one path segment, `**` across segments, `{a,b}`
//! alternatives. A pattern without `/` matches a file or directory name at any depth; one with
//! `/` matches the path relative to the target's directory.

/// A target's file selection: everything, or what `include` selects minus what `exclude` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl FileFilter {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether a file (its path relative to the target, `/`-separated) is read.
    pub fn selects_file(&self, relative: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| matches(p, relative)))
            && !self.exclude.iter().any(|p| matches(p, relative))
    }

    /// Whether a directory is entered: not when `exclude` names it (`image`, `./image`) or
    /// everything in it (`image/**`).
    pub fn enters_dir(&self, relative: &str) -> bool {
        let inside = format!("{relative}/");
        !self
            .exclude
            .iter()
            .any(|p| matches(p, relative) || matches(p, &inside))
    }
}

/// Whether `pattern` matches `path` (relative, `/`-separated).
pub fn matches(pattern: &str, path: &str) -> bool {
    // `./x` and `/x` are anchored at the target's directory, as is any pattern with a `/`.
    let (pattern, anchored) = match pattern.strip_prefix("./").or(pattern.strip_prefix('/')) {
        Some(rest) => (rest, true),
        None => (pattern, pattern.contains('/')),
    };
    let subject = if anchored {
        path
    } else {
        path.rsplit('/').next().unwrap_or(path)
    };
    alternatives(pattern)
        .iter()
        .any(|p| match_here(p.as_bytes(), subject.as_bytes()))
}

/// `{a,b}` expanded: every pattern it stands for (nested braces included).
fn alternatives(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut cuts = Vec::new();
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => cuts.push(open + i),
            _ => {}
        }
    }
    // An unclosed brace is a literal character.
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&cuts);
    bounds.push(close);
    bounds
        .windows(2)
        .flat_map(|w| alternatives(&format!("{head}{}{tail}", &pattern[w[0] + 1..w[1]])))
        .collect()
}

fn match_here(pattern: &[u8], path: &[u8]) -> bool {
    match pattern {
        [] => path.is_empty(),
        // `**/` matches no directory or any number of them.
        [b'*', b'*', b'/', rest @ ..] => {
            match_here(rest, path)
                || path
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'/')
                    .any(|(i, _)| match_here(rest, &path[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=path.len()).any(|i| match_here(rest, &path[i..])),
        [b'*', rest @ ..] => (0..=path.len())
            .take_while(|&i| i == 0 || path[i - 1] != b'/')
            .any(|i| match_here(rest, &path[i..])),
        [b'?', rest @ ..] => matches!(path, [c, ..] if *c != b'/') && match_here(rest, &path[1..]),
        [c, rest @ ..] => matches!(path, [p, ..] if p == c) && match_here(rest, &path[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_at_any_depth_and_paths_from_the_root() {
        assert!(matches("*.yaml", "web.yaml"));
        assert!(matches("*.yaml", "deep/down/web.yaml"));
        assert!(!matches("*.yaml", "web.yml"));
        assert!(matches("k8s/*.yaml", "k8s/web.yaml"));
        assert!(!matches("k8s/*.yaml", "k8s/sub/web.yaml"));
        assert!(matches("k8s/**/*.yaml", "k8s/web.yaml"));
        assert!(matches("k8s/**/*.yaml", "k8s/a/b/web.yaml"));
        assert!(matches("image/**", "image/files/cassandra.yaml"));
        assert!(matches(
            "{cassandra-service,cassandra-statefulset}.yaml",
            "cassandra-service.yaml"
        ));
        assert!(!matches(
            "{cassandra-service,cassandra-statefulset}.yaml",
            "cassandra.yaml"
        ));
        assert!(matches("web-?.yaml", "web-1.yaml"));
        assert!(!matches("web-?.yaml", "web-10.yaml"));
        assert!(matches("./config.json", "config.json"));
        assert!(!matches("./config.json", "sub/config.json"));
        assert!(matches("config.json", "sub/config.json"));
        assert!(matches("{a,{b,c}}.yaml", "c.yaml"));
        assert!(matches("{unclosed.yaml", "{unclosed.yaml"));
    }

    #[test]
    fn include_then_exclude() {
        let filter = FileFilter {
            include: vec!["*.yaml".into()],
            exclude: vec!["values*.yaml".into(), "image".into()],
        };
        assert!(filter.selects_file("deployment.yaml"));
        assert!(!filter.selects_file("values-prod.yaml"));
        assert!(!filter.selects_file("config.json"));
        assert!(!filter.enters_dir("image"));
        let anchored = FileFilter {
            include: vec![],
            exclude: vec!["image/**".into()],
        };
        assert!(!anchored.enters_dir("image"));
        assert!(anchored.enters_dir("images"));
        assert!(filter.enters_dir("k8s"));
        assert!(FileFilter::default().selects_file("anything.json"));
    }
}
