// secret_file.h: reads a secret (the Redis password, the console's write token) from a file that
// only the service user may read.
// Thread safety: reentrant.
#ifndef SWITCHYARD_UTIL_SECRET_FILE_H_
#define SWITCHYARD_UTIL_SECRET_FILE_H_

#include <string>

namespace switchyard {

// Reads the first line of `path` (trailing CR and spaces dropped) into *secret, checked on the
// descriptor that is read: a regular file owned by root or the user running switchyard, not
// readable by other users, and readable by its group only when that group is one of the caller's
// (so root:shadow 0640 /etc/shadow is refused, root:switchyard 0640 is accepted for the service
// user). False with *error = where + why + the command that fixes it; `meant_for` ends "it may
// not be a password meant for <meant_for>".
bool read_secret_file(const std::string& path, const std::string& where,
                      const std::string& meant_for, std::string* secret, std::string* error);

}  // namespace switchyard

#endif  // SWITCHYARD_UTIL_SECRET_FILE_H_
