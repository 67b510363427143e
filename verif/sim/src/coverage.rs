//! Verilator coverage data (`coverage.dat`, format `SystemC::Coverage-3`), read and summed up
//! per RTL file for `scripts/coverage`.
//!
//! Each line of the file is a point, `C '<fields>' <count>`, its fields `\x01<key>\x02<value>`
//! pairs: `f` file, `l` line, `n` column, `page` the kind and module (`v_line/tile`,
//! `v_branch/…`, `v_toggle/…`, `v_user/…`), `o` what (a block, a branch, a signal bit or a
//! cover label) and `h` the instance. [`Summary::from_points`] counts a point of a file as hit
//! when any instance of it was hit (points are the same source object in every instance, so
//! the figures are per source line, bit or label, not per instance), as lcov does per line.
//! Line figures count Verilator's line coverage, statement blocks (`v_line`) and branches
//! (`v_branch`); toggle figures count signal bits that toggled; cover points (`v_user`) are
//! listed by label with the instances that hit them.

use std::collections::BTreeMap;

/// One counter of the coverage data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// The fields, as written (`f`, `l`, `n`, `page`, `o`, `h`, ...).
    pub fields: BTreeMap<String, String>,
    pub count: u64,
}

impl Point {
    /// The value of field `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }

    /// The kind of point: `line`, `branch`, `toggle`, `user` (the `page` before `/`, without
    /// `v_`).
    pub fn kind(&self) -> &str {
        let page = self.get("page");
        let kind = page.split('/').next().unwrap_or("");
        kind.strip_prefix("v_").unwrap_or(kind)
    }

    /// The module of the point (the `page` after `/`).
    pub fn module(&self) -> &str {
        self.get("page").split_once('/').map_or("", |(_, m)| m)
    }

    /// The source line.
    pub fn line(&self) -> u32 {
        self.get("l").parse().unwrap_or(0)
    }
}

/// Reads the points of a coverage file's text. Lines that are not points (the header,
/// comments) are skipped; a malformed point line is an error naming its line number.
pub fn parse(text: &str) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("C '") else {
            continue;
        };
        let bad = || format!("coverage data line {}: malformed point", i + 1);
        let (body, count) = rest.rsplit_once('\'').ok_or_else(bad)?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        let mut fields = BTreeMap::new();
        for pair in body.split('\x01').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('\x02').ok_or_else(bad)?;
            fields.insert(k.to_string(), v.to_string());
        }
        out.push(Point { fields, count });
    }
    Ok(out)
}

/// Hit and total points of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ratio {
    pub hit: usize,
    pub total: usize,
}

impl Ratio {
    /// The share hit in percent (100 when there is nothing to hit).
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.hit as f64 / self.total as f64
        }
    }
}

/// The figures of one source file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileFigures {
    /// The modules whose points lie in the file.
    pub modules: Vec<String>,
    /// Statement blocks and branches.
    pub line: Ratio,
    /// Signal bits.
    pub toggle: Ratio,
    /// Source lines holding a block or branch never run.
    pub missed_lines: Vec<u32>,
}

/// A cover point, over every instance of the checker that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverPoint {
    /// The checker module (`cover_tile`).
    pub module: String,
    /// The label under the checker's instance (`gen_leaf[0].LeafStall_C`).
    pub label: String,
    /// Instances that hit it, of all instances.
    pub instances_hit: usize,
    pub instances: usize,
    /// Times it was hit in all.
    pub count: u64,
}

/// Figures per file and the cover points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub files: BTreeMap<String, FileFigures>,
    pub cover_points: Vec<CoverPoint>,
}

/// The part of a cover point's instance path under the checker instance: what follows the
/// first path element named `u_cover` (the name the bind file gives every checker), else the
/// last element.
fn cover_label(hier: &str) -> String {
    let parts: Vec<&str> = hier.split('.').collect();
    match parts.iter().position(|p| *p == "u_cover") {
        Some(i) if i + 1 < parts.len() => parts[i + 1..].join("."),
        _ => parts.last().copied().unwrap_or("").to_string(),
    }
}

/// The instance of the checker holding a cover point (the path up to and including `u_cover`).
fn cover_instance(hier: &str) -> &str {
    match hier.find(".u_cover.") {
        Some(i) => &hier[..i + ".u_cover".len()],
        None => hier,
    }
}

impl Summary {
    /// Sums up `points`, keeping the files for which `keep` is true (cover points are kept
    /// whatever their file).
    pub fn from_points(points: &[Point], keep: impl Fn(&str) -> bool) -> Summary {
        // A source object: file, line, column, kind, what. Hit if any instance was.
        let mut objects: BTreeMap<(String, u32, String, String, String), bool> = BTreeMap::new();
        let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Cover points: (module, label) -> instance -> count.
        let mut covers: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
        for p in points {
            let kind = p.kind();
            if kind == "user" {
                let h = p.get("h");
                *covers
                    .entry((p.module().to_string(), cover_label(h)))
                    .or_default()
                    .entry(cover_instance(h).to_string())
                    .or_default() += p.count;
                continue;
            }
            let file = p.get("f");
            if !keep(file) || !matches!(kind, "line" | "branch" | "toggle") {
                continue;
            }
            let key = (
                file.to_string(),
                p.line(),
                p.get("n").to_string(),
                kind.to_string(),
                p.get("o").to_string(),
            );
            *objects.entry(key).or_default() |= p.count > 0;
            let m = modules.entry(file.to_string()).or_default();
            if !m.iter().any(|x| x == p.module()) {
                m.push(p.module().to_string());
            }
        }
        let mut files: BTreeMap<String, FileFigures> = BTreeMap::new();
        for ((file, line, _, kind, _), hit) in objects {
            let f = files.entry(file).or_default();
            let r = if kind == "toggle" {
                &mut f.toggle
            } else {
                &mut f.line
            };
            r.total += 1;
            r.hit += usize::from(hit);
            if kind != "toggle" && !hit && f.missed_lines.last() != Some(&line) {
                f.missed_lines.push(line);
            }
        }
        for (file, f) in files.iter_mut() {
            let mut m = modules.remove(file).unwrap_or_default();
            m.sort();
            f.modules = m;
            f.missed_lines.sort_unstable();
            f.missed_lines.dedup();
        }
        let cover_points = covers
            .into_iter()
            .map(|((module, label), inst)| CoverPoint {
                module,
                label,
                instances_hit: inst.values().filter(|&&c| c > 0).count(),
                instances: inst.len(),
                count: inst.values().sum(),
            })
            .collect();
        Summary {
            files,
            cover_points,
        }
    }

    /// Line and toggle figures of all kept files together.
    pub fn total(&self) -> (Ratio, Ratio) {
        let mut line = Ratio::default();
        let mut toggle = Ratio::default();
        for f in self.files.values() {
            line.hit += f.line.hit;
            line.total += f.line.total;
            toggle.hit += f.toggle.hit;
            toggle.total += f.toggle.total;
        }
        (line, toggle)
    }
}

/// Sorted line numbers as ranges: `3-5, 9`.
pub fn line_ranges(lines: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = lines[i];
        let mut end = start;
        while i + 1 < lines.len() && lines[i + 1] == end + 1 {
            i += 1;
            end = lines[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(f: &str, l: u32, n: u32, page: &str, o: &str, h: &str, count: u64) -> String {
        format!(
            "C '\x01f\x02{f}\x01l\x02{l}\x01n\x02{n}\x01page\x02{page}\x01o\x02{o}\x01h\x02{h}' \
             {count}\n"
        )
    }

    #[test]
    fn sim_coverage_points_parse_and_sum_per_file() {
        const T: &str = "rtl/tile/tile.sv";
        const C: &str = "verif/bench/c.sv";
        // Two instances of a tile: a block hit in one only counts as hit; a branch hit in none
        // is missed; a toggle bit hit in both. A bench file, filtered out. Cover points: one
        // label in two instances (hit in one), one in a generate block.
        let rows: &[(&str, u32, u32, &str, &str, &str, u64)] = &[
            (T, 10, 3, "v_line/tile", "block", "TOP.t.a", 5),
            (T, 10, 3, "v_line/tile", "block", "TOP.t.b", 0),
            (T, 12, 7, "v_branch/tile", "if", "TOP.t.a", 0),
            (T, 12, 8, "v_branch/tile", "else", "TOP.t.a", 2),
            (T, 13, 7, "v_branch/tile", "if", "TOP.t.b", 0),
            (T, 2, 9, "v_toggle/tile", "q[0]", "TOP.t.a", 1),
            (T, 2, 9, "v_toggle/tile", "q[1]", "TOP.t.a", 0),
            (T, 2, 9, "v_toggle/tile", "q[1]", "TOP.t.b", 3),
            (T, 3, 9, "v_toggle/tile", "r", "TOP.t.b", 0),
            ("verif/bench/x.sv", 1, 1, "v_line/x", "block", "TOP.x", 0),
            (
                C,
                5,
                3,
                "v_user/cover_tile",
                "ResStall_C",
                "TOP.top.gen_tile[0].u_tile.u_cover.ResStall_C",
                4,
            ),
            (
                C,
                5,
                3,
                "v_user/cover_tile",
                "ResStall_C",
                "TOP.top.gen_tile[1].u_tile.u_cover.ResStall_C",
                0,
            ),
            (
                C,
                9,
                5,
                "v_user/cover_mc",
                "LeafStall_C",
                "TOP.top.u_mc.u_cover.gen_leaf[1].LeafStall_C",
                0,
            ),
        ];
        let mut text = String::from("# SystemC::Coverage-3\n");
        for &(f, l, n, page, o, h, count) in rows {
            text += &point(f, l, n, page, o, h, count);
        }

        let points = parse(&text).unwrap();
        assert_eq!(points.len(), 13);
        assert_eq!(points[0].kind(), "line");
        assert_eq!(points[0].module(), "tile");
        assert_eq!(points[0].line(), 10);

        let s = Summary::from_points(&points, |f| f.starts_with("rtl/"));
        assert_eq!(s.files.len(), 1);
        let t = &s.files["rtl/tile/tile.sv"];
        assert_eq!(t.modules, ["tile"]);
        assert_eq!(t.line, Ratio { hit: 2, total: 4 });
        assert_eq!(t.toggle, Ratio { hit: 2, total: 3 });
        assert_eq!(t.missed_lines, [12, 13]);
        assert_eq!(s.total().0.percent(), 50.0);
        assert_eq!(
            s.cover_points,
            [
                CoverPoint {
                    module: "cover_mc".into(),
                    label: "gen_leaf[1].LeafStall_C".into(),
                    instances_hit: 0,
                    instances: 1,
                    count: 0,
                },
                CoverPoint {
                    module: "cover_tile".into(),
                    label: "ResStall_C".into(),
                    instances_hit: 1,
                    instances: 2,
                    count: 4,
                },
            ]
        );
    }

    #[test]
    fn sim_coverage_malformed_points_are_errors() {
        assert!(parse("C '\x01fx' 1\n").is_err());
        assert!(parse("C '\x01f\x02x' many\n").is_err());
        assert_eq!(parse("# header\n\n").unwrap(), []);
        assert_eq!(line_ranges(&[3, 4, 5, 9, 11, 12]), "3-5, 9, 11-12");
        assert_eq!(line_ranges(&[]), "");
    }
}
