// sqlite_db.h: read-only peeks into the SQLite files the sink plugins write, for assertions
// (test kit, no GTest).
#ifndef SWITCHYARD_TESTS_SUPPORT_SQLITE_DB_H_
#define SWITCHYARD_TESTS_SUPPORT_SQLITE_DB_H_

#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::test {

// SELECT count(*) FROM table, in `db_path` opened read-only (a private connection per call, busy
// timeout 5 s, so it is safe while the daemon writes in WAL mode). Returns -1 when the file or the
// table does not exist (yet). Handy inside wait_until().
// Errors: any other SQLite failure throws std::runtime_error naming the file and the table.
// Thread safety: reentrant.
int64_t count_rows(const std::string& db_path, const std::string& table);

// Runs `sql` on `db_path` opened read-only (as count_rows) and returns column 0 of the first row
// as an integer. Errors: throws std::runtime_error (naming the file and the SQL) when the file is
// missing, the SQL fails, there is no row, or the value is NULL. Thread safety: reentrant.
int64_t query_int(const std::string& db_path, const std::string& sql);

// Runs `sql` on `db_path` opened read-only (as count_rows) and returns the first row's columns
// as text ("NULL" for NULL); empty when there is no row. Errors: throws std::runtime_error
// (naming the file and the SQL) when the file is missing or the SQL fails. Thread safety:
// reentrant.
std::vector<std::string> query_row(const std::string& db_path, const std::string& sql);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_SQLITE_DB_H_
