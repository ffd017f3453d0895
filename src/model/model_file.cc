// Telling what a --model file is (src/model/model_file.h).
#include "model/model_file.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

namespace oodscore {

namespace {

constexpr char kExport[] =
    ", not a TorchScript model: export it in Python with "
    "torch.jit.script(model).save(\"model.pt\") (or torch.jit.trace(model, "
    "example_input).save(\"model.pt\")) and give that file to --model";

std::uint64_t Le(const std::string& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

std::string ReadRange(std::ifstream& in, std::uint64_t offset, std::uint64_t size) {
  std::string out(size, '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(out.data(), static_cast<std::streamsize>(size));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

// The names in a zip's central directory; empty when it cannot be read.
std::vector<std::string> ZipNames(std::ifstream& in, std::uint64_t file_size) {
  const std::uint64_t tail_size = std::min<std::uint64_t>(file_size, 22 + 65535);
  const std::string tail = ReadRange(in, file_size - tail_size, tail_size);
  if (tail.size() < 22) return {};
  std::size_t eocd = std::string::npos;
  for (std::size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (Le(tail, i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) return {};
  std::uint64_t cd_size = Le(tail, eocd + 12, 4), cd_offset = Le(tail, eocd + 16, 4);
  if ((cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) && eocd >= 20 &&
      Le(tail, eocd - 20, 4) == 0x07064b50) {  // zip64: its end record says where
    const std::string z = ReadRange(in, Le(tail, eocd - 20 + 8, 8), 56);
    if (z.size() < 56 || Le(z, 0, 4) != 0x06064b50) return {};
    cd_size = Le(z, 40, 8);
    cd_offset = Le(z, 48, 8);
  }
  if (cd_offset > file_size || cd_size > file_size - cd_offset || cd_size > (64u << 20)) return {};
  const std::string cd = ReadRange(in, cd_offset, cd_size);
  std::vector<std::string> names;
  for (std::size_t at = 0; at + 46 <= cd.size() && Le(cd, at, 4) == 0x02014b50;) {
    const std::size_t name = Le(cd, at + 28, 2), extra = Le(cd, at + 30, 2),
                      comment = Le(cd, at + 32, 2);
    if (at + 46 + name > cd.size()) break;
    names.push_back(cd.substr(at + 46, name));
    at += 46 + name + extra + comment;
  }
  return names;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::string NotTorchScriptReason(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) return "";
  if (size == 0) return "is empty";
  const std::string head = ReadRange(in, 0, std::min<std::uint64_t>(size, 4096));
  if (head.rfind("PK\x03\x04", 0) == 0) {
    const std::vector<std::string> names = ZipNames(in, size);
    bool code = false, data = false;
    for (const std::string& n : names) {
      code = code || n.find("/code/") != std::string::npos || EndsWith(n, "constants.pkl");
      data = data || EndsWith(n, "data.pkl");
    }
    if (!code && data)
      return std::string("is a torch.save() pickle (a state_dict or a whole nn.Module)") + kExport;
    if (!code && !names.empty())
      return "is a zip archive without TorchScript code (no code/ folder)" + std::string(kExport);
    return "";
  }
  const unsigned char b0 = static_cast<unsigned char>(head[0]);
  if (b0 == 0x80 && head.size() > 1 && head[1] >= 2 && head[1] <= 5) {
    return std::string(
               "is a Python pickle (torch.save()'s legacy format: a state_dict or a whole "
               "nn.Module)") +
           kExport;
  }
  if (head.rfind("OODSCORE-FIT", 0) == 0) {
    return "is an oodscore fit file (made by `oodscore fit`): give it to --fit, and the model it "
           "was made for to --model";
  }
  if (head.rfind("\x93NUMPY", 0) == 0) return "is a NumPy .npy array: give logits to -i/--id/--ood";
  // Text: JSON (a card, a report, a preset) or anything else printable.
  const bool text = std::all_of(head.begin(), head.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  });
  if (!text) return "";
  const std::size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && head[first] == '{' && size <= (16u << 20)) {
    const nlohmann::json j =
        nlohmann::json::parse(ReadRange(in, 0, size), nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      if (j.contains("score") && j.contains("threshold")) {
        return "is a detector card (made by `calibrate` or `eval`): give it to --card";
      }
      if (j.contains("ood") && j.contains("tool")) return "is an oodscore report (report.json)";
      if (j.contains("resize") || j.contains("mean")) return "is a preset: give it to --preset";
    }
    return "is a JSON file, not a TorchScript model";
  }
  return "is a text file, not a TorchScript model (a TorchScript model is a zip archive)";
}

}  // namespace oodscore
