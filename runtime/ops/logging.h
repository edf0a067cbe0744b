// logging.h: spdlog setup for the daemon and the commands: text lines, or JSON lines whose
// message is properly escaped, on stderr (journald picks stderr up under systemd).
// Thread safety: call setup_logging once, before starting threads.
#ifndef SWITCHYARD_OPS_LOGGING_H_
#define SWITCHYARD_OPS_LOGGING_H_

#include <string>

namespace switchyard {

// level: trace|debug|info|warn|error; format: text|json.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace switchyard

#endif  // SWITCHYARD_OPS_LOGGING_H_
