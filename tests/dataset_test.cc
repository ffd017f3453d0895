#include "oodscore/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "oodscore/error.h"
#include "oodscore/npy.h"
#include "test_util.h"

namespace oodscore {
namespace {

using testing::TempDir;
using testing::WriteText;

std::vector<std::string> Relative(const SampleSet& set, const std::filesystem::path& base) {
  std::vector<std::string> out;
  for (const auto& s : set.samples) {
    out.push_back(std::filesystem::path(s.path).lexically_relative(base).string() + ":" + s.label);
  }
  return out;
}

TEST(DatasetTest, ClassFoldersFollowImageFolderOrder) {
  TempDir tmp;
  for (const char* f :
       {"b/2.png", "b/10.png", "a/x/1.JPG", "a/0.jpeg", "a/notes.txt", "a.x/3.png", "a/z.webp"}) {
    WriteText(tmp / f, "x");
  }
  WriteText(tmp / "top.png", "x");  // ignored: ImageFolder ignores files beside class folders
  SampleSet set = ListFolder(tmp.path(), "id", Layout::kClasses);
  EXPECT_EQ(set.classes, (std::vector<std::string>{"a", "a.x", "b"}));
  ASSERT_EQ(set.warnings.size(), 1u);  // top.png is ignored, and said so
  // sorted(os.walk()) visits "a" before "a/x"; names sort as bytes ("10" < "2").
  EXPECT_EQ(Relative(set, tmp.path()),
            (std::vector<std::string>{"a/0.jpeg:0", "a/z.webp:0", "a/x/1.JPG:0", "a.x/3.png:1",
                                      "b/10.png:2", "b/2.png:2"}));
}

// score --move-flagged uploads/q: the quarantine inside the input is no class and no image,
// however its path is spelled; a skip folder that does not exist changes nothing.
TEST(DatasetTest, SkipFoldersAreLeftOutOfBothLayouts) {
  TempDir tmp;
  for (const char* f : {"up/a/1.png", "up/b/2.png", "up/q/a/1.png", "up/q/3.png"}) {
    WriteText(tmp / f, "x");
  }
  const SkipFolders skip = {tmp / "up/./q/", tmp / "nowhere"};
  SampleSet set = ListFolder(tmp / "up", "s", Layout::kClasses, skip);
  EXPECT_EQ(set.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Relative(set, tmp / "up"), (std::vector<std::string>{"a/1.png:0", "b/2.png:1"}));
  set = ListInput(tmp / "up", "s", Layout::kFlat, false, skip);
  EXPECT_EQ(Relative(set, tmp / "up"), (std::vector<std::string>{"a/1.png:", "b/2.png:"}));
  set = ListFolder(tmp / "up", "s", Layout::kAuto, skip);
  EXPECT_EQ(set.classes, (std::vector<std::string>{"a", "b"}));
  // A skip folder deeper down (up/a/q) is left out too.
  WriteText(tmp / "up/a/q/4.png", "x");
  set = ListFolder(tmp / "up", "s", Layout::kFlat, {tmp / "up/a/q", tmp / "up/q"});
  EXPECT_EQ(set.samples.size(), 2u);
  set = ListFolder(tmp / "up", "s", Layout::kFlat);
  EXPECT_EQ(set.samples.size(), 5u);
}

TEST(DatasetTest, ImagesBesideClassFoldersNeedALayout) {
  TempDir tmp;
  for (const char* f : {"a/1.png", "a/2.png", "b/3.png", "top.png", "flagged/4.png"}) {
    WriteText(tmp / f, "x");
  }
  try {
    ListFolder(tmp.path(), "x");
    FAIL() << "auto must not pick one and drop the other";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "folder '" + tmp.path().string() +
                  "' holds 1 image directly and 4 images in 3 subfolders; say which you mean: "
                  "--layout classes (subfolders are classes, the folder's own images are "
                  "ignored, as torchvision's ImageFolder does) or --layout flat (every image "
                  "below the folder, no labels)");
  }
  SampleSet flat = ListFolder(tmp.path(), "x", Layout::kFlat);
  EXPECT_TRUE(flat.classes.empty());
  EXPECT_EQ(
      Relative(flat, tmp.path()),
      (std::vector<std::string>{"top.png:", "a/1.png:", "a/2.png:", "b/3.png:", "flagged/4.png:"}));
  EXPECT_EQ(ListFolder(tmp.path(), "x", Layout::kClasses).samples.size(), 4u);
  EXPECT_EQ(ParseLayout("flat"), Layout::kFlat);
  EXPECT_THROW(ParseLayout("flt"), UsageError);
}

TEST(DatasetTest, ListLabelsAreCanonicalIntegers) {
  TempDir tmp;
  WriteText(tmp / "list.txt", "a.png\t00\nb.png,01\nc.png,010\n");
  SampleSet set = ListFile(tmp / "list.txt", "x");
  ASSERT_EQ(set.samples.size(), 3u);
  EXPECT_EQ(set.samples[0].label, "0");
  EXPECT_EQ(set.samples[1].label, "1");
  EXPECT_EQ(set.samples[2].label, "10");
}

TEST(DatasetTest, EmptyClassFolderIsAnErrorAsInImageFolder) {
  TempDir tmp;
  WriteText(tmp / "a/1.png", "x");
  std::filesystem::create_directories(tmp.path() / "b");
  try {
    ListFolder(tmp.path(), "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "class folder 'b' in '" + tmp.path().string() +
                  "' holds no images (torchvision's ImageFolder refuses this "
                  "too; remove it)");
  }
}

TEST(DatasetTest, FlatFolderHasEmptyLabels) {
  TempDir tmp;
  WriteText(tmp / "b.png", "x");
  WriteText(tmp / "a.bmp", "x");
  WriteText(tmp / "readme.md", "x");
  SampleSet set = ListFolder(tmp.path(), "flat");
  EXPECT_TRUE(set.classes.empty());
  EXPECT_EQ(Relative(set, tmp.path()), (std::vector<std::string>{"a.bmp:", "b.png:"}));
}

TEST(DatasetTest, FolderWithoutImagesIsAnError) {
  TempDir tmp;
  WriteText(tmp / "readme.md", "x");
  try {
    ListFolder(tmp.path(), "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "input folder '" + tmp.path().string() +
                  "' holds no images (.jpg .jpeg .png .ppm .bmp .pgm .webp)");
  }
  EXPECT_THROW(ListFolder(tmp / "missing", "x"), Error);
}

TEST(DatasetTest, ListFilesResolveRelativePathsAndLabels) {
  TempDir tmp;
  WriteText(tmp / "list.txt", "# comment\nimg/a.png\t3\n/abs/b.png\n\nc.png,1\r\n");
  SampleSet set = ListFile(tmp / "list.txt", "l");
  ASSERT_EQ(set.samples.size(), 3u);
  EXPECT_EQ(set.samples[0].path, tmp / "img/a.png");
  EXPECT_EQ(set.samples[0].label, "3");
  EXPECT_EQ(set.samples[1].path, "/abs/b.png");
  EXPECT_EQ(set.samples[1].label, "");
  EXPECT_EQ(set.samples[2].label, "1");
  WriteText(tmp / "bad.txt", "a.png\tcat\n");
  try {
    ListFile(tmp / "bad.txt", "l");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "list file '" + (tmp / "bad.txt") +
                  "' line 1: expected PATH or PATH<tab>LABEL with an integer "
                  "label, got label 'cat'");
  }
}

TEST(DatasetTest, NpyRowsAreNamedByIndex) {
  TempDir tmp;
  std::vector<float> data(2 * 1 * 2 * 3);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = 0.5f * i;
  WriteNpy(tmp / "x.npy", {2, 1, 2, 3}, data.data());
  SampleSet set = ListInput(tmp / "x.npy", "x");
  ASSERT_EQ(set.samples.size(), 2u);
  EXPECT_EQ(set.samples[1].path, tmp / "x.npy" + "#1");
  EXPECT_EQ(set.samples[1].npy->row(1)[0], 3.0f);
  EXPECT_EQ(set.samples[1].npy->row_floats(), 6u);
}

TEST(DatasetTest, NpyOfTheWrongDtypeOrShapeIsRejected) {
  TempDir tmp;
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1), }";
  // float64 is for logits [N, K]; images are float32.
  WriteText(tmp / "f8.npy", std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' +
                                header + std::string(8, '\0'));
  try {
    NpyArray::Open(tmp / "f8.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "npy file '" + (tmp / "f8.npy") +
                                         "': dtype '<f8' for images [N, C, H, W], expected '<f4' "
                                         "(little-endian float32)");
  }
  float v[3] = {1, 2, 3};
  WriteNpy(tmp / "3d.npy", {1, 3, 1}, v);
  try {
    NpyArray::Open(tmp / "3d.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "npy file '" + (tmp / "3d.npy") +
                  "': shape (1, 3, 1), expected 4 dimensions [N, C, H, W] (images) or 2 [N, K] "
                  "(logits)");
  }
  // 2-D is logits.
  WriteNpy(tmp / "2d.npy", {1, 3}, v);
  EXPECT_TRUE(NpyArray::Open(tmp / "2d.npy")->logits());
}

// Entries read from a pipe as ParseList reads them, handed over while the pipe is open; a
// refused entry is thrown once the entries before it are taken.
TEST(DatasetTest, ListStreamHandsOverEntriesAsTheyArrive) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ListStream stream(fds[0], "-");
  const std::string first = "a.png\n# a comment\n\nb.png\t007\n";
  ASSERT_EQ(::write(fds[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  std::vector<Sample> got, chunk;
  while (got.size() < 2 && stream.Next(64, &chunk))
    got.insert(got.end(), chunk.begin(), chunk.end());
  ASSERT_EQ(got.size(), 2u);  // before the pipe is closed
  EXPECT_EQ(got[0].path, "a.png");
  EXPECT_EQ(got[1].path, "b.png");
  EXPECT_EQ(got[1].label, "7");
  const std::string rest = "c.png\nd.png,x\ne.png\n";
  ASSERT_EQ(::write(fds[1], rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  ::close(fds[1]);
  ASSERT_TRUE(stream.Next(64, &chunk));
  ASSERT_EQ(chunk.size(), 1u);
  EXPECT_EQ(chunk[0].path, "c.png");
  try {
    stream.Next(64, &chunk);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 6: expected PATH or PATH<tab>LABEL"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(stream.listed(), 3u);
  ::close(fds[0]);
}

// --null entries, the last one without its NUL; an input that names nothing ends at once.
TEST(DatasetTest, ListStreamReadsNulSeparatedPathsToTheEnd) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    ListStream stream(fds[0], "-", /*nul_separated=*/true);
    const char raw[] = "new\nline.png\0\0x,1.png";
    const std::string text(raw, sizeof(raw) - 1);
    ASSERT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fds[1]);
    std::vector<Sample> got, chunk;
    while (stream.Next(1, &chunk)) got.insert(got.end(), chunk.begin(), chunk.end());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].path, "new\nline.png");
    EXPECT_EQ(got[1].path, "x,1.png");
  }
  ::close(fds[0]);
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  ListStream empty(fds[0], "-");
  std::vector<Sample> chunk;
  EXPECT_FALSE(empty.Next(64, &chunk));
  EXPECT_EQ(empty.listed(), 0u);
  ::close(fds[0]);
}

}  // namespace
}  // namespace oodscore
