// What a file given as --model is when it is not a TorchScript archive: read from its first
// bytes (and a zip's directory), without LibTorch, so that a state_dict, a fit file or a CSV
// is named as what it is instead of LibTorch's "PytorchStreamReader failed ..." text.
#ifndef OODSCORE_SRC_MODEL_MODEL_FILE_H_
#define OODSCORE_SRC_MODEL_MODEL_FILE_H_

#include <filesystem>
#include <string>

namespace oodscore {

// "" for a TorchScript archive (a zip holding code/ or constants.pkl) and for what cannot be
// told (a file that cannot be read: loading it says why); else why it is not a model, with
// what to do: "is a torch.save() pickle (a state_dict or a whole nn.Module), not TorchScript:
// export it with torch.jit.script(model).save(...)", "is an oodscore fit file: give it to
// --fit", "is a detector card: give it to --card", "is a text file", "is empty".
std::string NotTorchScriptReason(const std::filesystem::path& path);

}  // namespace oodscore

#endif  // OODSCORE_SRC_MODEL_MODEL_FILE_H_
