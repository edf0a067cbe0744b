// help_text.cc: the text of `switchyard --version` / `version` and the examples under each
// command's --help.
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "switchyard/plugin.h"
#include "switchyard/version.h"

#ifndef SWITCHYARD_BUILD_TYPE
#define SWITCHYARD_BUILD_TYPE ""
#endif

namespace switchyard {

std::string version_text() {
  const std::string build = SWITCHYARD_BUILD_TYPE[0] ? SWITCHYARD_BUILD_TYPE : "unspecified";
  return std::string("switchyard ") + SWITCHYARD_VERSION_STRING + " (" + build +
         " build, plugin ABI " + std::to_string(SWITCHYARD_ABI_VERSION) + ")";
}

int version_command() {
  std::cout << version_text() << "\n";
  return 0;
}

std::string help_examples(const std::string& command) {
  static const std::map<std::string, std::string> kExamples = {
      {"",
       "switchyard check -c /etc/switchyard/routes.yaml\n"
       "switchyard stats --watch\n"
       "switchyard dlq list --source events\n"
       "switchyard COMMAND --help"},
      {"run",
       "switchyard run -c /etc/switchyard/routes.yaml\n"
       "switchyard run -c routes.yaml --redis redis://127.0.0.1:6379/0 --watch\n"
       "switchyard run --instance worker-2 --plugins-dir ./plugins"},
      {"reload",
       "switchyard reload -c /etc/switchyard/routes.yaml\n"
       "systemctl reload switchyard   # the packaged service"},
      {"check",
       "switchyard check -c routes.yaml\n"
       "switchyard check --print-keys\n"
       "switchyard check --route quote.created\n"
       "switchyard check --connect"},
      {"publish",
       "switchyard publish user.registered '{\"user_id\":42}'\n"
       "switchyard publish quote.created '{\"quote_id\":1}' --source analytics\n"
       "switchyard publish --file events.jsonl\n"
       "producer | switchyard publish --file -"},
      {"dlq",
       "switchyard dlq list --source events --limit 50\n"
       "switchyard dlq list --event 'quote.*' --reason timeout --since 1h --json\n"
       "switchyard dlq show ID\n"
       "switchyard dlq replay ID\n"
       "switchyard dlq replay --handler quotes_db --dry-run\n"
       "switchyard dlq purge --older-than 7d --yes"},
      {"stats",
       "switchyard stats\n"
       "switchyard stats --source events --json\n"
       "switchyard stats --watch --interval 2"},
      {"top",
       "switchyard top\n"
       "switchyard top -c /etc/switchyard/routes.yaml"},
      {"tap",
       "switchyard tap\n"
       "switchyard tap --event 'quote.*' --limit 20\n"
       "switchyard tap --source events"},
      {"test",
       "switchyard test routes.test.yaml\n"
       "switchyard test -c routes.yaml routes.test.yaml"},
      {"backfill",
       "switchyard backfill --handler quotes_archive --since 24h --dry-run\n"
       "switchyard backfill --handler quotes_archive --since 24h --rate 2000/s"},
      {"replay",
       "switchyard replay --to-handler quotes_db --since 2h\n"
       "switchyard replay --to-handler quotes_db --since 2026-05-07T10:00:00Z --until 1h "
       "--event 'quote.*'"},
      {"pause",
       "switchyard pause events\n"
       "switchyard pause --handler quotes_db"},
      {"resume",
       "switchyard resume events\n"
       "switchyard resume --handler quotes_db"},
      {"console",
       "switchyard console -c /etc/switchyard/routes.yaml\n"
       "switchyard console --listen 127.0.0.1:0"},
      {"version",
       "switchyard version\n"
       "switchyard --version"},
  };
  auto it = kExamples.find(command);
  if (it == kExamples.end()) return {};
  std::string text = "Examples:\n";
  size_t start = 0;
  while (start < it->second.size()) {
    size_t end = it->second.find('\n', start);
    if (end == std::string::npos) end = it->second.size();
    text += "  " + it->second.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return text;
}

}  // namespace switchyard
