// Small helpers shared by the tests: a temporary folder, image writers, running the binary.
#ifndef OODSCORE_TESTS_TEST_UTIL_H_
#define OODSCORE_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace oodscore::testing {

// A fresh folder under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("oodscore_" + std::to_string(::getpid()) + "_" +
             (info ? std::string(info->test_suite_name()) + "_" + info->name() : "tmp"));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A binary PGM (channels 1) or PPM (channels 3) with a deterministic pattern from seed.
inline void WritePnm(const std::string& path, int w, int h, int channels, int seed) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << (channels == 1 ? "P5" : "P6") << "\n" << w << " " << h << "\n255\n";
  std::uint32_t state = 2166136261u ^ static_cast<std::uint32_t>(seed);
  for (int i = 0; i < w * h * channels; ++i) {
    state = state * 1664525u + 1013904223u;
    const int smooth = (i * 7 + seed * 31) % 256;
    out.put(static_cast<char>((smooth + static_cast<int>(state >> 27)) & 0xff));
  }
}

// A .npy file written byte by byte: dtype descr ('<f4', '<i8', ...), the shape as Python
// writes it ("(2, 3)"), then `data_bytes` bytes of data (zeros when data is null), so that
// tests can also make files whose shape and size disagree.
inline void WriteNpyBytes(const std::string& path, const std::string& descr,
                          const std::string& shape, const void* data, std::size_t data_bytes) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(header.size() & 0xff));
  out.put(static_cast<char>(header.size() >> 8));
  out << header;
  if (data) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(data_bytes));
  } else {
    out << std::string(data_bytes, '\0');
  }
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs a shell command line, its output and errors kept in files in `tmp`; stdin is
// /dev/null unless a file is given.
inline RunResult RunShell(const std::string& command, const std::filesystem::path& tmp,
                          const std::string& stdin_path = "/dev/null") {
  const std::string out = (tmp / "stdout.txt").string(), err = (tmp / "stderr.txt").string();
  const std::string cmd = command + " >'" + out + "' 2>'" + err + "' <'" + stdin_path + "'";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadText(out);
  r.err = ReadText(err);
  return r;
}

// Runs the oodscore binary with a shell command line of arguments.
inline RunResult RunOodscore(const std::string& args, const std::filesystem::path& tmp,
                             const std::string& stdin_path = "/dev/null") {
  return RunShell(std::string("'") + OODSCORE_BINARY + "' " + args, tmp, stdin_path);
}

}  // namespace oodscore::testing

#endif  // OODSCORE_TESTS_TEST_UTIL_H_
