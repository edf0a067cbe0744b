// pipelined_take_test.cc: a worker holds two batches (the one its handlers run, and the next,
// taken ahead while they run): SIGKILL, SIGTERM, a refused ack and a lost connection at that
// moment lose nothing, and handle nothing twice where the guarantee does not allow it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

// Batches of kBatch, each handled in kSleepMs by a slow handler: the next one is taken ahead.
constexpr int kBatch = 8;
constexpr int kSleepMs = 250;
constexpr size_t kEvents = 48;

class PipelinedTakeTest : public FaultTest {
 protected:
  void SetUp() override {
    rig_.emplace(kind(), std::vector<std::string>{"slow_sink"});
    RoutesYaml spec = fault_spec("batch: " + std::to_string(kBatch) +
                                 "\nworkers: 1\nreclaim_after: 2s\nmax_deliveries: 5");
    spec.extra_handlers = "slow:\n  plugin: slow_sink\n  config: { path: \"" + slow_out() +
                          "\", sleep_ms: " + std::to_string(kSleepMs) + " }";
    spec.extra_routes = "\"*\": [slow]";
    rig_->write_config(spec);
    events_ = mixed_events(kEvents);
    rig_->publish(events_);
  }

  Rig& rig() { return *rig_; }
  std::string slow_out() const { return rig_->file("slow.out"); }
  std::vector<std::string> handled() { return file_lines(slow_out()); }

  // Waits until the daemon holds two batches: the one in the slow handler and the one taken
  // ahead. Lists: both in-flight lists of the worker are full. Lease: the messages read ahead
  // are not recorded until the ack: the window of a batch taken ahead is in the handler (a
  // second batch was handled, and the one after it read ahead meanwhile).
  bool two_batches_in_hand() {
    return wait_until(
        [&] {
          if (rig_->is_lease())
            return rig_->lease_window().first == kBatch && handled().size() >= kBatch;
          return rig_->inflight_total() == 2 * kBatch;
        },
        20s, "two batches in hand");
  }

  // Every event handled at least once; at most `extra` lines more than events.
  void expect_each_handled(size_t extra) {
    const std::vector<std::string> lines = handled();
    EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
              std::set<std::string>(events_.begin(), events_.end()));
    EXPECT_LE(lines.size(), events_.size() + extra) << "handled more often than allowed";
    EXPECT_EQ(rig_->users(), static_cast<int64_t>(kEvents / 2));
    EXPECT_EQ(rig_->quotes(), static_cast<int64_t>(kEvents / 2));
    EXPECT_EQ(rig_->dead_count(), 0);
    rig_->expect_drained_state();
  }

  bool drained_all() {
    return wait_until(
        [&] { return rig_->all_handled(kEvents / 2, kEvents / 2) && handled().size() >= kEvents; },
        60s, "every event handled");
  }

  std::optional<Rig> rig_;
  std::vector<std::string> events_;
};

TEST_P(PipelinedTakeTest, SigkillWithTwoBatchesInHandLosesNothing) {
  SwitchyardProcess daemon = rig().start();
  ASSERT_TRUE(two_batches_in_hand()) << rig().describe() << "\n" << daemon.log_tail();
  daemon.kill9();
  const size_t before = handled().size();
  daemon = rig().start("switchyard-2.log");
  ASSERT_TRUE(drained_all()) << rig().describe() << "\n" << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  // Redelivered: at most the two batches in hand (the one in the handler may have been written).
  expect_each_handled(2 * kBatch);
  EXPECT_GE(handled().size(), before);
}

TEST_P(PipelinedTakeTest, SigtermWithTwoBatchesInHandFinishesOneAndGivesBackTheOther) {
  SwitchyardProcess daemon = rig().start();
  ASSERT_TRUE(two_batches_in_hand()) << rig().describe() << "\n" << daemon.log_tail();
  ASSERT_TRUE(daemon.signal(SIGTERM));
  const std::optional<int> status = daemon.wait_exit(15s);
  ASSERT_TRUE(status.has_value()) << daemon.log_tail();
  EXPECT_EQ(*status, 0) << daemon.log_tail();
  // The batch in the handler was finished and acked, the one taken ahead given back: nothing
  // in flight, nothing handled twice.
  EXPECT_EQ(rig().inflight_total(), 0) << rig().describe() << "\n" << daemon.log_tail();
  daemon = rig().start("switchyard-2.log");
  ASSERT_TRUE(drained_all()) << rig().describe() << "\n" << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  expect_each_handled(0);
}

TEST_P(PipelinedTakeTest, RefusedAckWithATakeAheadOutstandingLosesNothing) {
  const std::vector<std::string> foreign = mixed_events(2, 100'000);
  SwitchyardProcess daemon = rig().start();
  ASSERT_TRUE(two_batches_in_hand()) << rig().describe() << "\n" << daemon.log_tail();
  size_t extra = 0;
  if (rig().is_lease()) {
    // A message pushed onto the head of K moves the window: the ack is refused (nothing
    // trimmed) and the window handled again.
    rig().client().command({"LPUSH", rig().key(), foreign[0], foreign[1]});
    extra = 2 * kBatch;
  } else {
    // A stranger in each in-flight list: the ack of the batch in the handler is refused while
    // the take ahead is outstanding, then heals (the batch acked, the stranger returned to K);
    // so is the ack of the batch taken ahead (read before the stranger came).
    const std::vector<std::string> lists = rig().client().keys(rig().key() + ":inflight:*");
    ASSERT_EQ(lists.size(), 2u);
    rig().client().command({"RPUSH", lists[0], foreign[0]});
    rig().client().command({"RPUSH", lists[1], foreign[1]});
  }
  events_.insert(events_.end(), foreign.begin(), foreign.end());
  ASSERT_TRUE(wait_until([&] { return handled().size() >= events_.size(); }, 60s, "every event"))
      << rig().describe() << "\n"
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return rig().drained(); }, 30s, "drained"))
      << rig().describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  const std::vector<std::string> lines = handled();
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
            std::set<std::string>(events_.begin(), events_.end()));
  EXPECT_LE(lines.size(), events_.size() + extra) << "handled more often than allowed";
  EXPECT_EQ(rig().dead_count(), 0);
  rig().expect_drained_state();
}

TEST_P(PipelinedTakeTest, LostConnectionWithATakeAheadOutstandingLosesNothing) {
  SwitchyardProcess daemon = rig().start();
  ASSERT_TRUE(two_batches_in_hand()) << rig().describe() << "\n" << daemon.log_tail();
  // Drop the worker's connection (named switchyard:<consumer>:0) while the reply of the take
  // ahead waits on it: the ack reconnects and goes through; the batch taken ahead goes back.
  const std::string list = rig().client().command({"CLIENT", "LIST"}).str;
  std::istringstream in(list);
  std::string line;
  int killed = 0;
  while (std::getline(in, line)) {
    const size_t at = line.find(" name=switchyard:");
    if (at == std::string::npos) continue;
    const std::string name = line.substr(at + 6, line.find(' ', at + 1) - at - 6);
    if (name.size() < 2 || name.compare(name.size() - 2, 2, ":0") != 0) continue;
    const size_t id_at = line.find("id=");
    const std::string id = line.substr(id_at + 3, line.find(' ', id_at) - id_at - 3);
    rig().client().command({"CLIENT", "KILL", "ID", id});
    ++killed;
  }
  ASSERT_EQ(killed, 1) << list;
  ASSERT_TRUE(drained_all()) << rig().describe() << "\n" << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  // The batch in the handler is acked after the reconnect; the one ahead was never handled.
  expect_each_handled(0);
}

TEST_P(PipelinedTakeTest, ATrickleAfterABacklogIsHandledOnceEach) {
  // After the backlog (taken in both lanes in turn), single messages: each is taken by the
  // blocking wait or a small take, in whichever lane, and acked there.
  SwitchyardProcess daemon = rig().start();
  ASSERT_TRUE(drained_all()) << rig().describe() << "\n" << daemon.log_tail();
  const std::vector<std::string> trickle = mixed_events(6, 100'000);
  for (size_t i = 0; i < trickle.size(); ++i) {
    rig().publish({trickle[i]});
    ASSERT_TRUE(wait_until([&] { return handled().size() >= kEvents + i + 1 && rig().drained(); },
                           20s, "trickle message " + std::to_string(i) + " handled"))
        << rig().describe() << "\n"
        << daemon.log_tail();
  }
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  events_.insert(events_.end(), trickle.begin(), trickle.end());
  const std::vector<std::string> lines = handled();
  EXPECT_EQ(lines.size(), events_.size()) << "handled more than once";
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
            std::set<std::string>(events_.begin(), events_.end()));
  EXPECT_EQ(rig().dead_count(), 0);
  rig().expect_drained_state();
}

// Streams do not take ahead: a consumer group's pending entries need no lane of their own.
INSTANTIATE_TEST_SUITE_P(, PipelinedTakeTest,
                         testing::Values(SourceKind::kList, SourceKind::kLaravel,
                                         SourceKind::kLease),
                         kind_param_name);

}  // namespace
}  // namespace switchyard::test::fault
