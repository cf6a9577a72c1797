//! A MariaDB database's objects beside its tables — routines, views, triggers, events
//! — read as the statements that create them (`SHOW CREATE …`, with the `sql_mode`
//! each was made under) and made again in another database. A copy or a rename moves
//! the tables, then these.
//!
//! Read from inside their database, a view's statement names that database's tables
//! unqualified, so it is made again as it reads. Bodies (routines, triggers, events)
//! are kept as they were written: names the writer qualified with the old database are
//! qualified with the new one.

use std::fmt::Write as _;

use crate::error::DbError;
use crate::mariadb::{Mariadb, identifier, literal};
use crate::operations::is_wharfs;

/// The kinds in the order they are made again: routines first (views and triggers may
/// call them), views before triggers (which may read them), events last.
const KINDS: [Kind; 5] = [
    Kind::Procedure,
    Kind::Function,
    Kind::View,
    Kind::Trigger,
    Kind::Event,
];

#[derive(Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Kind {
    Procedure,
    Function,
    View,
    Trigger,
    Event,
}

impl Kind {
    /// The names of this kind in `schema` (a quoted literal), each after its kind's
    /// keyword.
    fn names_query(self, schema: &str) -> String {
        let keyword = self.keyword();
        match self {
            Self::Procedure | Self::Function => format!(
                "SELECT '{keyword}', routine_name FROM information_schema.routines WHERE routine_schema = {schema} \
                 AND routine_type = '{keyword}' ORDER BY routine_name;"
            ),
            Self::View => format!(
                "SELECT '{keyword}', table_name FROM information_schema.views WHERE table_schema = {schema} ORDER BY table_name;"
            ),
            Self::Trigger => format!(
                "SELECT '{keyword}', trigger_name FROM information_schema.triggers WHERE trigger_schema = {schema} \
                 ORDER BY event_object_table, action_timing, event_manipulation, action_order;"
            ),
            Self::Event => format!(
                "SELECT '{keyword}', event_name FROM information_schema.events WHERE event_schema = {schema} ORDER BY event_name;"
            ),
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Self::Procedure => "PROCEDURE",
            Self::Function => "FUNCTION",
            Self::View => "VIEW",
            Self::Trigger => "TRIGGER",
            Self::Event => "EVENT",
        }
    }

    /// Where `SHOW CREATE` puts the statement, and the `sql_mode` (none for views).
    fn columns(self) -> (usize, Option<usize>) {
        match self {
            Self::View => (1, None),
            Self::Procedure | Self::Function | Self::Trigger => (2, Some(1)),
            Self::Event => (3, Some(1)),
        }
    }
}

/// One object, as the statement that makes it again.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Object {
    kind: Kind,
    name: String,
    sql_mode: Option<String>,
    create: String,
}

impl Object {
    pub(crate) fn is_trigger(&self) -> bool {
        matches!(self.kind, Kind::Trigger)
    }

    /// The same kind of object under the same name (one made again elsewhere).
    pub(crate) fn same_as(&self, other: &Object) -> bool {
        self.kind == other.kind && self.name == other.name
    }
}

impl Mariadb {
    /// Every object of `database` beside its tables.
    /// Two sessions whatever their number: one lists them, one reads them all.
    pub(crate) fn objects(&self, database: &str) -> Result<Vec<Object>, DbError> {
        let listing: String = KINDS
            .iter()
            .map(|kind| kind.names_query(&literal(database)))
            .collect();
        let names: Vec<(Kind, String)> = self
            .sql(&listing, &format!("listing the objects of {database}"))?
            .into_iter()
            .filter_map(|row| match <[String; 2]>::try_from(row) {
                Ok([keyword, name]) => KINDS
                    .into_iter()
                    .find(|kind| kind.keyword() == keyword)
                    .map(|kind| (kind, name)),
                Err(_) => None,
            })
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut reading = format!("USE {};\n", identifier(database));
        for (kind, name) in &names {
            let _ = writeln!(
                reading,
                "SHOW CREATE {} {};",
                kind.keyword(),
                identifier(name)
            );
        }
        let statements = self.sql(&reading, &format!("reading the objects of {database}"))?;
        let mut objects: Vec<Object> = names
            .into_iter()
            .zip(statements)
            .map(|((kind, name), fields)| {
                let (statement, mode) = kind.columns();
                Object {
                    kind,
                    name,
                    sql_mode: mode.and_then(|i| fields.get(i).cloned()),
                    create: fields.get(statement).cloned().unwrap_or_default(),
                }
            })
            .collect();
        let at = objects.iter().position(|o| o.kind == Kind::View);
        let mut views = objects.split_off(at.unwrap_or(objects.len()));
        let after = views.iter().position(|o| o.kind != Kind::View);
        let rest = views.split_off(after.unwrap_or(views.len()));
        objects.extend(in_dependency_order(views));
        objects.extend(rest);
        Ok(objects)
    }

    /// Refuses a `database` with a view that no longer reads (a table it reads was
    /// dropped): the server would not make it again in a copy. Said before anything
    /// changes, with the server's words naming the view.
    /// Views of wharf's own databases were made from views that worked: not looked at.
    pub(crate) fn check_views(&self, objects: &[Object], database: &str) -> Result<(), DbError> {
        if is_wharfs(database) {
            return Ok(());
        }
        let mut script = String::new();
        for view in objects.iter().filter(|o| o.kind == Kind::View) {
            let _ = writeln!(
                script,
                "SELECT 1 FROM {}.{} LIMIT 0;",
                identifier(database),
                identifier(&view.name)
            );
        }
        if script.is_empty() {
            return Ok(());
        }
        match self.sql(&script, "") {
            Err(DbError::Failed { message, .. }) => Err(DbError::Dump(format!(
                "{message}\nhint: a view of {database} no longer works, so wharf cannot keep a copy of {database} (its snapshot, its clone) with it: drop or fix the view (`wharf db shell {database}`, then DROP VIEW or CREATE OR REPLACE VIEW), then run this again"
            ))),
            other => other.map(drop),
        }
    }

    /// Makes `objects` of database `from` in database `to`.
    pub(crate) fn recreate(&self, objects: &[Object], from: &str, to: &str) -> Result<(), DbError> {
        if objects.is_empty() {
            return Ok(());
        }
        // Statements with bodies hold `;`: they end with a delimiter of their own.
        let mut script = format!("USE {};\nDELIMITER //wharf//\n", identifier(to));
        for object in objects {
            if let Some(mode) = &object.sql_mode {
                let _ = writeln!(script, "SET SESSION sql_mode = {}//wharf//", literal(mode));
            }
            let create = match object.kind {
                Kind::View => object.create.clone(),
                _ => requalified(&object.create, from, to),
            };
            let _ = writeln!(script, "{create}//wharf//");
        }
        self.sql(
            &script,
            &format!("making the views, triggers and routines of {from} in {to}"),
        )
        .map(drop)
    }

    /// Drops the triggers among `objects` from `database`: a table with triggers cannot
    /// be renamed into another database.
    pub(crate) fn drop_triggers(&self, objects: &[Object], database: &str) -> Result<(), DbError> {
        let mut script = String::new();
        for trigger in objects.iter().filter(|o| o.is_trigger()) {
            let _ = writeln!(
                script,
                "DROP TRIGGER {}.{};",
                identifier(database),
                identifier(&trigger.name)
            );
        }
        if script.is_empty() {
            return Ok(());
        }
        self.sql(
            &script,
            &format!("setting aside the triggers of {database}"),
        )
        .map(drop)
    }
}

/// `views` with each after the views it reads, as a view can only be made once what
/// it reads is there. A view reads another when its statement names it (quoted, as
/// `SHOW CREATE VIEW` writes every name); a column of that name only moves it later,
/// and views that read each other keep their order.
fn in_dependency_order(mut views: Vec<Object>) -> Vec<Object> {
    let mut ordered: Vec<Object> = Vec::with_capacity(views.len());
    while !views.is_empty() {
        let reads = |view: &Object, other: &Object| {
            other.name != view.name && view.create.contains(&identifier(&other.name))
        };
        let next = views
            .iter()
            .position(|view| !views.iter().any(|other| reads(view, other)))
            .unwrap_or(0);
        ordered.push(views.remove(next));
    }
    ordered
}

/// `sql` with each name qualified by the database `from` (`` `from`.t ``, or `from.t`
/// as a trigger's or a routine's body is written) qualified by `to` instead; texts in
/// quotes, and names inside another qualifier (a table `from` of `from`), are left as
/// they are.
fn requalified(sql: &str, from: &str, to: &str) -> String {
    let mut written = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let taken = match c {
            '\'' | '"' => quoted_length(rest, c),
            '`' => {
                let length = quoted_length(rest, '`');
                if rest[..length] == identifier(from)
                    && rest[length..].starts_with('.')
                    && !written.ends_with('.')
                {
                    written.push_str(&identifier(to));
                    rest = &rest[length..];
                    continue;
                }
                length
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let length = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                    .unwrap_or(rest.len());
                let word = &rest[..length];
                let qualifies = rest[length..].trim_start().starts_with('.');
                // A word right after a `.` is a name inside another qualifier.
                let after_dot = written.trim_end().ends_with('.');
                if word == from && qualifies && !after_dot {
                    written.push_str(&identifier(to));
                    rest = &rest[length..];
                    continue;
                }
                length
            }
            c => c.len_utf8(),
        };
        written.push_str(&rest[..taken]);
        rest = &rest[taken..];
    }
    written
}

/// The length of the text quoted by `quote` that `text` starts with, the closing
/// quote included (a doubled quote or a backslash does not close it).
fn quoted_length(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\\' && quote != '`' {
            chars.next();
        } else if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
            } else {
                return at + c.len_utf8();
            }
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::{Kind, Object, in_dependency_order, requalified};

    #[test]
    fn views_come_after_the_views_they_read() {
        let view = |name: &str, create: &str| Object {
            kind: Kind::View,
            name: name.to_owned(),
            sql_mode: None,
            create: create.to_owned(),
        };
        let ordered = in_dependency_order(vec![
            view("a", "CREATE VIEW `a` AS select `id` from `b`"),
            view("b", "CREATE VIEW `b` AS select `id` from `c`"),
            view("c", "CREATE VIEW `c` AS select `id` from `items`"),
            view("d", "CREATE VIEW `d` AS select `id` from `items`"),
        ]);
        let names: Vec<_> = ordered.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "a", "d"]);
    }

    #[test]
    fn names_of_the_old_database_are_of_the_new_one_texts_aside() {
        assert_eq!(
            requalified(
                "INSERT INTO mdb.log SELECT * FROM `mdb`.`t` JOIN other.mdb m WHERE x = 'mdb.t' AND mdbx.y = 1",
                "mdb",
                "mdb2"
            ),
            "INSERT INTO `mdb2`.log SELECT * FROM `mdb2`.`t` JOIN other.mdb m WHERE x = 'mdb.t' AND mdbx.y = 1"
        );
        // A table named as its database: only the first of the two is the database.
        assert_eq!(
            requalified(
                "SELECT `mdb`.`mdb`.`id`, mdb.mdb.name FROM `mdb`.`mdb`",
                "mdb",
                "mdb2"
            ),
            "SELECT `mdb2`.`mdb`.`id`, `mdb2`.mdb.name FROM `mdb2`.`mdb`"
        );
    }
}
