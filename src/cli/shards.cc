#include "cli/shards.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "base/atomic_file.h"
#include "oodscore/error.h"
#include "base/json_text.h"
#include "cli/resume.h"

namespace oodscore {

namespace {

// A non-negative integer, or false.
bool ParseCount(const std::string& text, std::size_t* out) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *out = static_cast<std::size_t>(std::stoul(text));
  return true;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The array task's 0-based index from the environment, or an error naming what is missing.
std::size_t IndexFromEnvironment() {
  std::size_t id = 0, min = 0;
  if (ParseCount(Env("SLURM_ARRAY_TASK_ID"), &id)) {
    if (!Env("SLURM_ARRAY_TASK_MIN").empty() && !ParseCount(Env("SLURM_ARRAY_TASK_MIN"), &min)) {
      throw UsageError("--shard auto: SLURM_ARRAY_TASK_MIN='" + Env("SLURM_ARRAY_TASK_MIN") +
                       "' is not a number");
    }
    if (id < min) throw UsageError("--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN");
    return id - min;
  }
  if (ParseCount(Env("JOB_COMPLETION_INDEX"), &id)) return id;
  throw UsageError(
      "--shard auto: no shard index in the environment (expected SLURM_ARRAY_TASK_ID from a Slurm "
      "array job, or JOB_COMPLETION_INDEX from a Kubernetes Indexed Job); give --shard I/N");
}

}  // namespace

ShardSpec ParseShard(const std::string& text) {
  ShardSpec spec;
  const std::size_t slash = text.find('/');
  const std::string left = text.substr(0, slash);
  const std::string right = slash == std::string::npos ? "" : text.substr(slash + 1);
  if (left == "auto") {
    spec.index = IndexFromEnvironment();
    if (slash == std::string::npos) {
      if (!ParseCount(Env("SLURM_ARRAY_TASK_COUNT"), &spec.count)) {
        throw UsageError("--shard auto: SLURM_ARRAY_TASK_COUNT is not set; give the shard count "
                         "as --shard auto/N");
      }
    } else if (!ParseCount(right, &spec.count)) {
      throw UsageError("--shard '" + text + "': expected auto/N with N a shard count");
    }
  } else if (slash == std::string::npos || !ParseCount(left, &spec.index) ||
             !ParseCount(right, &spec.count)) {
    throw UsageError("--shard '" + text + "': expected I/N (0-based shard I of N, e.g. 0/4), "
                     "auto or auto/N");
  }
  if (spec.count == 0 || spec.index >= spec.count) {
    throw UsageError("--shard: shard index " + std::to_string(spec.index) +
                     " is outside 0.." + std::to_string(spec.count == 0 ? 0 : spec.count - 1) +
                     " (shards are numbered from 0)");
  }
  return spec;
}

ShardRange RangeOfShard(std::size_t total, std::size_t batch, const ShardSpec& spec) {
  const std::size_t batches = (total + batch - 1) / batch;
  auto edge = [&](std::size_t i) {
    return std::min(total, batches * i / spec.count * batch);
  };
  return {edge(spec.index), edge(spec.index + 1)};
}

std::vector<SampleSet> SliceSets(const std::vector<SampleSet>& sets, const ShardRange& range) {
  std::vector<SampleSet> out;
  std::size_t start = 0;
  for (const auto& s : sets) {
    SampleSet slice = s;
    const std::size_t n = s.samples.size();
    const std::size_t b = std::clamp(range.begin, start, start + n) - start;
    const std::size_t e = std::clamp(range.end, start, start + n) - start;
    slice.samples.assign(s.samples.begin() + static_cast<std::ptrdiff_t>(b),
                         s.samples.begin() + static_cast<std::ptrdiff_t>(e));
    slice.offset = s.offset + b;
    out.push_back(std::move(slice));
    start += n;
  }
  return out;
}

bool IsPerShardKey(const std::string& key) {
  return key == "shard" || key == "sets" || key == "rows" || key == "complete" ||
         key == "model_path" || key == "num_classes";
}

namespace {

struct ShardFile {
  std::filesystem::path csv;
  nlohmann::json stamp;  // null when the file has none
  std::size_t index = 0, count = 0;
};

std::string Label(const ShardFile& f) {
  return "'" + f.csv.string() + "' (shard " + std::to_string(f.index) + "/" +
         std::to_string(f.count) + ")";
}

std::vector<std::filesystem::path> ExpandFolders(const std::vector<std::filesystem::path>& args) {
  std::vector<std::filesystem::path> files;
  for (const auto& a : args) {
    std::error_code ec;
    if (!std::filesystem::is_directory(a, ec)) {
      files.push_back(a);
      continue;
    }
    std::vector<std::filesystem::path> found;
    for (const auto& e : std::filesystem::directory_iterator(a, ec)) {
      if (e.path().extension() == ".csv") found.push_back(e.path());
    }
    if (ec) throw Error("cannot list folder '" + a.string() + "': " + ec.message());
    if (found.empty()) throw Error("folder '" + a.string() + "' holds no .csv score file");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// Checks that the stamped files are one complete run and puts them in shard order.
void CheckShards(std::vector<ShardFile>* files) {
  const ShardFile& first = files->front();
  for (const ShardFile& f : *files) {
    if (!f.stamp.value("complete", false)) {
      throw Error("shard " + Label(f) + " is not complete: its run stopped early; rerun that "
                  "shard with --resume");
    }
    if (f.count != first.count) {
      throw Error("shard " + Label(f) + " belongs to a run of " + std::to_string(f.count) +
                  " shards, but " + Label(first) + " to one of " + std::to_string(first.count));
    }
    for (auto it = first.stamp.begin(); it != first.stamp.end(); ++it) {
      if (IsPerShardKey(it.key())) continue;
      if (!f.stamp.contains(it.key()) || f.stamp[it.key()] != it.value()) {
        throw Error("shard " + Label(f) + " is from another run than " + Label(first) + ": its " +
                    it.key() + " is " +
                    (f.stamp.contains(it.key()) ? ShortStampValue(f.stamp[it.key()]) : "missing") +
                    ", not " + ShortStampValue(it.value()));
      }
    }
  }
  std::sort(files->begin(), files->end(),
            [](const ShardFile& a, const ShardFile& b) { return a.index < b.index; });
  for (std::size_t i = 0; i < files->size(); ++i) {
    if (i > 0 && (*files)[i].index == (*files)[i - 1].index) {
      throw Error("shard " + std::to_string((*files)[i].index) + " is given twice: '" +
                  (*files)[i - 1].csv.string() + "' and '" + (*files)[i].csv.string() + "'");
    }
  }
  std::vector<std::size_t> missing;
  std::size_t k = 0;
  for (std::size_t i = 0; i < first.count; ++i) {
    if (k < files->size() && (*files)[k].index == i) {
      ++k;
    } else {
      missing.push_back(i);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 10; ++i)
      list += (i ? ", " : "") + std::to_string(missing[i]);
    if (missing.size() > 10) list += ", ...";
    throw Error("shard(s) " + list + " of " + std::to_string(first.count) +
                " missing: every shard of the run must be given to merge it");
  }
  // Consecutive sample ranges, from 0 to every sample found: no sample twice, none left out.
  std::size_t next = 0, total = 0;
  for (const auto& in : first.stamp.at("inputs")) total += in.at("found").get<std::size_t>();
  for (const ShardFile& f : *files) {
    const std::size_t b = f.stamp.at("shard").at("begin"), e = f.stamp.at("shard").at("end");
    if (b != next || e < b) {
      throw Error("shard " + Label(f) + " covers samples " + std::to_string(b) + ".." +
                  std::to_string(e) + ", but the previous shard ended at " + std::to_string(next) +
                  ": the shards overlap or leave a gap");
    }
    next = e;
  }
  if (next != total) {
    throw Error("the shards cover " + std::to_string(next) + " of the run's " +
                std::to_string(total) + " samples");
  }
}

}  // namespace

MergedScores ReadMergedScores(const std::vector<std::filesystem::path>& args) {
  std::vector<ShardFile> files;
  for (const auto& p : ExpandFolders(args)) {
    ShardFile f;
    f.csv = p;
    const std::string stamp_path = StampPath(p.string());
    std::error_code ec;
    if (std::filesystem::is_regular_file(stamp_path, ec)) {
      const nlohmann::json stamp = ParseJsonText(ReadFile(stamp_path), stamp_path);
      const bool plain = stamp.is_object() && !stamp.contains("shard") && args.size() == 1 &&
                         stamp.value("kind", "") == "oodscore-score-stamp";
      if (plain && !(stamp.value("complete", false) && stamp.contains("sets") &&
                     stamp.contains("inputs"))) {
        // A stopped run, or a stamp from before per-set counts: read the rows as they are.
        spdlog::warn("'{}' does not record a complete run; its rows are read without the "
                     "stamp's counts", stamp_path);
      } else if (plain) {
        // A plain run is its own single shard.
        nlohmann::json whole = stamp;
        std::size_t total = 0;
        for (const auto& in : stamp.at("inputs")) total += in.value("found", std::size_t{0});
        whole["shard"] = {{"index", 0}, {"count", 1}, {"begin", 0}, {"end", total}};
        f.stamp = whole;
        f.count = 1;
      } else if (stamp.is_object() && stamp.contains("shard")) {
        f.stamp = stamp;
        try {
          f.index = stamp.at("shard").at("index");
          f.count = stamp.at("shard").at("count");
        } catch (const nlohmann::json::exception&) {
          throw Error("'" + stamp_path + "': \"shard\" must hold index and count");
        }
      }
    }
    files.push_back(std::move(f));
  }
  if (files.empty()) throw UsageError("no score files given");
  MergedScores merged;
  const auto stamped = std::count_if(files.begin(), files.end(),
                                     [](const ShardFile& f) { return !f.stamp.is_null(); });
  if (stamped > 0 && stamped < static_cast<long>(files.size())) {
    const auto odd = std::find_if(files.begin(), files.end(),
                                  [](const ShardFile& f) { return f.stamp.is_null(); });
    throw Error("'" + odd->csv.string() + "' has no shard stamp ('" + StampPath(odd->csv.string()) +
                "'), but other files do: shard files must all come from one `score --shard` run");
  }
  merged.stamped = stamped > 0;
  if (merged.stamped) CheckShards(&files);

  std::map<std::string, std::size_t> set_index;
  if (merged.stamped) {
    merged.stamp = files.front().stamp;
    merged.model_path = files.front().stamp.value("model_path", "");
    for (const ShardFile& f : files)
      merged.num_classes = std::max(merged.num_classes, f.stamp.value("num_classes", 0));
    for (auto it = files.front().stamp.begin(); it != files.front().stamp.end(); ++it) {
      if (IsPerShardKey(it.key())) merged.stamp.erase(it.key());
    }
    for (const auto& in : merged.stamp.at("inputs")) {
      SetCounts c;
      c.name = ReadNameField(in, "name");
      set_index[c.name] = merged.sets.size();
      merged.sets.push_back(c);
    }
  }
  for (const ShardFile& f : files) {
    const std::size_t before = merged.table.size();
    AppendScoreFile(f.csv, {}, &merged.table);
    merged.files.push_back(f.csv);
    if (!merged.stamped) continue;
    const std::size_t rows = merged.table.size() - before;
    if (f.stamp.value("rows", rows) != rows) {
      throw Error("shard " + Label(f) + " has " + std::to_string(rows) + " rows, but its stamp says " +
                  std::to_string(f.stamp.value("rows", std::size_t{0})) +
                  ": the file was changed or cut after the run");
    }
    for (const auto& s : f.stamp.at("sets")) {
      const std::string name = ReadNameField(s, "name");
      const auto it = set_index.find(name);
      if (it == set_index.end()) throw Error("shard " + Label(f) + " has a set '" + name +
                                             "' that is not among the run's inputs");
      SetCounts& c = merged.sets[it->second];
      c.found += s.at("found").get<std::size_t>();
      c.scored += s.at("scored").get<std::size_t>();
      c.skipped += s.at("skipped").get<std::size_t>();
      for (const auto& k : s.at("skipped_files"))
        merged.skipped.push_back({name, ReadNameField(k, "path"), k.value("reason", "")});
    }
  }
  return merged;
}

void UseStampedCounts(const MergedScores& merged, Report* report) {
  std::vector<std::string> names;
  for (SetCounts& c : report->sets) {
    for (const SetCounts& m : merged.sets) {
      if (m.name == c.name) c = m;
    }
    names.push_back(c.name);
  }
  report->skipped.clear();
  for (const SkippedSample& k : merged.skipped) {
    if (std::find(names.begin(), names.end(), k.set) != names.end()) report->skipped.push_back(k);
  }
}

}  // namespace oodscore
