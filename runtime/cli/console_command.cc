// console_command.cc: `switchyard console`: serves the web console from this process, reading
// everything from Redis (so it shows every instance), until SIGINT or SIGTERM.
#include <signal.h>

#include <iostream>

#include "cli/commands.h"
#include "console/console_server.h"
#include "ops/http_endpoint.h"

namespace switchyard {

int console_command(const CommonOptions& common, const ConsoleCommandOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  ConsoleOptions console_options;
  console_options.write = loaded.config->ui.write;
  std::string error;
  if (console_options.write &&
      !read_console_token(loaded.config->ui, &console_options.token, &error)) {
    std::cerr << "switchyard: " << error << "\n";
    return 2;
  }
  std::shared_ptr<const Config> config = loaded.config;
  ConsoleServer console(
      loaded.endpoint, [config] { return config; }, std::move(console_options));
  // The server's threads inherit this mask: only this thread takes the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  HttpEndpoint http(
      options.listen, nullptr, loaded.endpoint, [config] { return config; }, "--listen");
  http.add_routes({[&console](httplib::Server& server) { console.install(server); },
                   &ConsoleServer::is_write_path, ConsoleServer::kMaxBody});
  Status s = http.start();
  if (!s) {
    std::cerr << "switchyard console: " << s.message() << "\n";
    return 2;
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  std::cout << "switchyard console: http://" << host << ":" << http.port() << "/ui/ ("
            << (loaded.config->ui.write ? "replay and purge with the token of ui.token_file"
                                        : "read-only: ui.write is false")
            << "; Ctrl-C to stop)" << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  http.stop();
  return 0;
}

}  // namespace switchyard
