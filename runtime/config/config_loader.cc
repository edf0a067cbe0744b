// config_loader.cc: placeholder, being written.
#include "config/config_loader.h"
namespace switchyard {
Status load_config(const std::string& path, Config*) { return Status::error(path + ": not implemented"); }
Status load_config_from_string(const std::string&, const std::string& name, const std::string&, Config*) { return Status::error(name + ": not implemented"); }
bool parse_duration(const std::string&, Millis*) { return false; }
}  // namespace switchyard
