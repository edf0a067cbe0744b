// consumer_identity.h: a stable name for this process among the consumers of one source, so that
// a restarted process finds (and finishes) the in-flight lists its crashed predecessor left.
//
// The name is "<hostname>:<slot>" where slot is the lowest number whose local lock file this
// process can lock (flock, released by the kernel the instant a process dies, even by SIGKILL).
// Two live processes on one host therefore never share a name, and a restarted one takes over the
// name (and the in-flight lists) of a dead one at once, without waiting for reclaim_after.
// Thread safety: immutable after acquire; the lock lives as long as the object.
#ifndef SWITCHYARD_SOURCE_CONSUMER_IDENTITY_H_
#define SWITCHYARD_SOURCE_CONSUMER_IDENTITY_H_

#include <memory>
#include <string>

#include "util/status.h"

namespace switchyard {

class ConsumerIdentity {
 public:
  // scope identifies the source across processes (Redis address + key). explicit_name, when not
  // empty, is used instead of hostname:slot (it is still locked locally). Lock files live in
  // $RUNTIME_DIRECTORY (systemd), else $XDG_RUNTIME_DIR, else /tmp.
  static Status acquire(const std::string& scope, const std::string& explicit_name,
                        std::unique_ptr<ConsumerIdentity>* out);
  ~ConsumerIdentity();
  ConsumerIdentity(const ConsumerIdentity&) = delete;
  ConsumerIdentity& operator=(const ConsumerIdentity&) = delete;

  const std::string& name() const { return name_; }
  // A value unique to this process run (for the heartbeat and the lease):
  // "<boot id>/<pid>/<start time in us>".
  const std::string& token() const { return token_; }
  // True when token (another run's token()) names a process of this host's current boot that no
  // longer exists: that run is dead. False when it may be alive (another host or boot, or not a
  // token of this form).
  static bool run_token_is_dead(const std::string& token);

 private:
  ConsumerIdentity() = default;
  std::string name_;
  std::string token_;
  int fd_ = -1;
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_CONSUMER_IDENTITY_H_
