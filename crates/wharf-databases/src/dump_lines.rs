//! The lines of a dump that would reach beyond the database it is loaded into: a
//! client's own command that connects to another database (`\connect`, `USE`,
//! `connect`), runs a program (`\!`, `system`) or reads or writes a file (`\i`, `\o`,
//! `source`). A dump loads into the one database wharf names, beside the one it
//! replaces and with that one kept as a snapshot; a line that leaves it would change
//! another database with no snapshot of it, or the machine. The tools' own dumps of
//! one database have none (`pg_dump -C` and `mariadb-dump --databases` add a switch).
//!
//! A line is looked at from its start: the clients' restricted modes (psql's
//! `\restrict`, mariadb's `--sandbox`), which wharf turns on where the client has
//! them, also stop such a command later in a line. So that a dump cannot lift psql's
//! restriction for what follows, nothing may come after its `\unrestrict` line.

use wharf_runtime::DatabaseEngine;

/// Looks at each line of a dump as it passes, before it reaches the client.
pub(crate) struct LineGuard {
    engine: DatabaseEngine,
    /// The start of the line being read, enough to tell a command by.
    line: Vec<u8>,
    /// Its last bytes, enough to tell a `COPY … FROM stdin;` by: a ring, its next
    /// place at `tail_next`, `tail_filled` of it written.
    tail: [u8; LOOKED_AT],
    tail_next: usize,
    tail_filled: usize,
    number: usize,
    /// Inside the rows of a PostgreSQL `COPY … FROM stdin`, which are data, up to `\.`.
    in_copy_rows: bool,
    /// The line of the dump's `\unrestrict`, its last.
    unrestricted_at: Option<usize>,
    /// The line turning on the client's restricted mode, written before the dump.
    restriction: Option<String>,
}

/// How much of a line's start tells the commands apart (`\include_relative` and a
/// space), and of its end a `COPY`'s (`FROM stdin;`).
const LOOKED_AT: usize = 20;

/// psql's own commands a dump may hold: those `pg_dump` writes around it. psql's
/// restricted mode refuses every other, so a dump or a seed has none.
const PG_DUMPS_OWN: [&[u8]; 2] = [b"\\restrict", b"\\unrestrict"];

impl LineGuard {
    pub(crate) fn new(engine: DatabaseEngine) -> Self {
        Self {
            engine,
            line: Vec::with_capacity(LOOKED_AT),
            tail: [0; LOOKED_AT],
            tail_next: 0,
            tail_filled: 0,
            number: 1,
            in_copy_rows: false,
            unrestricted_at: None,
            restriction: None,
        }
    }

    /// With `restriction` written before a dump that does not restrict the client
    /// itself (`pg_dump`'s own `\restrict`, which a second one would refuse).
    pub(crate) fn restricting(mut self, restriction: Option<String>) -> Self {
        self.restriction = restriction;
        self
    }

    /// What to write before the dump that starts with `head`.
    pub(crate) fn preamble(&self, head: &[u8]) -> Option<&[u8]> {
        let restricts_itself =
            head.starts_with(b"\\restrict ") || head.windows(11).any(|w| w == b"\n\\restrict ");
        self.restriction
            .as_deref()
            .filter(|_| !restricts_itself)
            .map(str::as_bytes)
    }

    /// The next bytes of the dump: an error naming the first line that leaves the
    /// database. Call `end` after the last bytes, for a last line with no newline.
    /// Each line costs no allocation: only its first bytes past the indentation, and
    /// its last, are kept, in buffers made once.
    pub(crate) fn pass(&mut self, bytes: &[u8]) -> Result<(), String> {
        for &byte in bytes {
            if byte == b'\n' {
                self.end()?;
                self.number += 1;
                continue;
            }
            if self.line.len() < LOOKED_AT && !(self.line.is_empty() && byte.is_ascii_whitespace())
            {
                self.line.push(byte);
            }
            self.tail[self.tail_next] = byte;
            self.tail_next = (self.tail_next + 1) % LOOKED_AT;
            self.tail_filled = (self.tail_filled + 1).min(LOOKED_AT);
        }
        Ok(())
    }

    pub(crate) fn end(&mut self) -> Result<(), String> {
        let verdict = self.verdict();
        self.line.clear();
        self.tail_filled = 0;
        match verdict {
            None => Ok(()),
            Some(why) => Err(format!(
                "line {} {why}; wharf loads a dump into the one database it names, so nothing was loaded",
                self.number
            )),
        }
    }

    /// What is wrong with the line just read, if anything.
    fn verdict(&mut self) -> Option<String> {
        let line = self.line.as_slice();
        if self.in_copy_rows {
            if line == b"\\." {
                self.in_copy_rows = false;
            }
            // A row starts with a backslash only in one of COPY's escapes: any other
            // is psql's command, outside rows that only looked like a COPY's.
            let escaped = line
                .get(1)
                .is_none_or(|b| b"Nbfnrtv01234567x\\.".contains(b));
            if !line.starts_with(b"\\") || escaped {
                return None;
            }
        }
        if let Some(at) = self.unrestricted_at
            && !line.is_empty()
            && !line.starts_with(b"--")
        {
            return Some(format!(
                "comes after the dump's last line (its `\\unrestrict`, line {at})"
            ));
        }
        match self.engine {
            DatabaseEngine::Postgres => self.psql_verdict(),
            DatabaseEngine::Mariadb => mariadb_verdict(line).map(str::to_owned),
        }
    }

    fn psql_verdict(&mut self) -> Option<String> {
        let line = self.line.as_slice();
        if starts_word_any_case(line, b"COPY") && ends_any_case(&self.tail(), b"FROM stdin;") {
            self.in_copy_rows = true;
            return None;
        }
        if !line.starts_with(b"\\") {
            return None;
        }
        let command = line
            .split(u8::is_ascii_whitespace)
            .next()
            .unwrap_or_default();
        if command == b"\\unrestrict" {
            self.unrestricted_at = Some(self.number);
        }
        match command {
            _ if PG_DUMPS_OWN.contains(&command) => None,
            b"\\c" | b"\\connect" => Some(
                "connects to another database (`pg_dump -C` writes such a line: dump without it)"
                    .to_owned(),
            ),
            b"\\!" => Some("runs a program".to_owned()),
            _ => Some(format!(
                "is psql's own command `{}`: a dump has none but the `\\restrict` lines pg_dump writes (psql's commands can read and write files, run programs and reach other databases), and a seed that needs one is a task",
                String::from_utf8_lossy(command)
            )),
        }
    }
}

impl LineGuard {
    /// The line's last bytes, in order.
    fn tail(&self) -> [u8; LOOKED_AT] {
        let mut tail = [b' '; LOOKED_AT];
        for (i, slot) in tail
            .iter_mut()
            .enumerate()
            .skip(LOOKED_AT - self.tail_filled)
        {
            *slot = self.tail[(self.tail_next + i) % LOOKED_AT];
        }
        tail
    }
}

/// What is wrong with a line for the mariadb client, if anything.
fn mariadb_verdict(line: &[u8]) -> Option<&'static str> {
    let command = |word: &[u8]| starts_word_any_case(line, word);
    if command(b"USE")
        || command(b"connect")
        || starts_word(line, b"\\u")
        || starts_word(line, b"\\r")
    {
        Some(
            "switches to another database (`mariadb-dump --databases` writes such a line: dump one database without it)",
        )
    } else if command(b"system") || starts_word(line, b"\\!") {
        Some("runs a program")
    } else if command(b"source") || starts_word(line, b"\\.") {
        Some("reads another file")
    } else {
        None
    }
}

/// Whether `line` is `word`, or starts with it and white space (or `;`).
fn starts_word(line: &[u8], word: &[u8]) -> bool {
    line.strip_prefix(word).is_some_and(ends_word)
}

/// `starts_word` in any case (SQL's words and the mariadb client's long commands).
fn starts_word_any_case(line: &[u8], word: &[u8]) -> bool {
    line.split_at_checked(word.len())
        .is_some_and(|(start, rest)| start.eq_ignore_ascii_case(word) && ends_word(rest))
}

fn ends_word(rest: &[u8]) -> bool {
    rest.first()
        .is_none_or(|b| b.is_ascii_whitespace() || *b == b';')
}

/// Whether `tail`, its trailing white space aside, ends with `end` in any case.
fn ends_any_case(tail: &[u8], end: &[u8]) -> bool {
    let trimmed = tail.trim_ascii_end();
    trimmed.len() >= end.len() && trimmed[trimmed.len() - end.len()..].eq_ignore_ascii_case(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded(engine: DatabaseEngine, chunks: &[&str]) -> Result<(), String> {
        let mut guard = LineGuard::new(engine);
        for chunk in chunks {
            guard.pass(chunk.as_bytes())?;
        }
        guard.end()
    }

    #[test]
    fn a_line_that_leaves_the_database_is_named_wherever_the_chunks_cut_it() {
        let pg = DatabaseEngine::Postgres;
        assert!(guarded(pg, &["CREATE TABLE t (id int);\n", "-- \\connect x\n"]).is_ok());
        let said = guarded(pg, &["SELECT 1;\n\\conn", "ect newdb\nDELETE FROM t;\n"]).unwrap_err();
        assert!(
            said.starts_with("line 2 connects to another database"),
            "{said}"
        );
        assert!(guarded(pg, &["SELECT 1;\n  \\c other"]).is_err());
        assert!(
            guarded(pg, &["\\! rm -rf /\n"])
                .unwrap_err()
                .contains("line 1 runs a program")
        );
        // psql's commands that read, write or run something, however reached.
        for line in [
            "\\i other.sql\n",
            "\\ir other.sql\n",
            "\\include_relative x\n",
            "\\o |touch /tmp/x\n",
            "\\copy t from program 'x'\n",
            "\\set x '\\\\c victim'\n",
            "\\gset\n",
        ] {
            let said = guarded(pg, &["SELECT 1;\n", line]).unwrap_err();
            assert!(said.starts_with("line 2 is psql's own command"), "{said}");
        }
        // Nothing after the dump's `\unrestrict`, which lifts psql's restriction.
        let said = guarded(
            pg,
            &["\\restrict k\nSELECT 1;\n\\unrestrict k\n\n-- note\n\\! touch x\n"],
        )
        .unwrap_err();
        assert!(
            said.contains("line 6 comes after the dump's last line"),
            "{said}"
        );
        // What only looks alike: a COPY's rows, a column named so, psql's output.
        assert!(
            guarded(
                pg,
                &[
                    "\\restrict key\n",
                    "COPY public.t (a) FROM stdin;\n",
                    "\\\\c victim\n\\N\n\\tab first\n\\.\n",
                    "-- a comment\n",
                    "COPY t TO STDOUT;\n",
                    "\\unrestrict key\n",
                ]
            )
            .is_ok()
        );
        // A COPY inside a comment has no rows: psql's commands in what looks like
        // them are still psql's.
        assert!(
            guarded(pg, &["/*\nCOPY t FROM stdin;\n*/\n\\! touch x\n\\.\n"])
                .unwrap_err()
                .contains("line 4 runs a program")
        );
        // A COPY from a file has no rows after it: the lines after are looked at.
        assert!(
            guarded(pg, &["COPY t FROM '/data.csv';\n\\! touch x\n"])
                .unwrap_err()
                .contains("line 2 runs a program")
        );

        let my = DatabaseEngine::Mariadb;
        for (line, said) in [
            ("use `other`;\n", "switches"),
            ("connect other\n", "switches"),
            ("\\r other\n", "switches"),
            ("system touch /tmp/x\n", "runs a program"),
            ("\\! touch /tmp/x\n", "runs a program"),
            ("source other.sql\n", "reads another file"),
            ("\\. other.sql\n", "reads another file"),
        ] {
            let err = guarded(my, &["SELECT 1;\n", line]).unwrap_err();
            assert!(err.starts_with(&format!("line 2 {said}")), "{line}: {err}");
        }
        assert!(
            guarded(
                my,
                &[
                    "USER_VAR=1;\n",
                    "-- USE x\n",
                    "INSERT INTO used VALUES (1);\n",
                    "INSERT INTO systems VALUES ('source');\n",
                ]
            )
            .is_ok()
        );
    }
}
