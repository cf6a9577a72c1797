//! A MariaDB database's objects beside its tables — routines, views, triggers, events
//! — read as the statements that create them (`SHOW CREATE …`, with the `sql_mode`
//! each was made under) and made again in another database, references to the old
//! database's name turned to the new one's. A copy or a rename moves the tables, then
//! these.

use std::fmt::Write as _;

use crate::error::DbError;
use crate::mariadb::{Mariadb, identifier, literal};

/// The kinds in the order they are made again: routines first (views and triggers may
/// call them), views before triggers (which may read them), events last.
const KINDS: [Kind; 5] = [
    Kind::Procedure,
    Kind::Function,
    Kind::View,
    Kind::Trigger,
    Kind::Event,
];

#[derive(Clone, Copy)]
enum Kind {
    Procedure,
    Function,
    View,
    Trigger,
    Event,
}

impl Kind {
    /// The names of this kind in `schema` (a quoted literal).
    fn names_query(self, schema: &str) -> String {
        match self {
            Self::Procedure | Self::Function => format!(
                "SELECT routine_name FROM information_schema.routines WHERE routine_schema = {schema} \
                 AND routine_type = '{}' ORDER BY routine_name;",
                self.keyword()
            ),
            Self::View => format!(
                "SELECT table_name FROM information_schema.views WHERE table_schema = {schema} ORDER BY table_name;"
            ),
            Self::Trigger => format!(
                "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = {schema} \
                 ORDER BY event_object_table, action_timing, event_manipulation, action_order;"
            ),
            Self::Event => format!(
                "SELECT event_name FROM information_schema.events WHERE event_schema = {schema} ORDER BY event_name;"
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
}

impl Mariadb {
    /// Every object of `database` beside its tables.
    pub(crate) fn objects(&self, database: &str) -> Result<Vec<Object>, DbError> {
        let mut objects = Vec::new();
        for kind in KINDS {
            let names = self.column(
                &kind.names_query(&literal(database)),
                &format!(
                    "listing the {}s of {database}",
                    kind.keyword().to_lowercase()
                ),
            )?;
            for name in &names {
                let fields = self
                    .sql(
                        &format!(
                            "SHOW CREATE {} {}.{};",
                            kind.keyword(),
                            identifier(database),
                            identifier(name)
                        ),
                        &format!("reading {name}"),
                    )?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let (statement, mode) = kind.columns();
                objects.push(Object {
                    kind,
                    name: name.to_owned(),
                    sql_mode: mode.and_then(|i| fields.get(i).cloned()),
                    create: fields.get(statement).cloned().unwrap_or_default(),
                });
            }
        }
        Ok(objects)
    }

    /// Makes `objects` of database `from` in database `to`.
    pub(crate) fn recreate(&self, objects: &[Object], from: &str, to: &str) -> Result<(), DbError> {
        if objects.is_empty() {
            return Ok(());
        }
        // Statements with bodies hold `;`: they end with a delimiter of their own.
        let mut script = format!("USE {};\nDELIMITER //wharf//\n", identifier(to));
        let (old, new) = (
            format!("{}.", identifier(from)),
            format!("{}.", identifier(to)),
        );
        for object in objects {
            if let Some(mode) = &object.sql_mode {
                let _ = writeln!(script, "SET SESSION sql_mode = {}//wharf//", literal(mode));
            }
            let _ = writeln!(script, "{}//wharf//", object.create.replace(&old, &new));
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
