#include "oodscore/npy.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "base/user_file.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

// Value of 'key' in the header dict, e.g. "'<f4'" or "(10, 3, 32, 32)".
std::string HeaderValue(const std::string& header, const std::string& key) {
  std::size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  std::size_t colon = header.find(':', k);
  if (colon == std::string::npos) return "";
  std::size_t b = header.find_first_not_of(' ', colon + 1);
  if (b == std::string::npos) return "";
  std::size_t e = header[b] == '(' ? header.find(')', b) : header.find_first_of(",}", b);
  if (e == std::string::npos) return "";
  if (header[b] == '(') ++e;
  return header.substr(b, e - b);
}

}  // namespace

namespace {

// What a header may hold: the arrays that NpyArray maps (float32 images [N, C, H, W], float32
// or float64 logits [N, K]), or labels (int64 or int32 [N]).
enum class NpyKind { kArrays, kLabels };

NpyLayout ParseHeader(const unsigned char* bytes, std::size_t size, const std::string& where,
                      NpyKind kind) {
  NpyLayout out;
  if (size < 10 || std::memcmp(bytes, "\x93NUMPY", 6) != 0)
    throw Error(where + ": not a .npy file (bad magic)");
  const int major = bytes[6];
  std::size_t header_len, offset;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(where + ": truncated header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (std::size_t(bytes[11]) << 24);
    offset = 12;
  } else {
    throw Error(where + ": unsupported .npy version " + std::to_string(major));
  }
  if (offset + header_len > size) throw Error(where + ": truncated header");
  const std::string header(reinterpret_cast<const char*>(bytes + offset), header_len);
  const std::string descr = HeaderValue(header, "descr");
  if (kind == NpyKind::kLabels) {
    if (descr == "'<i8'" || descr == "'int64'") {
      out.item_size = 8;
    } else if (descr == "'<i4'" || descr == "'int32'") {
      out.item_size = 4;
    } else {
      throw Error(where + ": dtype " + descr + ", expected '<i8' or '<i4' (class indices)");
    }
  } else if (descr == "'<f8'" || descr == "'float64'") {
    out.item_size = 8;
  } else if (descr != "'<f4'" && descr != "'float32'") {
    throw Error(where + ": dtype " + descr +
                ", expected '<f4' (little-endian float32; logits may also be '<f8')");
  }
  if (HeaderValue(header, "fortran_order") != "False") {
    throw Error(where + ": fortran_order True, expected C order");
  }
  std::string shape = HeaderValue(header, "shape");
  if (shape.size() < 2) throw Error(where + ": no shape in header");
  shape = shape.substr(1, shape.size() - 2);
  std::size_t pos = 0;
  while (pos < shape.size()) {
    std::size_t comma = shape.find(',', pos);
    std::string dim =
        shape.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    std::size_t b = dim.find_first_not_of(' ');
    if (b != std::string::npos) {
      std::size_t used = 0;
      long long v = -1;
      const std::string text = dim.substr(b, dim.find_last_not_of(' ') - b + 1);
      try {
        v = std::stoll(text, &used);
      } catch (const std::exception&) {
      }
      if (v < 0 || used != text.size()) throw Error(where + ": bad shape (" + shape + ")");
      out.shape.push_back(v);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::size_t dims = out.shape.size();
  if (kind == NpyKind::kLabels && dims != 1) {
    throw Error(where + ": shape (" + shape + "), expected 1 dimension [N] of class indices");
  }
  if (kind == NpyKind::kArrays && dims != 4 && dims != 2) {
    throw Error(where + ": shape (" + shape +
                "), expected 4 dimensions [N, C, H, W] (images) or 2 [N, K] (logits)");
  }
  if (kind == NpyKind::kArrays && dims == 4 && out.item_size != 4) {
    throw Error(where + ": dtype " + descr +
                " for images [N, C, H, W], expected '<f4' "
                "(little-endian float32)");
  }
  for (std::size_t d = 1; d < dims; ++d) {
    if (out.shape[d] == 0) {
      throw Error(where + ": shape (" + shape + ") has a zero-sized dimension; each row needs " +
                  (dims == 4 ? "C, H and W > 0" : "K > 0"));
    }
  }
  // Sizes come from the file: multiply without overflow, and check them against the bytes
  // the file holds before anything relies on them.
  std::size_t row_floats = 1, need = 0;
  bool overflow = false;
  for (std::size_t d = 1; d < dims; ++d) {
    overflow = overflow || __builtin_mul_overflow(
                               row_floats, static_cast<std::size_t>(out.shape[d]), &row_floats);
  }
  overflow = overflow ||
             __builtin_mul_overflow(static_cast<std::size_t>(out.shape[0]), row_floats, &need) ||
             __builtin_mul_overflow(need, out.item_size, &need);
  const std::size_t data_offset = offset + header_len;
  if (overflow) {
    throw Error(where + ": shape (" + shape +
                ") is too large for any file (its byte count "
                "overflows); the file holds " +
                std::to_string(size - data_offset) + " data bytes");
  }
  out.row_floats = row_floats;
  if (size - data_offset < need) {
    throw Error(where + ": holds " + std::to_string(size - data_offset) + " data bytes, expected " +
                std::to_string(need) + " for its shape");
  }
  out.data_offset = data_offset;
  return out;
}

}  // namespace

NpyLayout ParseNpyHeader(const unsigned char* bytes, std::size_t size, const std::string& where) {
  return ParseHeader(bytes, size, where, NpyKind::kArrays);
}

std::vector<std::int64_t> ReadNpyLabels(const std::filesystem::path& path) {
  const std::string where = "labels file '" + path.string() + "'";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + where + ": " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const NpyLayout layout = ParseHeader(data, bytes.size(), where, NpyKind::kLabels);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(layout.shape[0]));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const unsigned char* p = data + layout.data_offset + i * layout.item_size;
    if (layout.item_size == 8) {
      std::memcpy(&labels[i], p, 8);
    } else {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      labels[i] = v;
    }
    if (labels[i] < 0) {
      throw Error(where + ": label " + std::to_string(labels[i]) + " at index " +
                  std::to_string(i) + " is negative (expected class indices 0..K-1)");
    }
  }
  return labels;
}

std::shared_ptr<NpyArray> NpyArray::Open(const std::filesystem::path& path) {
  const std::string where = "npy file '" + path.string() + "'";
  // Regular files only, opened without blocking: a FIFO named like a .npy never blocks.
  const UserFile file = OpenUserFile(path);
  if (file.kind) throw Error(where + ": " + UserFileFailure(file));
  if (file.fd < 0) throw Error("cannot open " + where + ": " + UserFileFailure(file));
  const int fd = file.fd;
  const std::size_t size = file.size;
  void* map = size ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (map == MAP_FAILED) throw Error("cannot map " + where + " (empty or unreadable)");
  std::shared_ptr<NpyArray> a(new NpyArray);
  a->path_ = path.string();
  a->map_ = map;
  a->map_size_ = size;
  const auto* bytes = static_cast<const unsigned char*>(map);
  const NpyLayout layout = ParseNpyHeader(bytes, size, where);
  a->shape_ = layout.shape;
  a->row_floats_ = layout.row_floats;
  a->item_size_ = layout.item_size;
  a->data_ = reinterpret_cast<const float*>(bytes + layout.data_offset);
  return a;
}

NpyArray::~NpyArray() {
  if (map_) ::munmap(map_, map_size_);
}

void WriteNpy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
              const float* data) {
  std::string dims;
  std::size_t count = 1;
  for (auto d : shape) {
    dims += std::to_string(d) + ", ";
    count *= static_cast<std::size_t>(d);
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data),
            static_cast<std::streamsize>(count * sizeof(float)));
  if (!out) throw Error("cannot write '" + path.string() + "'");
}

}  // namespace oodscore
