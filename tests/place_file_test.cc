// base/place_file.h: moves and copies that never overwrite a file.
#include "base/place_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/user_file.h"
#include "oodscore/error.h"
#include "test_util.h"

namespace oodscore {
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

TEST(PlaceFileTest, NumberedNamesGoBeforeTheLastExtension) {
  EXPECT_EQ(NumberedName("q/IMG_0001.png", 0), fs::path("q/IMG_0001.png"));
  EXPECT_EQ(NumberedName("q/IMG_0001.png", 1), fs::path("q/IMG_0001.1.png"));
  EXPECT_EQ(NumberedName("q/IMG_0001.png", 12), fs::path("q/IMG_0001.12.png"));
  EXPECT_EQ(NumberedName("a.tar.gz", 2), fs::path("a.tar.2.gz"));
  EXPECT_EQ(NumberedName("notes", 1), fs::path("notes.1"));
  EXPECT_EQ(NumberedName("d/.hidden", 1), fs::path("d/.hidden.1"));
}

// base/user_file.h: two names of one folder resolve to one path.
TEST(ResolvedPathTest, LinksDotsAndTrailingSlashesResolveToOnePath) {
  TempDir tmp;
  const fs::path real = fs::path(std::string(tmp / "real"));
  fs::create_directories(real / "sub");
  fs::create_directory_symlink(real, fs::path(std::string(tmp / "link")));
  const fs::path want = fs::canonical(real / "sub");
  EXPECT_EQ(ResolvedPath(real / "sub"), want);
  EXPECT_EQ(ResolvedPath(tmp / "link/sub/"), want);
  EXPECT_EQ(ResolvedPath(tmp / "link/./sub/../sub"), want);
  // Not there yet: absolute and normal, with or without its trailing '/'.
  EXPECT_EQ(ResolvedPath(tmp / "link/new/"), fs::canonical(real) / "new");
  EXPECT_EQ(ResolvedPath(tmp / "link/new"), fs::canonical(real) / "new");
  EXPECT_EQ(ResolvedPath("."), fs::canonical(fs::current_path()));
  EXPECT_EQ(ResolvedPath("/"), fs::path("/"));
}

TEST(PlaceFileTest, TakenNamesAreNumberedAndNeverOverwritten) {
  TempDir tmp;
  WriteText(tmp / "q/sub/x.png", "old");
  WriteText(tmp / "q/sub/x.1.png", "older");
  WriteText(tmp / "in/x.png", "new");
  const Placed placed = PlaceFile(tmp / "in/x.png", tmp / "q/sub/x.png");
  EXPECT_EQ(placed.to, fs::path(tmp / "q/sub/x.2.png"));
  EXPECT_TRUE(placed.renumbered);
  EXPECT_FALSE(placed.copied);
  EXPECT_FALSE(fs::exists(tmp / "in/x.png"));
  EXPECT_EQ(ReadText(tmp / "q/sub/x.png"), "old");
  EXPECT_EQ(ReadText(tmp / "q/sub/x.1.png"), "older");
  EXPECT_EQ(ReadText(tmp / "q/sub/x.2.png"), "new");
  // Missing folders are created.
  WriteText(tmp / "in/y.png", "y");
  EXPECT_EQ(PlaceFile(tmp / "in/y.png", tmp / "q/a/b/y.png").to, fs::path(tmp / "q/a/b/y.png"));
  EXPECT_EQ(ReadText(tmp / "q/a/b/y.png"), "y");
}

TEST(PlaceFileTest, CopiesLeaveTheSourceAndKeepItsMode) {
  TempDir tmp;
  WriteText(tmp / "in/x.png", std::string(3 << 20, 'a') + "end");  // over one buffer
  ::chmod((tmp / "in/x.png").c_str(), 0640);
  WriteText(tmp / "q/x.png", "taken");
  const Placed placed = PlaceFile(tmp / "in/x.png", tmp / "q/x.png", {PlaceMode::kCopy});
  EXPECT_EQ(placed.to, fs::path(tmp / "q/x.1.png"));
  EXPECT_TRUE(placed.copied);
  EXPECT_EQ(ReadText(tmp / "q/x.1.png"), ReadText(tmp / "in/x.png"));
  EXPECT_EQ(ReadText(tmp / "q/x.png"), "taken");
  EXPECT_EQ(fs::status(tmp / "q/x.1.png").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

// The path a rename() that fails with EXDEV takes: copy, fsync, then unlink the source.
TEST(PlaceFileTest, MovesAcrossFileSystemsCopyThenUnlink) {
  TempDir tmp;
  WriteText(tmp / "in/x.png", "bytes");
  WriteText(tmp / "q/x.png", "taken");
  PlaceOptions seam;
  seam.as_if_cross_device = true;
  const Placed placed = PlaceFile(tmp / "in/x.png", tmp / "q/x.png", seam);
  EXPECT_EQ(placed.to, fs::path(tmp / "q/x.1.png"));
  EXPECT_TRUE(placed.copied);
  EXPECT_FALSE(fs::exists(tmp / "in/x.png"));
  EXPECT_EQ(ReadText(tmp / "q/x.1.png"), "bytes");
  // A real second file system, where this machine has one (/dev/shm is often tmpfs).
  struct stat a, b;
  if (::stat("/dev/shm", &a) != 0 || ::stat(tmp.path().c_str(), &b) != 0 || a.st_dev == b.st_dev ||
      ::access("/dev/shm", W_OK) != 0) {
    GTEST_SKIP() << "/dev/shm is missing or on the temp folder's file system";
  }
  const fs::path shm = fs::path("/dev/shm") / ("oodscore_place_" + std::to_string(::getpid()));
  WriteText(shm.string(), "across");
  const Placed across = PlaceFile(shm, tmp / "q/x.png");
  EXPECT_TRUE(across.copied);
  EXPECT_EQ(across.to, fs::path(tmp / "q/x.2.png"));
  EXPECT_FALSE(fs::exists(shm));
  EXPECT_EQ(ReadText(tmp / "q/x.2.png"), "across");
  fs::remove(shm);
}

TEST(PlaceFileTest, FailuresNameTheFileAndLoseNothing) {
  TempDir tmp;
  try {
    PlaceFile(tmp / "in/missing.png", tmp / "q/missing.png");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "q/missing.png"));
  // The destination's folder is a file: the source stays.
  WriteText(tmp / "in/x.png", "x");
  WriteText(tmp / "f", "a file");
  for (const PlaceMode mode : {PlaceMode::kMove, PlaceMode::kCopy}) {
    EXPECT_THROW(PlaceFile(tmp / "in/x.png", tmp / "f/x.png", {mode}), Error);
    EXPECT_EQ(ReadText(tmp / "in/x.png"), "x");
  }
}

}  // namespace
}  // namespace oodscore
