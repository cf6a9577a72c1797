//! The database-level grants a MariaDB copy carries over. A view, trigger or routine
//! runs as its definer, often the app's own user (`MARIADB_USER`, which the image
//! grants its database alone), and the server makes one in a database only if that
//! definer may use it there: a copy under a new name gets the grants its source has
//! (as a clone should), a snapshot too (whose views are read back as they were made
//! only where their definer may use it), and a load, built beside a database, is
//! given that database's grants first. A database of wharf's loses them when it goes,
//! so no later database of that name inherits them.

use std::fmt::Write as _;

use crate::mariadb::{identifier, literal};
use crate::operations::is_wharfs;

/// The statements giving `to` every database-level grant of `from`.
pub(crate) fn copy_grants_statement(from: &str, to: &str) -> String {
    format!(
        "CREATE TEMPORARY TABLE mysql.wharf_grants SELECT * FROM mysql.db WHERE Db IN ({}, {});\n\
         UPDATE mysql.wharf_grants SET Db = {};\n\
         REPLACE INTO mysql.db SELECT * FROM mysql.wharf_grants;\n\
         FLUSH PRIVILEGES;",
        literal(from),
        literal(&exact_pattern(from)),
        literal(&exact_pattern(to)),
    )
}

/// The statements that drop `name` (`if_exists`: when it may not be there), and
/// forget its grants when it is wharf's.
pub(crate) fn drop_statement(name: &str, if_exists: bool) -> String {
    let mut statement = format!(
        "DROP DATABASE {}{};",
        if if_exists { "IF EXISTS " } else { "" },
        identifier(name)
    );
    if is_wharfs(name) {
        let _ = write!(
            statement,
            "\nDELETE FROM mysql.db WHERE Db = {};\nFLUSH PRIVILEGES;",
            literal(&exact_pattern(name))
        );
    }
    statement
}

/// `name` as a grant's database pattern that matches it alone (`_` and `%` are
/// wildcards there).
fn exact_pattern(name: &str) -> String {
    name.replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%")
}

#[cfg(test)]
mod tests {
    use super::{drop_statement, exact_pattern};

    #[test]
    fn grant_patterns_match_the_name_alone_and_wharfs_databases_lose_theirs() {
        assert_eq!(exact_pattern("shop_db%"), "shop\\_db\\%");
        assert_eq!(drop_statement("shop", false), "DROP DATABASE `shop`;");
        let wharfs = drop_statement("wharf_incoming_1_2_0", true);
        assert!(
            wharfs.starts_with("DROP DATABASE IF EXISTS `wharf_incoming_1_2_0`;")
                && wharfs.contains(
                    "DELETE FROM mysql.db WHERE Db = 'wharf\\\\_incoming\\\\_1\\\\_2\\\\_0'"
                ),
            "{wharfs}"
        );
    }
}
