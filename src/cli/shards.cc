#include "cli/shards.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <unordered_map>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "cli/score_stamp.h"
#include "oodscore/error.h"

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

// The environment variable `name` as a count: false when it is unset or empty; UsageError
// naming the variable, its value and what was expected when it is set to anything else.
bool EnvCount(const char* name, const char* expected, std::size_t* out) {
  const std::string v = Env(name);
  if (v.empty()) return false;
  if (!ParseCount(v, out)) {
    throw UsageError(std::string("--shard auto: ") + name + "='" + v + "' is not " + expected +
                     " (a whole number from 0 to 999999999)");
  }
  return true;
}

// The array task's 0-based index from the environment, or an error naming what is missing.
std::size_t IndexFromEnvironment() {
  std::size_t id = 0, min = 0;
  if (EnvCount("SLURM_ARRAY_TASK_ID", "an array task index", &id)) {
    EnvCount("SLURM_ARRAY_TASK_MIN", "an array task index", &min);
    if (id < min) {
      throw UsageError("--shard auto: SLURM_ARRAY_TASK_ID=" + std::to_string(id) +
                       " is below SLURM_ARRAY_TASK_MIN=" + std::to_string(min));
    }
    return id - min;
  }
  if (EnvCount("JOB_COMPLETION_INDEX", "a job completion index", &id)) return id;
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
      if (!EnvCount("SLURM_ARRAY_TASK_COUNT", "an array task count", &spec.count)) {
        throw UsageError(
            "--shard auto: SLURM_ARRAY_TASK_COUNT is not set; give the shard count "
            "as --shard auto/N");
      }
    } else if (!ParseCount(right, &spec.count)) {
      throw UsageError("--shard '" + text + "': expected auto/N with N a shard count");
    }
  } else if (slash == std::string::npos || !ParseCount(left, &spec.index) ||
             !ParseCount(right, &spec.count)) {
    throw UsageError("--shard '" + text +
                     "': expected I/N (0-based shard I of N, e.g. 0/4), "
                     "auto or auto/N");
  }
  if (spec.count == 0 || spec.index >= spec.count) {
    throw UsageError("--shard: shard index " + std::to_string(spec.index) + " is outside 0.." +
                     std::to_string(spec.count == 0 ? 0 : spec.count - 1) +
                     " (shards are numbered from 0)");
  }
  return spec;
}

ShardRange RangeOfShard(std::size_t total, std::size_t batch, const ShardSpec& spec) {
  const std::size_t batches = (total + batch - 1) / batch;
  auto edge = [&](std::size_t i) { return std::min(total, batches * i / spec.count * batch); };
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

namespace {

struct ShardFile {
  std::filesystem::path csv;
  std::optional<ScoreStamp> stamp;  // none when the file has no stamp
  std::size_t index = 0, count = 0;
  bool stopped = false;  // a lone file whose stamp marks its run stopped
  // The stamp of a whole run given with other files (an ID set scored apart from the OOD sets):
  // its rows are pooled, so its scorer must be the others'.
  std::optional<ScoreStamp> whole_run;
};

// What two score files of different runs look like, for the messages that refuse to pool them.
constexpr const char* kSeparateRuns =
    ": these look like two separate runs, not shards of one run; report each with its own "
    "`oodscore metrics` (pooling them would report neither)";

// The same file named twice (links resolved) would count its rows twice.
void RefuseRepeatedFiles(const std::vector<std::filesystem::path>& files) {
  for (std::size_t i = 0; i < files.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      std::error_code ec;
      if (std::filesystem::equivalent(files[i], files[j], ec) && !ec) {
        throw Error("'" + files[i].string() + "' is given twice (also as '" + files[j].string() +
                    "'): its rows would count twice");
      }
    }
  }
}

// A sample (set and path) in two files: shards of one run never share one.
void RefuseRepeatedSamples(const ScoreTable& table, const std::vector<std::size_t>& file_ends,
                           const std::vector<std::filesystem::path>& files) {
  if (files.size() < 2 || !table.keeps_paths()) return;
  std::unordered_map<std::string, std::size_t> first_file;
  std::size_t file = 0;
  for (std::size_t r = 0; r < table.size(); ++r) {
    while (r >= file_ends[file]) ++file;
    std::string key(table.set(r));
    key += '\0';
    key += table.path(r);
    const auto [it, added] = first_file.emplace(std::move(key), file);
    if (!added && it->second != file) {
      throw Error("'" + std::string(table.path(r)) + "' of set '" + std::string(table.set(r)) +
                  "' is in both '" + files[it->second].string() + "' and '" + files[file].string() +
                  "'" + kSeparateRuns);
    }
  }
}

// Whole runs pooled must have one scorer: the same model, preset and score settings.
void RefuseDifferentScorers(const std::vector<ShardFile>& files) {
  const ShardFile* first = nullptr;
  for (const ShardFile& f : files) {
    if (!f.whole_run) continue;
    if (first == nullptr) {
      first = &f;
      continue;
    }
    const nlohmann::json a = first->whole_run->ToJson(true), b = f.whole_run->ToJson(true);
    for (const char* key : {"model_sha256", "preset", "temperatures", "odin", "columns", "fit"}) {
      const auto fit_sha = [](const nlohmann::json& fit) {
        return fit.is_object() ? fit.value("sha256", nlohmann::json()) : nlohmann::json();
      };
      const bool same =
          std::string(key) == "fit" ? fit_sha(a[key]) == fit_sha(b[key]) : a[key] == b[key];
      if (!same) {
        throw Error("'" + f.csv.string() + "' was scored with another " + key + " than '" +
                    first->csv.string() + "' (" + DumpJson(b[key], -1).substr(0, 80) + ", not " +
                    DumpJson(a[key], -1).substr(0, 80) + ")" + kSeparateRuns);
      }
    }
  }
}

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

// A score file and its stamp, if it has one. A lone plain run (no "shard") that is complete
// counts as shard 0 of 1; a lone stopped run, or a stamp from before per-set counts, is read
// without its stamp.
ShardFile ReadShardFile(const std::filesystem::path& csv, bool lone,
                        std::vector<std::string>* warnings) {
  ShardFile f;
  f.csv = csv;
  const std::string stamp_path = StampPath(csv.string());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(stamp_path, ec)) return f;
  const nlohmann::json j = ParseJsonText(ReadFile(stamp_path), stamp_path);
  if (!j.is_object() || !j.contains("kind") || j.at("kind") != "oodscore-score-stamp") return f;
  ScoreStamp stamp = ScoreStamp::FromJson(j, stamp_path);
  // The rows must be the bytes the run wrote: checked before anything else reads them.
  if (!VerifyCsvDigest(csv.string(), stamp)) warnings->push_back(UnverifiedWarning(csv.string()));
  if (!stamp.shard) {
    if (!lone && !stamp.complete) {  // pooled, its missing rows would go unnoticed
      throw Error("'" + csv.string() + "' is from a stopped run (its stamp '" + stamp_path +
                  "' does not record a complete run) and is given with other score files; finish "
                  "it with `oodscore score --resume -o '" +
                  csv.string() + "'` and the run's other options");
    }
    if (!lone) {
      f.whole_run = std::move(stamp);
      return f;
    }
    if (!stamp.complete) {
      f.stopped = true;
      warnings->push_back("'" + csv.string() + "' is from a stopped run: its stamp '" + stamp_path +
                          "' does not record a complete run, so the report covers only the rows "
                          "it holds; finish it with `oodscore score --resume -o '" +
                          csv.string() + "'` and the run's other options");
      return f;
    }
    if (!stamp.has_counts) {
      warnings->push_back("'" + stamp_path +
                          "' does not record the run's counts (an earlier release wrote it); "
                          "the rows are read without them");
      return f;
    }
    stamp.shard = StampShard{0, 1, 0, stamp.TotalFound()};  // a plain run is its own shard
  }
  f.index = stamp.shard->index;
  f.count = stamp.shard->count;
  f.stamp = std::move(stamp);
  return f;
}

// Every shard 0..N-1 once, in order (the files are sorted by index).
void CheckShardIndexes(const std::vector<ShardFile>& files) {
  const std::size_t count = files.front().count;
  std::vector<std::size_t> missing;
  std::size_t k = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (i > 0 && files[i].index == files[i - 1].index) {
      throw Error("shard " + std::to_string(files[i].index) + " is given twice: '" +
                  files[i - 1].csv.string() + "' and '" + files[i].csv.string() + "'");
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (k < files.size() && files[k].index == i) {
      ++k;
    } else {
      missing.push_back(i);
    }
  }
  if (missing.empty()) return;
  std::string list;
  for (std::size_t i = 0; i < missing.size() && i < 10; ++i)
    list += (i ? ", " : "") + std::to_string(missing[i]);
  if (missing.size() > 10) list += ", ...";
  throw Error("shard(s) " + list + " of " + std::to_string(count) +
              " missing: every shard of the run must be given to merge it");
}

// Consecutive sample ranges, from 0 to every sample found: no sample twice, none left out.
void CheckShardRanges(const std::vector<ShardFile>& files) {
  std::size_t next = 0;
  const std::size_t total = files.front().stamp->TotalFound();
  for (const ShardFile& f : files) {
    const std::size_t b = f.stamp->shard->begin, e = f.stamp->shard->end;
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

// Checks that the stamped files are one complete run and puts them in shard order.
void CheckShards(std::vector<ShardFile>* files) {
  const ShardFile& first = files->front();
  const nlohmann::json first_run = first.stamp->ToJson();
  for (const ShardFile& f : *files) {
    if (!f.stamp->complete) {
      throw Error("shard " + Label(f) +
                  " is not complete: its run stopped early; rerun that "
                  "shard with --resume");
    }
    if (f.count != first.count) {
      throw Error("shard " + Label(f) + " belongs to a run of " + std::to_string(f.count) +
                  " shards, but " + Label(first) + " to one of " + std::to_string(first.count));
    }
    if (const auto d = FirstDifference(first_run, f.stamp->ToJson(), PerShardKeys())) {
      throw Error("shard " + Label(f) + " is from another run than " + Label(first) + ": its " +
                  d->key + " is " + d->theirs + ", not " + d->mine + kSeparateRuns);
    }
  }
  std::sort(files->begin(), files->end(),
            [](const ShardFile& a, const ShardFile& b) { return a.index < b.index; });
  CheckShardIndexes(*files);
  CheckShardRanges(*files);
}

// The stamp's per-set counts against themselves (scored + skipped = found) and against the
// file's rows (table rows from `first` on): the report shows these counts.
void CheckSetCounts(const ShardFile& f, const ScoreTable& table, std::size_t first) {
  const std::string stamp_path = StampPath(f.csv.string());
  std::map<std::string, std::size_t> rows;
  for (std::size_t r = first; r < table.size(); ++r) ++rows[std::string(table.set(r))];
  for (const StampSet& s : f.stamp->sets) {
    const SetCounts& c = s.counts;
    if (c.scored > c.found || c.scored + c.skipped != c.found) {
      throw Error("stamp '" + stamp_path + "' records set '" + c.name + "' with " +
                  std::to_string(c.scored) + " scored and " + std::to_string(c.skipped) +
                  " skipped of " + std::to_string(c.found) +
                  " found, which cannot be: the stamp was changed after the run");
    }
    const auto it = rows.find(c.name);
    const std::size_t n = it == rows.end() ? 0 : it->second;
    if (n != c.scored) {
      throw Error("'" + f.csv.string() + "' holds " + std::to_string(n) + " rows of set '" +
                  c.name + "', but its stamp '" + stamp_path + "' records " +
                  std::to_string(c.scored) +
                  " scored: the file or the stamp was changed after the run");
    }
    if (it != rows.end()) rows.erase(it);
  }
  if (!rows.empty()) {
    throw Error("'" + f.csv.string() + "' holds " + std::to_string(rows.begin()->second) +
                " rows of set '" + rows.begin()->first + "', which its stamp '" + stamp_path +
                "' does not list: the file was changed after the run");
  }
}

// Adds a shard's per-set counts and skipped files to the merged ones.
void AddShardCounts(const ShardFile& f, const std::map<std::string, std::size_t>& set_index,
                    MergedScores* merged) {
  for (const StampSet& s : f.stamp->sets) {
    const auto it = set_index.find(s.counts.name);
    if (it == set_index.end()) {
      throw Error("shard " + Label(f) + " has a set '" + s.counts.name +
                  "' that is not among the run's inputs");
    }
    SetCounts& c = merged->sets[it->second];
    c.found += s.counts.found;
    c.scored += s.counts.scored;
    c.skipped += s.counts.skipped;
    merged->skipped.insert(merged->skipped.end(), s.skipped.begin(), s.skipped.end());
  }
}

// The run's fields of the first shard, with one count per input set.
void StartMerge(const std::vector<ShardFile>& files, MergedScores* merged,
                std::map<std::string, std::size_t>* set_index) {
  const ScoreStamp& first = *files.front().stamp;
  merged->model_path = first.model_path;
  for (const ShardFile& f : files) {
    merged->num_classes = std::max(merged->num_classes, f.stamp->num_classes);
  }
  merged->stamp = first;  // the run's fields; the per-shard ones cleared
  merged->stamp.shard.reset();
  merged->stamp.model_path.clear();
  merged->stamp.complete = false;
  merged->stamp.has_counts = false;
  merged->stamp.num_classes = 0;
  merged->stamp.rows = 0;
  merged->stamp.sets.clear();
  for (const StampInput& in : first.inputs) {
    (*set_index)[in.name] = merged->sets.size();
    merged->sets.push_back(SetCounts{in.name, 0, 0, 0, {}});
  }
}

}  // namespace

MergedScores ReadMergedScores(const std::vector<std::filesystem::path>& args, bool keep_paths) {
  std::vector<ShardFile> files;
  MergedScores merged;
  const std::vector<std::filesystem::path> paths = ExpandFolders(args);
  RefuseRepeatedFiles(paths);
  for (const auto& p : paths) {
    files.push_back(ReadShardFile(p, /*lone=*/paths.size() == 1, &merged.warnings));
    if (files.back().stopped) merged.stopped = p.string();
  }
  if (files.empty()) throw UsageError("no score files given");
  RefuseDifferentScorers(files);
  const auto stamped = std::count_if(files.begin(), files.end(),
                                     [](const ShardFile& f) { return f.stamp.has_value(); });
  if (stamped > 0 && stamped < static_cast<long>(files.size())) {
    const auto odd =
        std::find_if(files.begin(), files.end(), [](const ShardFile& f) { return !f.stamp; });
    throw Error("'" + odd->csv.string() + "' has no shard stamp ('" + StampPath(odd->csv.string()) +
                "'), but other files do: shard files must all come from one `score --shard` run");
  }
  merged.stamped = stamped > 0;
  std::map<std::string, std::size_t> set_index;
  if (merged.stamped) {
    CheckShards(&files);
    StartMerge(files, &merged, &set_index);
  }
  std::vector<std::size_t> file_ends;
  for (const ShardFile& f : files) {
    const std::size_t before = merged.table.size();
    // Paths, when files are pooled: a sample in two of them is refused.
    AppendScoreFile(f.csv, {/*keep_paths=*/keep_paths || files.size() > 1}, &merged.table);
    merged.files.push_back(f.csv);
    file_ends.push_back(merged.table.size());
    if (!merged.stamped) continue;
    const std::size_t rows = merged.table.size() - before;
    if (f.stamp->has_counts && f.stamp->rows != rows) {
      throw Error("shard " + Label(f) + " has " + std::to_string(rows) +
                  " rows, but its stamp says " + std::to_string(f.stamp->rows) +
                  ": the file was changed or cut after the run");
    }
    if (f.stamp->has_counts) CheckSetCounts(f, merged.table, before);
    AddShardCounts(f, set_index, &merged);
  }
  // Shards are checked by their ranges (a list may name one image twice, across a boundary).
  if (!merged.stamped) RefuseRepeatedSamples(merged.table, file_ends, merged.files);
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
