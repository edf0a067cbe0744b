// pause_test.cc: the K:paused fields as the daemon reads them, parked scores, and the board the
// workers follow.
#include "dispatch/pause.h"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

TEST(PauseTest, FieldsBecomeTheSourceAndTheSortedHandlers) {
  PausedState s = PausedState::from_fields({{"handler:quotes_db", "2026-12-05T02:00:00Z by ops@h"},
                                            {"handler:audit", "x"},
                                            {"handler:", "an empty name is ignored"},
                                            {"something else", "ignored"}});
  EXPECT_FALSE(s.source);
  EXPECT_EQ(s.handlers, (std::vector<std::string>{"audit", "quotes_db"}));
  EXPECT_TRUE(PausedState::from_fields({{"source", "x"}}).source);
  EXPECT_EQ(paused_key("events"), "events:paused");
}

TEST(PauseTest, ParkedScoresAreNeverDueExactAndPerHandler) {
  const int64_t a = parked_score("audit"), b = parked_score("quotes_db");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, parked_score("audit"));  // the same in every process
  for (int64_t score : {a, b, parked_score(""), parked_score(std::string(1000, 'x'))}) {
    EXPECT_GE(score, int64_t{1} << 52);  // beyond any unix ms (year 142,000)
    EXPECT_LT(score, int64_t{1} << 53);  // a Redis score (a double) holds it exactly
    EXPECT_EQ(static_cast<int64_t>(static_cast<double>(score)), score);
  }
}

TEST(PauseTest, TheBoardTellsWorkersWhatChanged) {
  PauseBoard board;
  EXPECT_FALSE(board.loaded());
  board.publish(PausedState{});
  EXPECT_TRUE(board.loaded());
  EXPECT_FALSE(board.source_paused());
  const uint64_t v0 = board.version();
  board.publish(PausedState{true, {}});
  EXPECT_TRUE(board.source_paused());
  EXPECT_EQ(board.version(), v0);  // the handlers did not change
  board.publish(PausedState{false, {"audit"}});
  EXPECT_FALSE(board.source_paused());
  EXPECT_NE(board.version(), v0);
  EXPECT_EQ(board.handlers(), std::vector<std::string>{"audit"});
}

}  // namespace
}  // namespace switchyard
