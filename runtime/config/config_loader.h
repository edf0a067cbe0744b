// config_loader.h: reads routes.yaml into a Config, rejecting anything README "routes.yaml" does
// not describe. Thread safety: stateless functions; safe from any thread.
#ifndef SWITCHYARD_CONFIG_CONFIG_LOADER_H_
#define SWITCHYARD_CONFIG_CONFIG_LOADER_H_

#include <string>

#include "config/config.h"
#include "util/status.h"

namespace switchyard {

// Loads and validates the file at path into *config. On failure returns an error whose message
// starts with "FILE:LINE:COL: " (the position of the offending node; for a missing required key
// the position of the map that lacks it) and says what to do. Unknown keys, wrong types, bad
// durations, a route naming an undefined handler are all errors. Does not touch plugins or
// Redis. Relative plugins_dir, password_file and contract paths are made absolute against the
// file's directory. On failure *config is left unchanged (a failed reload keeps the old one).
Status load_config(const std::string& path, Config* config);

// Same, from YAML text; name is used as FILE in messages and dir for relative paths.
Status load_config_from_string(const std::string& yaml, const std::string& name,
                               const std::string& dir, Config* config);

// Parses a duration such as "250ms", "30s", "5m", "1h", "7d" or a bare number of milliseconds.
// Returns false when text is not a duration.
bool parse_duration(const std::string& text, Millis* out);

}  // namespace switchyard

#endif  // SWITCHYARD_CONFIG_CONFIG_LOADER_H_
