// secret_file.cc: a secret read from a file only the service user may read.
#include "util/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace switchyard {
namespace {

// True when gid is the effective group of this process or one of its supplementary groups.
bool is_my_group(gid_t gid) {
  if (gid == getegid()) return true;
  const int n = getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  const int got = getgroups(n, groups.data());
  for (int i = 0; i < got; ++i)
    if (groups[static_cast<size_t>(i)] == gid) return true;
  return false;
}

}  // namespace

bool read_secret_file(const std::string& path, const std::string& where,
                      const std::string& meant_for, std::string* password, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    *error = where + ": cannot read it (" + strerror(errno) + ")";
    return false;
  }
  struct stat st;
  std::string why;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = " is not a regular file; put the password alone in a file";
  } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
    why = " is owned by uid " + std::to_string(st.st_uid) +
          ", not by root or the user running switchyard (uid " + std::to_string(geteuid()) +
          "), so it may not be a password meant for " + meant_for + "; run: chown " +
          std::to_string(geteuid()) + " " + path;
  } else if (st.st_mode & S_IROTH) {
    why = " is readable by other users; run: chmod o-rwx " + path;
  } else if ((st.st_mode & S_IRGRP) && !is_my_group(st.st_gid)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    why = " is readable by group " + std::to_string(st.st_gid) + " (mode " + mode +
          "), which is not a group of the user running switchyard, so it may not be a password "
          "meant for " +
          meant_for + "; run: chmod 0600 " + path + ", or chgrp it to the service's group";
  }
  std::string text;
  if (why.empty()) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0 && text.size() < 65536)
      text.append(buffer, static_cast<size_t>(n));
    if (n < 0) why = ": cannot read it (" + std::string(strerror(errno)) + ")";
  }
  close(fd);
  if (!why.empty()) {
    *error = where + why;
    return false;
  }
  *password = text.substr(0, text.find('\n'));
  while (!password->empty() && (password->back() == '\r' || password->back() == ' '))
    password->pop_back();
  return true;
}

}  // namespace switchyard
