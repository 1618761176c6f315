"""Environment for Debian's PyTorch on a shared 2-core VM; import this before torch.

* OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning, so a training run
  is not slowed ~10x by any other busy process.
* OPENBLAS_CORETYPE: Debian's OpenBLAS misdetects some VMs' CPUs (e.g. as Prescott, with
  slow kernels); the core is named from /proc/cpuinfo unless already set.
Torch's matrix multiplies go through the system BLAS: install libopenblas0-pthread, or Debian
falls back to the reference BLAS and the DiT trains ~20x slower (measured: ~20 s vs ~1 s a step).
"""
import os


def prepare():
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "OPENBLAS_CORETYPE" not in os.environ:
        try:
            with open("/proc/cpuinfo") as f:
                flags = f.read()
        except OSError:
            return
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX" if "avx512f" in flags else "Haswell"
