//! The lines of a dump that would reach beyond the database it is loaded into: a
//! client command that connects to another database (`\connect`, `USE`) or runs a
//! program (`\!`). A dump loads into the one database wharf names, beside the one it
//! replaces and with that one kept as a snapshot; a line that leaves it would change
//! another database with no snapshot of it. The tools' own dumps of one database
//! have none (`pg_dump -C` and `mariadb-dump --databases` add them).

use wharf_runtime::DatabaseEngine;

/// Looks at each line of a dump as it passes, before it reaches the client.
pub(crate) struct LineGuard {
    engine: DatabaseEngine,
    /// The start of the line being read, enough to tell a command by.
    line: Vec<u8>,
    number: usize,
}

/// How much of a line tells the commands apart (`\connect` and a space).
const LOOKED_AT: usize = 16;

impl LineGuard {
    pub(crate) fn new(engine: DatabaseEngine) -> Self {
        Self {
            engine,
            line: Vec::with_capacity(LOOKED_AT),
            number: 1,
        }
    }

    /// The next bytes of the dump: an error naming the first line that leaves the
    /// database. Call `end` after the last bytes, for a last line with no newline.
    /// Each line costs no allocation: only its first bytes past the indentation are
    /// kept, in a buffer made once.
    pub(crate) fn pass(&mut self, bytes: &[u8]) -> Result<(), String> {
        for &byte in bytes {
            if byte == b'\n' {
                self.end()?;
                self.number += 1;
            } else if self.line.len() < LOOKED_AT
                && !(self.line.is_empty() && byte.is_ascii_whitespace())
            {
                self.line.push(byte);
            }
        }
        Ok(())
    }

    pub(crate) fn end(&mut self) -> Result<(), String> {
        let line = self.line.as_slice();
        // SQL's `USE`, in any case.
        let use_statement = line.split_at_checked(3).is_some_and(|(word, rest)| {
            word.eq_ignore_ascii_case(b"USE") && starts_word(rest, b"")
        });
        let why = match self.engine {
            DatabaseEngine::Postgres
                if starts_word(line, b"\\c") || starts_word(line, b"\\connect") =>
            {
                "connects to another database (`pg_dump -C` writes such a line: dump without it)"
            }
            DatabaseEngine::Postgres if line.starts_with(b"\\!") => "runs a program",
            DatabaseEngine::Mariadb if use_statement || starts_word(line, b"\\u") => {
                "switches to another database (`mariadb-dump --databases` writes such a line: dump one database without it)"
            }
            _ => {
                self.line.clear();
                return Ok(());
            }
        };
        Err(format!(
            "line {} {why}; wharf loads a dump into the one database it names, so nothing was loaded",
            self.number
        ))
    }
}

/// Whether `line` is `word`, or starts with it and white space.
fn starts_word(line: &[u8], word: &[u8]) -> bool {
    line.strip_prefix(word)
        .is_some_and(|rest| rest.first().is_none_or(u8::is_ascii_whitespace))
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
        // What only looks alike: a COPY row, a column named so, psql's own settings.
        assert!(
            guarded(
                pg,
                &[
                    "\\copy t from x\n",
                    "\\connectx\n",
                    "\\set ON_ERROR_STOP on\n"
                ]
            )
            .is_ok()
        );
        let my = DatabaseEngine::Mariadb;
        assert!(
            guarded(my, &["use `other`;\n"])
                .unwrap_err()
                .contains("line 1 switches")
        );
        assert!(
            guarded(
                my,
                &[
                    "USER_VAR=1;\n",
                    "-- USE x\n",
                    "INSERT INTO used VALUES (1);\n"
                ]
            )
            .is_ok()
        );
    }
}
