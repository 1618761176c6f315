// Linked into the prebuilt addon only (WORLDCAST_PREBUILD). The static libstdc++ of GCC 12
// references arc4random (std::random_device, pulled in by its COW-string instantiations),
// which glibc has only from 2.36; the engine never uses it. This private definition, over
// getrandom(2) (glibc 2.25), satisfies that reference inside the binary, so the prebuilt
// addon loads on glibc >= 2.34 (Ubuntu 22.04, RHEL 9, Amazon Linux 2023) and not only 2.36.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v = 0;
  unsigned char* p = reinterpret_cast<unsigned char*>(&v);
  size_t got = 0;
  while (got < sizeof v) {
    const ssize_t n = getrandom(p + got, sizeof v - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
    else if (n < 0 && errno != EINTR) break;  // not reached on Linux >= 3.17
  }
  return v;
}
