//! Names and texts quoted for the SQL of each database engine, for the statements the
//! recipes' entrypoints and `wharf db` write (never user SQL).

/// PostgreSQL (standard_conforming_strings on, as by default).
pub mod postgres {
    /// `"name"`, with inner quotes doubled.
    pub fn identifier(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// `'text'`, with inner quotes doubled.
    pub fn literal(text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// MariaDB and MySQL.
pub mod mariadb {
    /// `` `name` ``, with inner backquotes doubled.
    pub fn identifier(name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    /// `'text'`, with backslashes escaped and quotes doubled.
    pub fn literal(text: &str) -> String {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_texts_are_quoted_for_each_engine() {
        assert_eq!(super::postgres::identifier("my\"db"), "\"my\"\"db\"");
        assert_eq!(super::postgres::literal("it's"), "'it''s'");
        assert_eq!(super::mariadb::identifier("we`ird"), "`we``ird`");
        assert_eq!(super::mariadb::literal("it's \\ fine"), "'it''s \\\\ fine'");
    }
}
