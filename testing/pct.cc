// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/pct.h"

#include <algorithm>

#include "runtime/internal/task_record.h"
#include "runtime/lowlevel.h"

namespace trio::testing {

void PctScheduler::before_run() {
  steps_ = 0;
  order_.clear();
  normal_ = 0;
  change_points_.clear();
  for (int i = 1; i < options_.depth; ++i)
    change_points_.push_back(choices_.choose(options_.max_steps + 1, ChoiceKind::kUser));
}

void PctScheduler::before_task_step(lowlevel::TaskRecord& task) {
  ++steps_;
  if (std::find(change_points_.begin(), change_points_.end(), steps_) == change_points_.end())
    return;
  rank(task.counter);
  size_t pos = position(task.counter);
  order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(pos));
  if (pos < normal_) --normal_;
  order_.push_back(task.counter);
}

size_t PctScheduler::position(uint64_t counter) const {
  return static_cast<size_t>(std::find(order_.begin(), order_.end(), counter) - order_.begin());
}

void PctScheduler::rank(uint64_t counter) {
  if (position(counter) != order_.size()) return;
  // Value v: v places above the lowest never-demoted task (0 = the lowest of them).
  uint64_t v = choices_.choose(normal_ + 1, ChoiceKind::kUser);
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(normal_ - v), counter);
  ++normal_;
}

void PctScheduler::order_batch(std::vector<::trio::internal::TaskRec*>& batch) {
  for (internal::TaskRec* t : batch) rank(t->counter);
  std::stable_sort(batch.begin(), batch.end(), [&](internal::TaskRec* a, internal::TaskRec* b) {
    return position(a->counter) < position(b->counter);
  });
}

const char* schedule_name(Schedule schedule) {
  switch (schedule) {
    case Schedule::kFifo:
      return "fifo";
    case Schedule::kCoinFlip:
      return "coin-flip";
    case Schedule::kShuffle:
      return "shuffle";
    case Schedule::kPct:
      return "pct";
    case Schedule::kLifo:
      return "lifo";
  }
  return "?";
}

ScheduleSetup::ScheduleSetup(Schedule schedule, ChoiceSource& choices, PctOptions pct)
    : schedule_(schedule), choices_(choices) {
  if (schedule == Schedule::kPct) pct_ = std::make_unique<PctScheduler>(choices, pct);
}

void ScheduleSetup::apply(RunOptions& options) {
  options.choices = &choices_;
  switch (schedule_) {
    case Schedule::kFifo:
      options.scheduling = SchedulingPolicy::kFifo;
      break;
    case Schedule::kCoinFlip:
      options.scheduling = SchedulingPolicy::kCoinFlip;
      break;
    case Schedule::kShuffle:
      options.scheduling = SchedulingPolicy::kShuffle;
      break;
    case Schedule::kLifo:
      options.scheduling = SchedulingPolicy::kLifo;
      break;
    case Schedule::kPct:
      options.scheduling = SchedulingPolicy::kCustom;
      options.batch_orderer = pct_.get();
      options.instruments.push_back(pct_.get());
      break;
  }
}

}  // namespace trio::testing
