// libFuzzer harness: the safetensors header parser on arbitrary bytes. A malformed file
// must be a wc::Error (kind Weights); anything else escaping, or any ASan/UBSan report,
// is a crash. For a file that parses, every tensor view must lie inside the image and
// agree with its dtype and shape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<wc::SafeTensors> st;
  try {
    st = wc::SafeTensors::from_bytes(data, size, "<fuzz>");
  } catch (const wc::Error& e) {
    if (e.kind() != wc::ErrorKind::Weights) std::abort();  // a bad file is a WEIGHTS error
    return 0;
  }
  for (const wc::TensorInfo& t : st->tensors()) {
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) std::abort();
      numel *= d;
    }
    if (numel != t.numel) std::abort();
    if (t.nbytes && !t.data) std::abort();
    // The views point into the parser's own copy of the image: ASan checks that every
    // byte a view claims is inside it.
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < t.nbytes; ++i) sink = sink ^ t.data[i];
    (void)sink;
    if (st->find(t.name) == nullptr) std::abort();
  }
  return 0;
}
