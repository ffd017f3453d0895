// Where samples come from: image folders (torchvision ImageFolder semantics), text file
// lists, and .npy tensors of already-preprocessed inputs.
#ifndef OODSCORE_DATASET_H_
#define OODSCORE_DATASET_H_

#include <chrono>
#include <filesystem>
#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace oodscore {

class NpyArray;

// One sample to score.
struct Sample {
  std::string path;                     // file path, or "<file>#<index>" for a .npy row
  std::string label;                    // class index as text, or "" when unknown
  std::shared_ptr<const NpyArray> npy;  // set for .npy rows
  std::size_t npy_index = 0;
};

struct SampleSet {
  std::string name;
  std::vector<Sample> samples;
  std::vector<std::string> classes;   // folder classes in label order (ImageFolder); may be empty
  std::vector<std::string> warnings;  // things the caller should log (files ignored, ...)
  std::size_t offset = 0;     // index of samples[0] in the whole set (a shard holds a slice)
  bool logits = false;        // a 2-D .npy: each sample is a row of logits, not an image
  std::string source;         // what ListInput listed: the folder, list file or .npy
  std::string labels_source;  // a .npy's labels file (FILE.labels.npy), when read
};

// True for the extensions torchvision's ImageFolder accepts (case-insensitive):
// .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp
bool HasImageExtension(const std::filesystem::path& path);

// How a folder's images become samples.
//   kClasses: torchvision's ImageFolder: classes = sorted subfolder names (byte order),
//             label = class index, files found recursively and sorted; images directly in
//             the folder are ignored (with a warning), as ImageFolder ignores them.
//   kFlat:    every image below the folder, recursively, in the same order; no labels.
//   kAuto:    kClasses when only subfolders hold images, kFlat (the folder's own images)
//             when only the folder does; both is an error naming the counts and --layout,
//             since picking one would silently drop the other.
enum class Layout { kAuto, kClasses, kFlat };

// Parses "auto", "classes" or "flat". Throws UsageError.
Layout ParseLayout(const std::string& text);

// Folders a folder's listing leaves out, with everything below them: score's --move-flagged
// folder inside the upload folder it empties, whose files must not be scored again. Matched
// as the same folder (std::filesystem::equivalent), however the path is spelled; a folder
// that does not exist matches nothing.
using SkipFolders = std::vector<std::filesystem::path>;

// Throws oodscore::Error for a missing folder, one without images, or (kClasses, as
// ImageFolder does) a class folder without images. Folders in `skip` are not entered, and
// are no class.
SampleSet ListFolder(const std::filesystem::path& dir, const std::string& name,
                     Layout layout = Layout::kAuto, const SkipFolders& skip = {});

// A text file (or "-" for stdin): one path per line, optional label after a tab or comma;
// relative paths are relative to the list's folder. Blank lines and '#' comments skipped.
// Labels are integers and are stored in canonical form ("007" -> "7").
// nul_separated: entries end with a NUL byte instead (find -print0, --flagged), each a path
// as it is (newlines, tabs and commas included), with no labels or comments.
SampleSet ListFile(const std::string& path, const std::string& name, bool nul_separated = false);

// The same from a stream: `path` names it in messages, relative paths are resolved against
// `base` (none when empty).
SampleSet ParseList(std::istream& in, const std::string& path, const std::filesystem::path& base,
                    const std::string& name, bool nul_separated = false);

// A list read as it arrives (`score -i -` from a pipe): a thread reads the entries of the file
// descriptor fd (lines, or NUL-ended paths with nul_separated, as ParseList reads them;
// relative paths stay relative) while the caller takes them in chunks. `path` names the list in
// messages ("-").
class ListStream {
 public:
  // How long the input must pause before the entries waiting are handed over short of a
  // batch, and the longest the first of them waits for a batch to fill while more arrive.
  static constexpr std::chrono::milliseconds kPause{5}, kMaxWait{50};

  ListStream(int fd, const std::string& path, bool nul_separated = false);
  // Stops the reader, whether or not the input has ended; fd stays open.
  ~ListStream();
  ListStream(const ListStream&) = delete;
  ListStream& operator=(const ListStream&) = delete;

  // Blocks until entries are waiting, then moves every one of them into *chunk (replacing what
  // it held) once `batch` are waiting, the input has ended, it paused for kPause, or the first
  // has waited kMaxWait. Returns false at the end of the input, every entry taken (none, for an
  // input that names no files: see listed()). Throws oodscore::Error, after the entries before
  // it were taken, for an entry ParseList refuses or a read error.
  bool Next(std::size_t batch, std::vector<Sample>* chunk);
  // Entries read so far.
  std::size_t listed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Dispatches on what the path is: folder, .npy file, one image (an image extension), or list
// file (whose lines must not hold NUL bytes, unless nul_separated). `skip` applies to a folder.
SampleSet ListInput(const std::string& path, const std::string& name, Layout layout = Layout::kAuto,
                    bool nul_separated = false, const SkipFolders& skip = {});

}  // namespace oodscore

#endif  // OODSCORE_DATASET_H_
