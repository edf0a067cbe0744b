// redis_sentinels.cc: starts a master, its replica and three redis-sentinel processes.
#include "support/redis_sentinels.h"

#include <signal.h>

#include <stdexcept>

#include "support/redis_client.h"
#include "support/wait_for.h"

namespace switchyard::test {
namespace {

RedisServerOptions data_node(std::vector<std::string> extra) {
  RedisServerOptions options;
  options.tcp = true;
  options.extra_args = std::move(extra);
  return options;
}

}  // namespace

RedisSentinels::RedisSentinels(std::string sentinel_password)
    : password_(std::move(sentinel_password)), dir_("switchyard-sentinels") {
  nodes_.push_back(std::make_unique<RedisServer>(data_node({})));
}

RedisSentinels::~RedisSentinels() {
  for (ChildProcess& s : sentinels_) s.kill9();
}

void RedisSentinels::start() {
  nodes_[0]->start();
  const std::string master_port = std::to_string(nodes_[0]->port());
  nodes_.push_back(
      std::make_unique<RedisServer>(data_node({"--replicaof", "127.0.0.1", master_port})));
  nodes_[1]->start();
  wait_or_throw(
      [&] {
        const std::string info = nodes_[1]->client().command({"INFO", "replication"}).str;
        return info.find("master_link_status:up") != std::string::npos;
      },
      std::chrono::seconds(30), "the replica to sync with the master on port " + master_port);
  for (int i = 0; i < 3; ++i) {
    const int port = pick_free_tcp_port();
    ports_.push_back(port);
    const std::string name = "sentinel" + std::to_string(i);
    // A sentinel rewrites its configuration file: each gets its own.
    const std::string conf = dir_.write(
        name + ".conf",
        "port " + std::to_string(port) + "\nbind 127.0.0.1\ndir " + dir_.path() + "\nlogfile " +
            dir_.file(name + ".log") + "\nsentinel monitor " + name_ + " 127.0.0.1 " + master_port +
            " 2\nsentinel down-after-milliseconds " + name_ + " 1000\nsentinel failover-timeout " +
            name_ + " 5000\n" +
            (password_.empty()
                 ? ""
                 : "requirepass " + password_ + "\nsentinel sentinel-pass " + password_ + "\n"));
    ChildProcess p;
    p.spawn({"redis-sentinel", conf}, {}, dir_.file(name + ".out"));
    sentinels_.push_back(std::move(p));
  }
  for (size_t i = 0; i < ports_.size(); ++i) {
    wait_or_throw(
        [&] {
          RedisClient c = sentinel_client(ports_[i]);
          return c.command({"SENTINEL", "REPLICAS", name_}).elements.size() == 1 &&
                 c.command({"SENTINEL", "SENTINELS", name_}).elements.size() == 2;
        },
        std::chrono::seconds(30),
        "sentinel on port " + std::to_string(ports_[i]) +
            " to know the replica and the two other sentinels (log: " +
            dir_.file("sentinel" + std::to_string(i) + ".log") + ")");
  }
}

RedisClient RedisSentinels::sentinel_client(int port) const {
  RedisClient c("127.0.0.1", port, std::chrono::milliseconds(500));
  if (!password_.empty()) c.command({"AUTH", password_});
  return c;
}

void RedisSentinels::failover() {
  sentinel_client(ports_[0]).command({"SENTINEL", "FAILOVER", name_});
}

std::vector<std::string> RedisSentinels::sentinel_urls() const {
  std::vector<std::string> urls;
  for (int port : ports_) urls.push_back("redis://127.0.0.1:" + std::to_string(port));
  return urls;
}

int RedisSentinels::master_port() {
  for (int port : ports_) {
    try {
      RedisClient c = sentinel_client(port);
      Reply r = c.command({"SENTINEL", "get-master-addr-by-name", name_});
      if (r.elements.size() == 2) return std::stoi(r.elements[1].str);
    } catch (const std::exception&) {
      // try the next sentinel
    }
  }
  throw std::runtime_error("no sentinel names the master " + name_);
}

size_t RedisSentinels::master_index() {
  const int port = master_port();
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->port() == port) return i;
  throw std::runtime_error("the sentinels name port " + std::to_string(port) +
                           ", which is neither data node");
}

}  // namespace switchyard::test
