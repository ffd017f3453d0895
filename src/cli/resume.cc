#include "cli/resume.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "oodscore/error.h"
#include "oodscore/score_table.h"

namespace oodscore {

ResumePlan PlanResume(const std::string& csv_path, const ScoreStamp& stamp,
                      const std::vector<SampleSet>& sets, std::size_t batch,
                      const std::vector<std::string>& columns) {
  const std::string stamp_path = StampPath(csv_path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(stamp_path, ec)) {
    throw Error("--resume: '" + csv_path + "' has no run stamp '" + stamp_path +
                "', so nothing says which run wrote it; remove it to start over");
  }
  const nlohmann::json old_json = ParseJsonText(ReadFile(stamp_path), stamp_path);
  if (const auto d = FirstDifference(stamp.ToJson(/*run_only=*/true), old_json)) {
    throw Error("--resume: '" + csv_path + "' was written by another run: its " + d->key + " is " +
                d->theirs + ", this run's is " + d->mine + "; remove it to start over");
  }
  const ScoreStamp old = ScoreStamp::FromJson(old_json, stamp_path);
  // The rows the old run flushed must be the bytes its stamp vouches for; rows flushed after
  // its last stamp (a kill in between) are not kept, but scored again.
  bool verified = false;
  try {
    verified = VerifyCsvDigest(csv_path, old);
  } catch (const Error& e) {
    throw Error("--resume: " + std::string(e.what()) + "; remove it to start over");
  }
  if (!verified) spdlog::warn("--resume: {}", UnverifiedWarning(csv_path));
  ResumePlan plan;
  std::size_t total = 0;
  for (const auto& s : sets) total += s.samples.size();
  std::string text = ReadFile(csv_path);
  if (old.complete) {
    if (!verified && old.has_counts) {
      // No digest to check: the row count at least.
      ScoreTable rows;
      if (!text.empty()) rows = ParseScoreCsv(text, csv_path, {/*keep_paths=*/false});
      if (rows.size() != old.rows) {
        throw Error("--resume: '" + csv_path + "' holds " + std::to_string(rows.size()) +
                    " rows, but its stamp '" + stamp_path + "' says the complete run wrote " +
                    std::to_string(old.rows) +
                    ": the file was changed or cut after the run; remove it to start over");
      }
    }
    plan.done = total;
    plan.complete = true;
    return plan;
  }
  if (verified) text.resize(old.csv_bytes);
  // Whole rows only: a torn last line (disk full, kill) is dropped.
  const std::size_t end = text.rfind('\n');
  text.resize(end == std::string::npos ? 0 : end + 1);
  ScoreTable table;
  if (!text.empty()) table = ParseScoreCsv(text, csv_path, {/*keep_paths=*/true});
  if (!text.empty() && table.columns != columns) {
    throw Error("--resume: '" + csv_path + "' has other score columns than this run writes");
  }
  // Each row is the next of this run's samples (skipped samples have none).
  std::vector<std::size_t> index(table.size());
  std::size_t item = 0, s = 0, k = 0;
  for (std::size_t r = 0; r < table.size(); ++r) {
    for (;; ++item, ++k) {
      while (s < sets.size() && k == sets[s].samples.size()) {
        ++s;
        k = 0;
      }
      if (s == sets.size()) {
        throw Error("--resume: '" + csv_path + "' row " + std::to_string(r + 1) + " ('" +
                    std::string(table.path(r)) + "') is not one of this run's samples, in order");
      }
      if (sets[s].name == table.set(r) && sets[s].samples[k].path == table.path(r)) {
        break;
      }
    }
    index[r] = item++;
    ++k;
  }
  const std::size_t reached = index.empty() ? 0 : index.back() + 1;
  plan.done = reached / batch * batch;  // back to a batch boundary
  while (plan.rows < index.size() && index[plan.rows] < plan.done) ++plan.rows;
  plan.rows_per_set.assign(sets.size(), 0);
  for (std::size_t r = 0; r < plan.rows; ++r) {
    for (std::size_t s = 0; s < sets.size(); ++s) {
      if (sets[s].name == table.set(r)) {
        ++plan.rows_per_set[s];
        break;
      }
    }
  }
  // Rewrite the file with the kept rows, byte for byte as they were written.
  const std::string tmp = csv_path + ".resume-tmp";
  {
    ScoreWriter writer(tmp, columns);
    for (std::size_t r = 0; r < plan.rows; ++r) writer.Write(table.Row(r));
    writer.Close();
  }
  std::filesystem::rename(tmp, csv_path, ec);
  if (ec) throw Error("--resume: cannot replace '" + csv_path + "': " + ec.message());
  return plan;
}

std::vector<SampleSet> Remaining(const std::vector<SampleSet>& sets, std::size_t done) {
  std::vector<SampleSet> out;
  for (const auto& s : sets) {
    SampleSet r = s;
    r.samples.clear();
    const std::size_t skip = std::min(done, s.samples.size());
    r.samples.assign(s.samples.begin() + static_cast<std::ptrdiff_t>(skip), s.samples.end());
    done -= skip;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace oodscore
