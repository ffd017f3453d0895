// The sets a fit was tuned on (src/cli/tuning_sets.h).
#include "cli/tuning_sets.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/sha256.h"
#include "base/user_file.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

// SHA-256 over the sorted SHA-256s of the set's files (a .npy's rows: the file's, once).
std::string ContentSha256(const SampleSet& set) {
  std::set<std::string> files;
  for (const Sample& s : set.samples) {
    files.insert(s.npy ? set.source : s.path);
  }
  std::vector<std::string> digests;
  for (const std::string& f : files) digests.push_back(Sha256File(f));
  std::sort(digests.begin(), digests.end());
  Sha256 all;
  for (const std::string& d : digests) all.Update(d + "\n");
  return all.HexDigest();
}

}  // namespace

TuningSet DescribeTuningSet(const SampleSet& set, const std::string& role, std::int64_t scored) {
  TuningSet t;
  t.role = role;
  t.name = set.name;
  t.path = set.source;
  t.folder = ResolvedPath(set.source).string();
  t.samples = scored;
  t.content_sha256 = ContentSha256(set);
  return t;
}

std::vector<std::string> TunedOnWarnings(const std::vector<TuningSet>& tuned_on,
                                         const std::vector<SampleSet>& evaluated) {
  std::vector<std::string> out;
  if (tuned_on.empty()) return out;
  for (const SampleSet& set : evaluated) {
    const std::string folder = set.source.empty() ? "" : ResolvedPath(set.source).string();
    const TuningSet* match = nullptr;
    const char* how = "the same folder";
    for (const TuningSet& t : tuned_on) {
      if (!set.source.empty() && t.folder == folder) match = &t;
    }
    if (!match && !set.samples.empty()) {
      std::string digest;
      try {
        digest = ContentSha256(set);
      } catch (const Error& e) {
        out.push_back("cannot tell whether '" + set.name +
                      "' is a set the fit's detector settings were tuned on: " + e.what());
        continue;
      }
      how = "the same images";
      for (const TuningSet& t : tuned_on) {
        if (t.content_sha256 == digest) match = &t;
      }
    }
    if (!match) continue;
    out.push_back("'" + set.name + "' is the " + (match->role == "id" ? "ID" : "OOD") +
                  " validation set '" + match->name + "' ('" + match->path +
                  "') the fit's detector settings were tuned on (" + how +
                  "): tuned on this set: the numbers are optimistic");
  }
  return out;
}

}  // namespace oodscore
